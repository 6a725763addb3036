"""Throughput of 1, 2 and 3 replicas behind nginx, over PostgreSQL, on this machine.

    .venv/bin/python bench/replicas.py [--seconds 20] [--concurrency 8]

Starts the same deployment as ``tests/test_replicas.py`` (a throw-away PostgreSQL,
N wenban processes, nginx with ``deploy/nginx-wenban.conf``), sends questions
from a second process's threads for a fixed time, and prints q/s, p50/p95 and
q/s per core. Also times how a new catalogue version reaches the replicas:
built once in the shared index folder (the others load it) against every
replica building it from its embedding cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.run import load_set  # noqa: E402
from index.embedder import Embedder  # noqa: E402
from tests.replicas import TOKEN, Deployment  # noqa: E402
from wenban.config import Settings  # noqa: E402


def load(url: str, questions: list[str], seconds: float, concurrency: int) -> dict:
    lat: list[float] = []
    errors = [0]
    stop = time.time() + seconds

    def worker(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            i = offset
            while time.time() < stop:
                q = questions[i % len(questions)]
                i += concurrency
                t = time.perf_counter()
                r = c.post("/api/v1/ask", json={"question": q, "catalogue": "guangan"})
                lat.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - t0
    lat.sort()
    return {"q/s": len(lat) / took, "p50": statistics.median(lat), "p95": lat[int(len(lat) * 0.95)],
            "requests": len(lat), "errors": errors[0]}


def version_reach(dep: Deployment) -> float:
    """Seconds from an import on replica 0 until every replica answers from it."""
    code = f"B{time.time_ns()}"
    csv = f"事项编码,事项名称,实施机构,事项类型\n{code},老年人优待证办理,区民政局,公共服务\n"
    t0 = time.time()
    r = httpx.post(f"{dep.replica_urls[0]}/api/v1/admin/catalogues/benchhall/import", headers={
        "Authorization": f"Bearer {TOKEN}"}, files={"file": ("l.csv", csv.encode())}, timeout=60)
    r.raise_for_status()
    pending = set(dep.replica_urls)
    while pending and time.time() - t0 < 60:
        for u in list(pending):
            a = httpx.post(f"{u}/api/v1/ask", json={"question": "老年人优待证", "catalogue": "benchhall"}, timeout=30)
            if a.status_code == 200 and a.json().get("item") and a.json()["item"]["code"] == code:
                pending.discard(u)
        time.sleep(0.1)
    return time.time() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--concurrency", type=int, default=8)
    args = p.parse_args()
    real = Settings.from_env()
    settings = replace(real, model=real.model_path)
    embedder = Embedder(settings, log=lambda *a: None)
    questions = [q["question"] for q in load_set("guangan") if q.get("expect") == "answer"]
    cores = os.cpu_count() or 1
    # the machine may be shared: each row says the 1-minute load average after its run
    print("| replicas | q/s | q/s per core | p50 ms | p95 ms | requests | errors | load |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|")
    reach = None
    for n in (1, 2, 3):
        dep = Deployment(settings, replicas=n)
        try:
            dep.start(embedder)
            load(dep.url, questions[:20], 3, args.concurrency)  # warm
            r = load(dep.url, questions, args.seconds, args.concurrency)
            print(f"| {n} | {r['q/s']:.1f} | {r['q/s'] / cores:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                  f"{r['requests']} | {r['errors']} | {os.getloadavg()[0]:.1f} |", flush=True)
            if n == 3:
                reach = version_reach(dep)
        finally:
            dep.close()
    print(f"\nan import on one replica reached all 3 (shared index folder, built once) in {reach:.1f} s")


if __name__ == "__main__":
    main()
