"""Approximate search at national scale: recall@10 and latency of a FAISS index
over 1M vectors against exact search.

    python bench/ann.py                                   # 1M, IVF nlist 1024, nprobe 16…256
    python bench/ann.py --index hnsw --m 32 --ef-construction 128 --values 512,1024,2048
    python bench/ann.py --index ivf-hnsw --nlist 16384 --values 64,128,256
    python bench/ann.py --recipe noise --n 250000 --json out.json

Two recipes make the vectors from the real item embeddings of the built indexes
(both catalogues, item text and name views):

- ``mix`` (default): each a mix of two of them plus small Gaussian noise,
  normalized: v = norm(a·e_i + (1-a)·e_j + σ·g), a ~ U(0.5, 1), σ = 0.02.
  Points lie between the real ones, a hard case for IVF's clusters.
- ``noise``: the issue's "real embeddings plus small noise": v = norm(e_i + σ·g).

Queries come from the same recipe with another seed. Exact top-10 is computed
chunk by chunk while the index is filled, so only the index holds the vectors
(1M × 384 float32 = 1.5 GB). Index kinds: ``ivf`` (IVFFlat, flat coarse
quantizer), ``ivf-hnsw`` (IVFFlat whose coarse quantizer is an HNSW over the
centroids, which makes a large nlist cheap to assign and probe) and ``hnsw``
(HNSWFlat). Builds use 2 threads, queries 1 (one query at a time, as a server
answers it). Nothing here is shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.build import current_build  # noqa: E402
from wenban.config import Settings  # noqa: E402

DEFAULT_VALUES = {"ivf": (16, 32, 64, 128, 256), "ivf-hnsw": (64, 128, 256, 512),
                  "hnsw": (128, 256, 512, 1024, 2048)}


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


def synth(base: np.ndarray, n: int, rng: np.random.Generator, recipe: str = "mix",
          sigma: float = 0.02) -> np.ndarray:
    i = rng.integers(0, len(base), n)
    noise = sigma * rng.standard_normal((n, base.shape[1]), dtype="float32")
    if recipe == "noise":
        v = base[i] + noise
    else:
        j = rng.integers(0, len(base), n)
        a = rng.uniform(0.5, 1.0, (n, 1)).astype("float32")
        v = a * base[i] + (1 - a) * base[j] + noise
    faiss.normalize_L2(v)
    return v


def make_index(args, dim: int):
    """The empty index and its name; the caller trains it when it needs training."""
    ip = faiss.METRIC_INNER_PRODUCT
    if args.index == "hnsw":
        index = faiss.IndexHNSWFlat(dim, args.m, ip)
        index.hnsw.efConstruction = args.ef_construction
        return index, f"HNSWFlat M={args.m}, efConstruction={args.ef_construction}"
    if args.index == "ivf-hnsw":
        quantizer = faiss.IndexHNSWFlat(dim, 32, ip)
        quantizer.hnsw.efConstruction = 128
        name = f"IVFFlat nlist={args.nlist}, HNSW32 coarse quantizer"
    else:
        quantizer = faiss.IndexFlatIP(dim)
        name = f"IVFFlat nlist={args.nlist}"
    index = faiss.IndexIVFFlat(quantizer, dim, args.nlist, ip)
    index.cp.spherical = True  # unit vectors: unit centroids
    return index, name


def set_knob(index, kind: str, value: int) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = value
        return
    index.nprobe = value
    if kind == "ivf-hnsw":
        # the quantizer must return nprobe lists, and the right ones
        faiss.downcast_index(index.quantizer).hnsw.efSearch = max(2 * value, 128)


def index_bytes(index, kind: str, n: int, dim: int, m: int) -> int:
    """Vectors + ids (IVF) or vectors + level-0 links (HNSW): serializing a 1M index
    to measure it would need another 1.5 GB."""
    if kind == "hnsw":
        return n * dim * 4 + n * m * 2 * 4
    return n * (dim * 4 + 8) + index.nlist * dim * 4


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--recipe", choices=["mix", "noise"], default="mix")
    p.add_argument("--sigma", type=float, default=0.02, help="Gaussian noise per dimension")
    p.add_argument("--index", choices=["ivf", "ivf-hnsw", "hnsw"], default="ivf")
    p.add_argument("--nlist", type=int, default=1024, help="IVF lists")
    p.add_argument("--m", type=int, default=32, help="HNSW neighbours per node")
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--values", help="nprobe (IVF) or efSearch (HNSW) values, comma-separated")
    p.add_argument("--chunk", type=int, default=100_000)
    p.add_argument("--json")
    args = p.parse_args()
    faiss.omp_set_num_threads(2)

    base = real_vectors(Settings.from_env())
    dim = base.shape[1]
    xq = synth(base, args.queries, np.random.default_rng(7), args.recipe, args.sigma)
    k = 10
    gt_d = np.full((len(xq), k), -np.inf, dtype="float32")
    gt_i = np.zeros((len(xq), k), dtype="int64")
    values = [int(v) for v in args.values.split(",")] if args.values else DEFAULT_VALUES[args.index]
    knob = "efSearch" if args.index == "hnsw" else "nprobe"

    index, name = make_index(args, dim)
    rng = np.random.default_rng(1)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    train_s = 0.0
    if not index.is_trained:
        # 40 points per list at least (faiss warns below 39), at most 64
        xt = synth(base, min(args.n, args.nlist * 64), np.random.default_rng(3), args.recipe, args.sigma)
        index.train(xt)
        train_s = time.perf_counter() - t0
        del xt
    for start in range(0, args.n, args.chunk):
        xb = synth(base, min(args.chunk, args.n - start), rng, args.recipe, args.sigma)
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
           "recipe": args.recipe, "sigma": args.sigma, "index": name + ", inner product",
           "train_s": round(train_s, 1), "build_s": round(build_s, 1),
           "index_mb": round(index_bytes(index, args.index, index.ntotal, dim, args.m) / 2**20),
           "load_during_build": [round(x, 2) for x in load0] + [round(x, 2) for x in os.getloadavg()],
           "runs": []}
    faiss.omp_set_num_threads(1)  # one query at a time, as a server answers it
    for value in values:
        set_knob(index, args.index, value)
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
                            "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2),
                            "load": round(os.getloadavg()[0], 2)})
        print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
