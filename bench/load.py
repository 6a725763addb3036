"""Load on the HTTP service from a second process, over loopback.

Starts ``wenban serve`` on a free loopback port (its own process), waits for
``/readyz``, then for each concurrency runs that many clients asking questions
from the evaluation sets back to back for ``--seconds``, while a probe asks
``/healthz`` every 50 ms. Prints q/s, latency percentiles, the probe's p95 and
every non-200, then an optional soak with the server's RSS before and after.

    python bench/load.py                                   # c = 1, 4, 16, 64; 60 s each
    python bench/load.py --seconds 15 --soak 60            # shorter, on a shared machine
    python bench/load.py --concurrency 16 --seconds 0 --soak 600   # the 10-minute soak

The server runs with ``WENBAN_RATE_LIMIT=off``: all load comes from one address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def questions() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "eval" / "sets").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if isinstance(row.get("question"), str):
                out.append((row["question"], path.stem))
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(base: str, qs: list[tuple[str, str]], concurrency: int, seconds: float) -> dict:
    lat, probe, codes = [], [], Counter()
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        async def worker(i: int) -> None:
            n = i
            while time.perf_counter() < stop:
                q, cat = qs[n % len(qs)]
                n += concurrency
                t = time.perf_counter()
                r = await http.post("/api/v1/ask", json={"question": q, "catalogue": cat})
                lat.append((time.perf_counter() - t) * 1000)
                codes[r.status_code] += 1

        async def prober() -> None:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await http.get("/healthz")
                probe.append((time.perf_counter() - t) * 1000)
                codes[f"healthz {r.status_code}"] += 1
                await asyncio.sleep(0.05)

        t0 = time.perf_counter()
        await asyncio.gather(prober(), *(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {"concurrency": concurrency, "seconds": round(elapsed, 1), "questions": len(lat),
            "qps": round(len(lat) / elapsed, 1), "p50_ms": round(pct(lat, 50), 1),
            "p95_ms": round(pct(lat, 95), 1), "p99_ms": round(pct(lat, 99), 1),
            "healthz_p95_ms": round(pct(probe, 95), 1), "healthz_max_ms": round(max(probe or [0]), 1),
            "errors": {str(k): v for k, v in codes.items() if k not in (200, "healthz 200")}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--soak", type=float, default=0, help="seconds of soak at the last concurrency")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--server-log", default="/tmp/wenban-load-server.log", help="the server's own log (errors)")
    args = p.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WENBAN_RATE_LIMIT": "off", "PYTHONPATH": str(ROOT)}
    log = open(args.server_log, "w")
    server = subprocess.Popen([sys.executable, "-m", "wenban.cli", "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("server did not become ready in 300 s")
        qs = questions()
        results = []
        print("| concurrency | s | questions | q/s | p50 ms | p95 ms | p99 ms | /healthz p95 ms | errors |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        runs = [(c, args.seconds) for c in args.concurrency if args.seconds > 0]
        if args.soak:
            runs.append((args.concurrency[-1], args.soak))
        for i, (c, secs) in enumerate(runs):
            soak = args.soak and i == len(runs) - 1
            before = rss_mb(server.pid)
            r = asyncio.run(run(base, qs, c, secs))
            if soak:
                r.update(soak=True, rss_before_mb=round(before), rss_after_mb=round(rss_mb(server.pid)))
            results.append(r)
            label = f"{c} (soak, RSS {r['rss_before_mb']}→{r['rss_after_mb']} MB)" if soak else str(c)
            print(f"| {label} | {r['seconds']} | {r['questions']} | {r['qps']} | {r['p50_ms']} | {r['p95_ms']} | "
                  f"{r['p99_ms']} | {r['healthz_p95_ms']} | {r['errors'] or 0} |", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
        return 1 if any(r["errors"] for r in results) else 0
    finally:
        server.terminate()
        server.wait(30)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
