"""Issue 11, indexes and crashes: one damaged catalogue answers 503 naming the
file while the others serve; leftovers of killed processes are swept; kill -9
during an import, a reindex or feedback loses nothing acknowledged.

The kill tests run the real CLI / store in subprocesses, bounded in time."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.answer import Assistant
from index.build import IndexUnavailable, build_index, current_build, sweep
from index.search import Retriever
from store import db as store
from wenban.config import REPO_ROOT


def copy_home(settings, dest: Path, cache: bool = True):
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.db_path, dest / "wenban.db")
    if cache:
        shutil.copy(settings.cache_path, dest / "embedding-cache.db")
    shutil.copytree(settings.index_dir, dest / "indexes")
    return replace(settings, home=dest)


def client_for(settings, embedder) -> TestClient:
    return TestClient(create_app(settings, assistant=Assistant(settings, embedder=embedder, log=lambda *a: None)))


# ----------------------------------------------------------- damaged index --

def _truncate(build: Path) -> str:
    f = build / "dense.faiss"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    return "dense.faiss"


def _flip(build: Path) -> str:
    f = build / "dense.faiss"
    raw = bytearray(f.read_bytes())
    for i in range(1000, min(len(raw), 201_000)):
        raw[i] ^= 0xFF
    f.write_bytes(bytes(raw))
    return "dense.faiss"


def _garbage(name: str):
    def damage(build: Path) -> str:
        target = next(build.glob(name))
        target.write_bytes(b"\x00garbage{{{")
        return target.name
    return damage


@pytest.mark.parametrize("damage", [_truncate, _flip, _garbage("codes.json"), _garbage("manifest.json"),
                                    _garbage("bm25/*.json"), _garbage("items.json")],
                         ids=["truncated", "flipped", "codes", "manifest", "bm25", "items"])
def test_one_damaged_catalogue_answers_503_naming_the_file_and_the_others_serve(settings, embedder,
                                                                               tmp_path, damage):
    s = copy_home(settings, tmp_path / "home", cache=False)
    name = damage(current_build(s, "guangan"))
    with client_for(s, embedder) as c:  # starts: a bad index no longer stops the server
        r = c.post("/api/v1/ask", json={"question": "孩子刚出生怎么上户口", "catalogue": "guangan"})
        assert r.status_code == 503
        assert name in r.json()["detail"] and "wenban index guangan" in r.json()["detail"]
        assert "索引" in r.json()["detail"]
        assert c.get("/api/v1/search", params={"q": "户口", "catalogue": "guangan"}).status_code == 503
        ok = c.post("/api/v1/ask", json={"question": "去香港旅游要办通行证", "catalogue": "guangdong"})
        assert ok.status_code == 200 and ok.json()["status"] in ("answer", "clarify")


def test_a_reindex_repairs_a_damaged_catalogue(settings, embedder, tmp_path):
    s = copy_home(settings, tmp_path / "home")
    _flip(current_build(s, "guangan"))
    with pytest.raises(IndexUnavailable, match="checksum"):
        Retriever.load(s, "guangan", embedder)
    build_index(s, store.open_db(s.db_path), "guangan", embedder, log=lambda *a: None, progress=False)
    assert Retriever.load(s, "guangan", embedder).search("户口登记").candidates


# --------------------------------------------------------------- leftovers --

def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_leftovers_of_killed_processes_are_swept_at_start_and_after_a_build(settings, embedder, tmp_path):
    s = copy_home(settings, tmp_path / "home")
    builds = s.index_dir / "guangan" / "builds"
    dead, live = _dead_pid(), subprocess.Popen(["sleep", "60"])
    try:
        orphan = builds / f".tmp-20260101T000000-ab12-{dead}"
        orphan.mkdir()
        (orphan / "dense.faiss").write_bytes(b"\0" * 1000)
        running = builds / f".tmp-20260101T000001-cd34-{live.pid}"
        running.mkdir()
        pointer = s.index_dir / "guangan" / f".CURRENT-x-{dead}"
        pointer.write_text("x")
        s.uploads_dir.mkdir()
        upload = s.uploads_dir / "upload-0123456789abcdef.csv"
        upload.write_bytes(b"a" * (4 << 20))
        with client_for(s, embedder):
            pass
        assert not orphan.exists() and not pointer.exists() and not upload.exists()
        assert running.exists()  # a build still running elsewhere is not touched

        again = builds / f".tmp-20260101T000002-ef56-{dead}"
        again.mkdir()
        build_index(s, store.open_db(s.db_path), "guangan", embedder, log=lambda *a: None, progress=False)
        assert not again.exists() and running.exists()
    finally:
        live.kill()
        live.wait()
    assert sweep(s) == [running]  # its process is gone now


# ------------------------------------------------------------------ kill -9 --

def _env(home: Path) -> dict:
    return {**os.environ, "WENBAN_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_kill_9_during_an_import_leaves_the_old_or_the_new_version_whole(settings, tmp_path):
    s = copy_home(settings, tmp_path / "home", cache=False)
    db = store.open_db(s.db_path)
    old = store.items(db, "guangan")
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["事项编码", "事项名称", "实施机构"])
        w.writerows([it["code"], it["name"], it["department"]] for it in old)
        w.writerows([f"X{i:06d}", f"测试事项{i}", "区测试局"] for i in range(40_000))
    v0 = store.get_catalogue(db, "guangan")["version"]
    db.close()
    for delay in (0.5, 1.5, 3.0):
        proc = subprocess.Popen([sys.executable, "-m", "wenban.cli", "import", "guangan", str(path), "--no-index"],
                                env=_env(s.home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        _kill(proc)
        conn = sqlite3.connect(s.db_path)
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        version = conn.execute("select version from catalogues where name = 'guangan'").fetchone()[0]
        count = conn.execute("select count(*) from items where catalogue = 'guangan'").fetchone()[0]
        conn.close()
        assert (version, count) in ((v0, len(old)), (v0 + 1, len(old) + 40_000)), (delay, version, count)


def test_kill_9_during_a_reindex_leaves_the_old_index_serving_and_no_leftovers(settings, embedder, tmp_path):
    s = copy_home(settings, tmp_path / "home")
    before = current_build(s, "guangan").name
    builds = s.index_dir / "guangan" / "builds"
    proc = subprocess.Popen([sys.executable, "-m", "wenban.cli", "index", "guangan"], env=_env(s.home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        # kill it while the new build is being written, or whenever it ends
        while proc.poll() is None and time.monotonic() < deadline and not list(builds.glob(".tmp-*")):
            time.sleep(0.005)
    finally:
        _kill(proc)
    assert current_build(s, "guangan") is not None  # the old build or the whole new one
    with client_for(s, embedder) as c:
        r = c.post("/api/v1/ask", json={"question": "孩子刚出生怎么上户口", "catalogue": "guangan"})
        assert r.status_code == 200 and r.json()["item"]["department"] == "区公安分局"
    assert not list(builds.glob(".tmp-*")) and not list((s.index_dir / "guangan").glob(".CURRENT-*"))
    assert current_build(s, "guangan").name >= before


FEEDBACK_WRITER = """
import sys
from store import db as store
db = store.open_db(sys.argv[1])
for i in range(100000):
    fid = store.add_feedback(db, "0123456789abcdef0123456789abcdef", f"code-{i}", True, "意见" * 50, "guangan")
    print(fid, flush=True)
"""


def test_kill_9_during_feedback_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "fb.db"
    store.open_db(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", FEEDBACK_WRITER, str(path)], env=_env(tmp_path),
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    acked: list[int] = []
    try:
        for p in procs:
            for _ in range(200):
                acked.append(int(p.stdout.readline()))
    finally:
        for p in procs:
            _kill(p)
    conn = sqlite3.connect(path)
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    stored = {r[0] for r in conn.execute("select id from feedback")}
    assert set(acked) <= stored


def test_a_server_swaps_in_a_build_made_by_another_process(settings, embedder, tmp_path):
    """`wenban import`/`wenban index` in another process move CURRENT; the
    running assistant notices and loads the new build in the background."""
    s = copy_home(settings, tmp_path / "home")
    a = Assistant(s, embedder=embedder, log=lambda *a: None)
    old = a.retriever("guangan").build_dir
    new = build_index(s, store.open_db(s.db_path), "guangan", embedder, log=lambda *a: None, progress=False)
    a._checked.clear()  # as if REFRESH_S had passed
    deadline = time.monotonic() + 60
    while a.retriever("guangan").build_dir == old and time.monotonic() < deadline:
        time.sleep(0.2)
    assert a.retriever("guangan").build_dir.name == new["build_id"]


def test_the_watcher_alone_reloads_and_tries_a_damaged_build_once(settings, embedder, tmp_path):
    """In a server the Watcher follows the store and the assistant's own refresh is off
    (one mechanism per process); a new build that will not load is tried once, and the
    old one keeps answering."""
    from api.watch import Watcher

    s = copy_home(settings, tmp_path / "home")
    a = Assistant(s, embedder=embedder, log=lambda *a: None)
    old = a.retriever("guangan").build_dir
    w = Watcher(a, s, interval=3600).start()  # its thread sleeps: check() is called here
    try:
        assert a.auto_refresh is False
        build_index(s, store.open_db(s.db_path), "guangan", embedder, log=lambda *a: None, progress=False)
        _flip(current_build(s, "guangan"))
        tries = []
        real = a.reload
        a.reload = lambda name: (tries.append(name), real(name))
        w.check()
        w.check()
        assert tries.count("guangan") == 1 and "checksum" in w.errors["guangan"]
        assert a.retriever("guangan").build_dir == old
        assert a.ask("孩子刚出生怎么上户口", "guangan")["candidates"]
    finally:
        w.stop()
