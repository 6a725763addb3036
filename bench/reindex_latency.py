"""Question latency while a reindex runs in the same process (issue 11, item 8).

    python bench/reindex_latency.py                 # the current embedder
    python bench/reindex_latency.py --whole-lock    # as before: one lock over the whole build
    python bench/reindex_latency.py --json out.json

One warm process answers guangan evaluation questions one after another:
first alone (baseline), then while guangdong is rebuilt from a cold embedding
cache in another thread (every text embedded, the longest build we have).
Goal: p95 during the build within 2× the baseline p95.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
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
from wenban.config import Settings  # noqa: E402


def pct(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50": round(float(np.percentile(xs, 50)), 1),
            "p95": round(float(np.percentile(xs, 95)), 1), "max": round(max(xs), 1)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--whole-lock", action="store_true", help="hold the model for the whole build (the old way)")
    p.add_argument("--baseline", type=int, default=150, help="questions asked before the build")
    p.add_argument("--json")
    args = p.parse_args()

    real = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(real, home=Path(tmp), model=real.model_path)
        shutil.copy(real.db_path, settings.db_path)
        shutil.copytree(real.index_dir, settings.index_dir)  # served indexes; the cache stays cold
        embedder = Embedder(settings, log=lambda *a: None)
        if args.whole_lock:
            embedder.BUILD_BATCH = 10**9  # one batch: the lock is held across the whole build
        a = Assistant(settings, embedder=embedder, log=lambda *a: None)
        questions = [q["question"] for q in load_set("guangan") if q.get("question")]
        for q in questions[:20]:
            a.ask(q, "guangan")  # warm-up

        def ask(q: str) -> float:
            t = time.perf_counter()
            a.ask(q, "guangan")
            return (time.perf_counter() - t) * 1000

        base = [ask(questions[i % len(questions)]) for i in range(args.baseline)]
        done = threading.Event()
        took: dict[str, float] = {}

        def build() -> None:
            t = time.perf_counter()
            db = store.open_db(settings.db_path)
            build_index(settings, db, "guangdong", embedder, log=lambda *a: None, progress=False)
            took["build_s"] = round(time.perf_counter() - t, 1)
            done.set()

        threading.Thread(target=build).start()
        during, i = [], 0
        while not done.is_set():
            during.append(ask(questions[i % len(questions)]))
            i += 1
        out = {"mode": "whole-lock" if args.whole_lock else "per-batch, queries first",
               "baseline_ms": pct(base), "during_reindex_ms": pct(during), **took}
        out["p95_ratio"] = round(out["during_reindex_ms"]["p95"] / out["baseline_ms"]["p95"], 2)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
