"""Approximate search at national scale: recall@10 and latency of a FAISS IVF index
over 1M vectors against exact search.

    python bench/ann.py                        # 1M vectors, IVF nlist 1024, nprobe 16…256
    python bench/ann.py --index hnsw           # HNSW M=32, efSearch 64…512
    python bench/ann.py --n 200000 --json out.json

The vectors are the real item embeddings of the built indexes (both catalogues,
item text and name views), each a mix of two of them plus small Gaussian noise,
normalized: v = norm(a·e_i + (1-a)·e_j + σ·g), a ~ U(0.5, 1), σ = 0.02. Queries
come from the same recipe with another seed. Exact top-10 is computed chunk by
chunk while the index is filled, so only the index holds the vectors (1M × 384
float32 = 1.5 GB). Nothing here is shipped; the index settings documented are
the ones ``WENBAN_INDEX_TYPE=ivf`` would want at that size.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.build import current_build  # noqa: E402
from wenban.config import Settings  # noqa: E402


def real_vectors(settings: Settings) -> np.ndarray:
    out = []
    for cat in ("guangan", "guangdong"):
        build = current_build(settings, cat)
        if build is None:
            raise SystemExit(f"no index for {cat}: run 'wenban setup' first")
        for f in ("dense.faiss", "names.faiss"):
            index = faiss.read_index(str(build / f))
            out.append(index.reconstruct_n(0, index.ntotal))
    return np.vstack(out).astype("float32")


def synth(base: np.ndarray, n: int, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    i = rng.integers(0, len(base), n)
    j = rng.integers(0, len(base), n)
    a = rng.uniform(0.5, 1.0, (n, 1)).astype("float32")
    v = a * base[i] + (1 - a) * base[j] + sigma * rng.standard_normal((n, base.shape[1]), dtype="float32")
    faiss.normalize_L2(v)
    return v


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--index", choices=["ivf", "hnsw"], default="ivf")
    p.add_argument("--nlist", type=int, default=1024, help="IVF lists")
    p.add_argument("--m", type=int, default=32, help="HNSW neighbours per node")
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--chunk", type=int, default=100_000)
    p.add_argument("--json")
    args = p.parse_args()
    faiss.omp_set_num_threads(2)

    base = real_vectors(Settings.from_env())
    dim = base.shape[1]
    xq = synth(base, args.queries, np.random.default_rng(7))
    k = 10
    gt_d = np.full((len(xq), k), -np.inf, dtype="float32")
    gt_i = np.zeros((len(xq), k), dtype="int64")

    if args.index == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, args.nlist, faiss.METRIC_INNER_PRODUCT)
        settings, knob = (16, 32, 64, 128, 256), "nprobe"
        name = f"IVFFlat nlist={args.nlist}, inner product"
    else:
        index = faiss.IndexHNSWFlat(dim, args.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = args.ef_construction
        settings, knob = (64, 128, 256, 512), "efSearch"
        name = f"HNSWFlat M={args.m}, efConstruction={args.ef_construction}, inner product"
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    train_s = 0.0
    for start in range(0, args.n, args.chunk):
        xb = synth(base, min(args.chunk, args.n - start), rng)
        if not index.is_trained:
            t = time.perf_counter()
            index.train(xb[: min(len(xb), args.nlist * 64)])
            train_s = time.perf_counter() - t
        index.add(xb)
        # exact top-10 so far: merge this chunk's best with the running best
        sims = xq @ xb.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        d = np.concatenate([gt_d, np.take_along_axis(sims, part, 1)], axis=1)
        i = np.concatenate([gt_i, part + start], axis=1)
        best = np.argsort(-d, axis=1)[:, :k]
        gt_d, gt_i = np.take_along_axis(d, best, 1), np.take_along_axis(i, best, 1)
        del xb, sims
    build_s = time.perf_counter() - t0

    out = {"n": index.ntotal, "dim": dim, "real_vectors": len(base), "queries": len(xq),
           "index": name, "train_s": round(train_s, 1), "build_s": round(build_s, 1),
           "index_mb": round(faiss.serialize_index(index).nbytes / 2**20) if args.n <= 200_000 else
           round((index.ntotal * dim * 4 + (index.ntotal * args.m * 2 * 4 if args.index == "hnsw" else 0)) / 2**20),
           "runs": []}
    faiss.omp_set_num_threads(1)  # one query at a time, as a server answers it
    for value in settings:
        if args.index == "ivf":
            index.nprobe = value
        else:
            index.hnsw.efSearch = value
        index.search(xq[:20], k)  # warm
        times, cpu, found = [], [], []
        for q in range(len(xq)):
            t, c = time.perf_counter(), time.thread_time()
            _, I = index.search(xq[q:q + 1], k)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
            found.append(len(set(I[0]) & set(gt_i[q])) / k)
        out["runs"].append({knob: value, "recall@10": round(float(np.mean(found)), 4),
                            "p50_ms": round(float(np.percentile(times, 50)), 2),
                            "p95_ms": round(float(np.percentile(times, 95)), 2),
                            # CPU time of the one searching thread: the latency on an idle core
                            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
                            "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2)})
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
