"""Speed of wenban on this machine: index builds, ask latency by stage, peak memory.

    python bench/run.py                 # prints a Markdown table
    python bench/run.py --json out.json

Builds run in a scratch home with a cold embedding cache, so "from scratch"
means every text is embedded. The latency run is one warm process answering
every evaluation question of both catalogues (after one warm-up pass).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.answer import Assistant  # noqa: E402
from eval.run import load_set  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embedder import Embedder  # noqa: E402
from store import db as store  # noqa: E402
from wenban.data_cli import import_bundled  # noqa: E402
from wenban.config import Settings  # noqa: E402

CATALOGUES = ("guangan", "guangdong")


def quiet(*_a, **_k):
    pass


def bench_builds(settings: Settings, embedder: Embedder) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        s = replace(settings, home=Path(tmp), model=settings.model_path)
        db = store.open_db(s.db_path)
        import_bundled(db, s)
        for cat in CATALOGUES:
            t = time.perf_counter()
            m = build_index(s, db, cat, embedder, log=quiet, progress=False)
            out[f"{cat}: build from scratch"] = (time.perf_counter() - t, m["embedded"])
        for cat in CATALOGUES:
            items = store.items(db, cat)
            items[0] = {**items[0], "name": items[0]["name"] + "（改）"}
            meta = store.get_catalogue(db, cat)
            store.import_catalogue(db, store.CatalogueData(name=cat, title=meta["title"], items=items))
            t = time.perf_counter()
            m = build_index(s, db, cat, embedder, log=quiet, progress=False)
            out[f"{cat}: rebuild after a one-item change"] = (time.perf_counter() - t, m["embedded"])
    return out


def bench_latency(assistant: Assistant) -> dict:
    questions = [(cat, r["question"]) for cat in CATALOGUES for r in load_set(cat)]
    for cat, q in questions[:20]:  # warm-up
        assistant.ask(q, cat)
    stages: dict[str, list[float]] = {}
    for cat, q in questions:
        t = assistant.ask(q, cat)["timings_ms"]
        for k, v in t.items():
            stages.setdefault(k, []).append(v)
    return {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95))) for k, v in stages.items()} | {
        "_n": len(questions)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", help="also write the figures as JSON")
    args = p.parse_args()
    settings = Settings.from_env()
    t = time.perf_counter()
    embedder = Embedder(settings, log=quiet)
    load_s = time.perf_counter() - t
    assistant = Assistant(settings, embedder=embedder, log=quiet)
    for cat in CATALOGUES:
        assistant.retriever(cat)
    latency = bench_latency(assistant)
    builds = bench_builds(settings, embedder)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"model: {embedder.path.name} ({embedder.dtype}), loaded in {load_s:.1f} s; "
          f"index type {settings.index_type}; {settings.threads} threads\n")
    print(f"| ask, {latency['_n']} questions, one warm process | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for k in ("embed", "search", "fuse", "compose", "total"):
        p50, p95 = latency[k]
        print(f"| {k} | {p50:.1f} | {p95:.1f} |")
    print("\n| index build | seconds | texts embedded |")
    print("|---|---:|---:|")
    for k, (secs, n) in builds.items():
        print(f"| {k} | {secs:.2f} | {n} |")
    print(f"\npeak RSS: {rss_mb:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({"latency_ms": latency, "builds": builds, "peak_rss_mb": rss_mb,
                                               "model": embedder.id, "load_seconds": load_s}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
