"""Each serving process follows the shared store: new catalogue versions reach it.

A background thread looks at the store's catalogue versions every
``WENBAN_POLL_SECONDS`` (default 2 s) and, for each catalogue:

- the current build on disk is newer than the one serving → load it and swap
  (another process or replica built it; indexes shared on one machine or a
  shared folder are built once);
- the store holds content no build covers (an import on some node) → build it
  here under a lock file, so processes sharing the index folder build it once
  and the others pick it up on their next look; replicas with folders of their
  own each build from their embedding cache (a one-item change takes ~1–2 s);
- a catalogue not loaded yet → load it.

The old index answers until the new one is loaded; the database being down only
pauses the watch (``/readyz`` reports it) and it resumes by itself.

    watcher = Watcher(assistant, settings).start()   # in the app's startup
    watcher.status()   # {"store": "ok", "checked_at": …, "errors": {}}
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any

from index.build import build_index, catalogue_dir, is_fresh, read_manifest
from store import db as store
from wenban.config import Settings

log = logging.getLogger("wenban.watch")


@contextmanager
def build_lock(settings: Settings, catalogue: str):
    """An exclusive lock per catalogue on the index folder (blocks until free)."""
    path = catalogue_dir(settings, catalogue)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".build.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Watcher:
    def __init__(self, assistant, settings: Settings, interval: float | None = None) -> None:
        self.assistant, self.settings = assistant, settings
        self.interval = interval if interval is not None else settings.poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.store_ok = True
        self.checked_at: float | None = None
        self.errors: dict[str, str] = {}
        self._failed: dict[str, str] = {}  # build id → why it would not load: tried once, the old one serves

    def start(self) -> "Watcher":
        if self.interval > 0:
            self.assistant.auto_refresh = False  # this thread does the reloading now
            self._thread = threading.Thread(target=self._run, name="wenban-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def status(self) -> dict[str, Any]:
        return {"store": "ok" if self.store_ok else "unavailable", "checked_at": self.checked_at,
                "errors": dict(self.errors)}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> None:
        """One look at the store; never raises (a failure is logged and retried next time)."""
        try:
            db = store.open_db(self.settings.database)
            cats = [c["name"] for c in db.query("select name from catalogues order by name")]
        except Exception as e:  # noqa: BLE001 - store down: keep serving what is loaded
            if self.store_ok:
                log.warning("store unavailable, serving the loaded indexes: %s", e)
            self.store_ok = False
            return
        if not self.store_ok:
            log.info("store reachable again")
        self.store_ok = True
        for name in cats:
            try:
                self._follow(db, name)
                self.errors.pop(name, None)
            except Exception as e:  # noqa: BLE001 - one bad catalogue must not stop the others
                if self.errors.get(name) != str(e):
                    log.error("catalogue %s: %s", name, e)
                self.errors[name] = str(e)
        self.checked_at = time.time()

    def _serving_build(self, name: str) -> str | None:
        r = self.assistant._retrievers.get(name)
        return r.manifest["build_id"] if r else None

    def _follow(self, db, name: str) -> None:
        a = self.assistant
        if not is_fresh(self.settings, db, name, a.embedder.id):
            with build_lock(self.settings, name):
                if not is_fresh(self.settings, db, name, a.embedder.id):  # nobody built it meanwhile
                    build_index(self.settings, db, name, a.embedder, log=log.info, progress=False)
        manifest = read_manifest(self.settings, name)
        if manifest and manifest["build_id"] in self._failed:
            raise RuntimeError(self._failed[manifest["build_id"]])  # still reported, not retried
        if manifest and manifest["build_id"] != self._serving_build(name):
            try:
                a.reload(name)
            except Exception as e:
                self._failed[manifest["build_id"]] = str(e)
                raise
            log.info("catalogue %s: now serving build %s (version %s)", name, manifest["build_id"],
                     manifest["catalogue_version"])
