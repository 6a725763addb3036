"""The commands that prepare what wenban serves: ``setup``, ``import``, ``index`` and
``train`` (``wenban.cli`` wires them to the command line).

    wenban setup                                   # model + bundled catalogues + indexes
    wenban import guangan ../shared/data/catalogues/guangan/bszl-data.json --format guangan
    wenban index --all
    wenban train --full --layers 2                 # the tuned layers (index/tune.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from wenban.config import DATA_DIR, Settings

EXIT_BAD_INPUT = 2  # the exit status of a refused input (a bad file, an unknown name)


def _log(msg: str) -> None:
    """Messages and errors go to stderr: stdout is for answers (JSON with --json)."""
    print(msg, file=sys.stderr)


def bundled() -> dict[str, dict[str, Any]]:
    return json.loads((DATA_DIR / "catalogues.json").read_text(encoding="utf-8"))


def missing_source(name: str, path: Path, sources: Path) -> str:
    """One line that says which file, which setting, and what to do instead."""
    return (f"{name}: catalogue file {path} not found (WENBAN_SOURCES is {sources}); "
            f"skipped. Point WENBAN_SOURCES at the folder that holds it, or import a hall's own list "
            f"with: wenban import NAME FILE")


def import_bundled(db, settings: Settings, names: list[str] | None = None,
                   log=_log) -> list[str]:
    """Import the bundled catalogues from ``settings.sources`` (a no-op when unchanged).

    A missing folder or file is said in one line and skipped: set-up carries on
    with whatever catalogues it has.
    """
    from store.db import import_catalogue
    from store.importers import load_file

    out = []
    for name, spec in bundled().items():
        if names and name not in names:
            continue
        path = settings.sources / spec["file"]
        if not path.is_file():
            log(missing_source(name, path, settings.sources))
            continue
        data = load_file(path, spec["format"], name)
        data.title, data.source, data.licence = spec["title"], spec["source"], spec["licence"]
        data.enquiry = spec.get("enquiry", {})
        out.append(import_catalogue(db, data).summary())
    return out


# ------------------------------------------------------------- commands --

def cmd_setup(args, settings: Settings) -> int:
    from index.build import build_index, is_fresh
    from index.embedder import Embedder, ensure_model
    from store.db import catalogues, open_db

    ensure_model(settings, log=_log)
    db = open_db(settings.database)
    for line in import_bundled(db, settings):
        _log(line)
    embedder = None
    cats = catalogues(db)
    if not cats:
        _log("no catalogue in the store yet: `wenban serve` starts and says so; "
             "import one with: wenban import NAME FILE")
    for cat in cats:
        embedder = embedder or Embedder(settings, log=_log)
        if is_fresh(settings, db, cat["name"], embedder.id):
            _log(f"{cat['name']}: index up to date")
        else:
            build_index(settings, db, cat["name"], embedder, log=_log, progress=sys.stderr.isatty())
    if embedder is not None:
        # the dispatch categories' vectors go into the embedding cache now, so a
        # server's first 诉求 (or its start-up warm-up) finds them there
        from assistant.dispatch import router_for
        from index.embedder import EmbeddingCache

        cache = EmbeddingCache(settings.cache_path)
        for cat in cats:
            router_for(db, cat["name"], embedder=embedder, cache=cache)
        _log("dispatch categories: vectors ready")
    return 0


def cmd_import(args, settings: Settings) -> int:
    from store.db import import_catalogue, open_db
    from store.importers import Limits, load_file

    data = load_file(args.file, args.format, args.name, Limits.from_settings(settings))
    if args.title:
        data.title = args.title
    data.source = data.source or str(Path(args.file).name)
    db = open_db(settings.database, busy_ms=settings.db_busy_ms)
    result = import_catalogue(db, data)
    print(result.summary())
    if args.diff and not result.unchanged:
        print(json.dumps({"added": result.added, "changed": result.changed, "removed": result.removed},
                         ensure_ascii=False, indent=2))
    if not result.unchanged and not args.no_index:
        # import and reindex are one operation: a server keeps answering from
        # the old build (its own copy of the items) until this one is current
        from index.build import build_index
        from index.embedder import Embedder

        build_index(settings, db, args.name, Embedder(settings, log=_log), log=_log,
                    progress=sys.stderr.isatty())
        _log(f"{args.name}: a running server swaps the new index in within seconds")
    return 0


def cmd_index(args, settings: Settings) -> int:
    from index.build import build_index
    from index.embedder import Embedder
    from store.db import catalogues, open_db

    db = open_db(settings.database)
    names = [c["name"] for c in catalogues(db)] if args.all else [args.name]
    if not names or names == [None]:
        _log("name a catalogue, or use --all")
        return EXIT_BAD_INPUT
    embedder = Embedder(settings, log=_log)
    for name in names:
        build_index(settings, db, name, embedder, log=_log, progress=sys.stderr.isatty())
    return 0


def cmd_train(args, settings: Settings) -> int:
    """The query adapter (index/finetune.py) from every catalogue in the store, or
    with --full the top layers of the encoder (index/tune.py)."""
    from dataclasses import replace

    from index.embedder import Embedder
    from index.finetune import build_adapter
    from store.db import catalogues, items, open_db

    db = open_db(settings.db_path)
    names = args.catalogue or [c["name"] for c in catalogues(db)]
    if not names:
        _log("no catalogue in the store: import one first")
        return EXIT_BAD_INPUT
    if args.full:
        from index.embedder import ensure_model
        from index.tune import ARTIFACT, train

        base = ensure_model(replace(settings, embed_tuned=False), log=_log)  # always the base model
        out = Path(args.out) if args.out else ARTIFACT
        meta = train(base, {n: items(db, n) for n in names}, out, layers=args.layers, epochs=args.epochs or 1,
                     seed=args.seed, batch=args.batch, lr=args.lr, per_item=args.per_item,
                     max_pairs=args.max_pairs, log=_log)
        _log(f"{meta['pairs']} triplets, {meta['steps']} steps, loss {meta['train_loss']}, "
             f"{meta['seconds']} s → {out}; use it with WENBAN_EMBED_TUNED=1 wenban setup")
        return 0
    # Train on the base model's vectors, whatever adapter is configured.
    embedder = Embedder(replace(settings, embed_adapter=None), log=_log)
    adapter, stats = build_adapter(settings, db, embedder, names, seed=args.seed, epochs=args.epochs or 30,
                                   max_pairs=args.max_pairs, log=_log)
    out = Path(args.out) if args.out else settings.home / "models" / "query-adapter.npz"
    adapter.save(out)
    _log(f"{stats['pairs']} pairs, {stats['items']} items: vectors {stats['embed_s']:.0f} s, "
         f"training {stats['train_s']:.0f} s → {out}; use it with WENBAN_EMBED_ADAPTER={out}")
    return 0
