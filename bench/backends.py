"""Question-embedding backends on this machine: latency, throughput, agreement with today's vectors.

    python bench/backends.py                 # Markdown table
    python bench/backends.py --json out.json
    python bench/backends.py --workers 1,2,4  # whole-ask runs with 1, 2 and 4 threads at once

Every evaluation question of both catalogues (vocabulary-expanded, as the
retriever embeds it) is embedded one at a time, the way a served question is:
p50/p95 ms per question and questions per second, single process, WENBAN_THREADS
threads. Cosine is against the torch bf16 vectors. Then the whole ``ask`` path
(embed → search → fuse → compose → dispatch) with each backend, one process,
with 1 and 2 threads asking at once (q/s is questions over wall time).
int8 per matrix is measured only here (below cosine 0.99, not offered);
int8 per channel is the ``onnx-int8`` setting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.run import load_set  # noqa: E402
from index.backends import OnnxQueryEncoder, onnx_path, quantize_int8  # noqa: E402
from index.embedder import Embedder  # noqa: E402
from index.text import Vocabulary  # noqa: E402
from wenban.config import Settings  # noqa: E402

CATALOGUES = ("guangan", "guangdong")


def quiet(*_a, **_k):
    pass


def timed(fn, texts: list[str]) -> tuple[np.ndarray, dict]:
    fn(texts[0])  # warm-up
    times, out = [], []
    for t in texts:
        t0 = time.perf_counter()
        out.append(fn(t))
        times.append((time.perf_counter() - t0) * 1000)
    return np.vstack(out), {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
                            "q_per_s": len(texts) / (sum(times) / 1000)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    ap.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2],
                    help="threads asking at once in the whole-ask runs, e.g. 1,2,4")
    args = ap.parse_args()
    settings = Settings.from_env()
    vocab = Vocabulary.load()
    questions = [r["question"] for c in CATALOGUES for r in load_set(c, "all")]
    texts = [vocab.expand(q) for q in questions]
    rows = {}

    # One load: the ONNX encoder is exported from the fp32 weights, then the model is cast to bf16.
    emb = Embedder(replace(settings, embed_backend="onnx", embed_dtype="bf16", embed_adapter=None), log=quiet)
    onnx, emb._onnx = emb._onnx, None  # the torch path, as served today
    ref, rows["torch bf16 (today)"] = timed(lambda t: emb.query([t]), texts)
    prompt = (emb.model.prompts or {}).get("query", "")
    variants = {"onnx fp32": onnx_path(emb.path)}
    with tempfile.TemporaryDirectory() as tmp:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(variants["onnx fp32"]), str(int8), weight_type=QuantType.QInt8)
        variants["onnx int8, one scale per matrix"] = int8
        variants["onnx int8, per channel (onnx-int8)"] = quantize_int8(variants["onnx fp32"], log=quiet)
        import onnxruntime as ort

        for name, path in variants.items():
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = settings.threads, 1
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            enc = OnnxQueryEncoder(sess, onnx.tokenizer, onnx.max_length)
            vecs, rows[name] = timed(lambda t: enc.encode([prompt + t]), texts)
            cos = (vecs * ref).sum(1)
            rows[name].update(cos_min=float(cos.min()), cos_median=float(np.median(cos)),
                              size_mb=os.path.getsize(path) / 2**20)
    del emb

    from assistant.answer import Assistant

    per_cat = [(c, r["question"]) for c in CATALOGUES for r in load_set(c, "all")]
    for backend in ("torch", "onnx", "onnx-int8"):
        a = Assistant(replace(settings, embed_backend=backend), log=quiet)
        a.log_unanswered = False
        for c in CATALOGUES:
            a.ask(questions[0], c)
        for workers in args.workers:
            # one process, `workers` threads asking at once (what uvicorn's thread pool does)
            lat: list[float] = []

            def one(cq, a=a):
                t = time.perf_counter()
                a.ask(cq[1], cq[0])
                lat.append((time.perf_counter() - t) * 1000)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, per_cat))
            rows[f"ask, {backend}, {workers} at once"] = {
                "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                "q_per_s": len(per_cat) / (time.perf_counter() - t0)}
        del a

    load = os.getloadavg()[0]
    print(f"{len(texts)} questions, {settings.threads} threads, load average at the end {load:.1f}\n")
    print("| backend | p50 ms | p95 ms | q/s | cosine to today min / median | file MB |")
    print("|---|---:|---:|---:|---|---:|")
    for name, r in rows.items():
        cos = f"{r['cos_min']:.4f} / {r['cos_median']:.5f}" if "cos_min" in r else ""
        size = f"{r['size_mb']:.0f}" if "size_mb" in r else ""
        print(f"| {name} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['q_per_s']:.0f} | {cos} | {size} |")
    if args.json:
        args.json.write_text(json.dumps({"load": load, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
