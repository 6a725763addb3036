"""A bounded queue in front of the questions.

Questions wait for the embedder; a thread pool full of them used to starve
everything else (``/healthz`` took 1.2 s at 64 concurrent questions). Now at most
``WENBAN_ASK_WORKERS`` questions run at once, at most ``WENBAN_ASK_QUEUE`` more wait,
and the rest get 503 "busy, retry" with ``Retry-After`` at once. Probes are
``async`` routes: they never touch the thread pool or this queue.

    admission = Admission(workers=2, queue=32)
    async with admission.slot():
        reply = await run_in_threadpool(work)
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import HTTPException

RETRY_AFTER_SECONDS = 1  # a full queue drains in well under a second at ~40 q/s


class Admission:
    def __init__(self, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.limit = self.workers + max(0, queue)
        self.inside = 0  # running + waiting; only touched on the event loop
        self._running: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def slot(self):
        if self.inside >= self.limit:
            raise HTTPException(503, f"系统繁忙，请 {RETRY_AFTER_SECONDS} 秒后重试 / busy, retry in "
                                     f"{RETRY_AFTER_SECONDS} s", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if self._running is None:
            self._running = asyncio.Semaphore(self.workers)
        self.inside += 1
        try:
            async with self._running:
                yield
        finally:
            self.inside -= 1
