"""Admin routes: the token checked before anything is read, lockout, the audit trail.

``AdminGate`` (pure ASGI) sits in front of every ``/api/v1/admin/`` route. It checks
``Authorization: Bearer $WENBAN_ADMIN_TOKEN`` from the headers alone, so an upload
with a wrong token is refused before a byte of its body is read or spooled. A
client that gives ``WENBAN_ADMIN_MAX_FAILURES`` wrong tokens within
``WENBAN_ADMIN_LOCKOUT`` seconds gets 429 with ``Retry-After`` until the oldest of
them falls out of that window, whatever token it sends meanwhile. Every admin
request (who: the token's short hash; when; what; from where; the result) and
every auth failure is appended to the ``audit_log`` table (``store/audit.py``).

    GET /api/v1/admin/audit?since=2026-11-01&format=csv     # the trail, JSON or CSV
    wenban audit export --since 2026-11-01 --format csv     # the same from the shell
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any, Literal

import anyio
import sqlite_utils
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from limits import RateLimitItemPerSecond, storage, strategies

from api.deps import error, require_admin
from api.security import send_json
from store import audit
from wenban.config import Settings

ADMIN_PREFIX = "/api/v1/admin/"
TARGET = re.compile(r"^/api/v1/admin/catalogues/([^/]+)/")


def identity(token: str) -> str:
    """An admin's name in logs: a short hash of the token, never the token."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def bearer(scope: dict[str, Any]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; None without the prefix."""
    value = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class AuditLog:
    """One connection for the audit writes, shared by worker threads under a lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: sqlite_utils.Database | None = None
        self._lock = threading.Lock()

    def write(self, **row: Any) -> None:
        with self._lock:
            if self._db is None:
                self.settings.db_path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.settings.db_path), check_same_thread=False, timeout=5)
                self._db = sqlite_utils.Database(conn)
                audit.ensure_schema(self._db)
            audit.record(self._db, **row)


class AdminGate:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.log = AuditLog(settings)
        self.failures = RateLimitItemPerSecond(max(1, settings.admin_max_failures), settings.admin_lockout_seconds)
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    async def __call__(self, scope, receive, send) -> None:
        token = self.settings.admin_token
        if scope["type"] != "http" or not scope["path"].startswith(ADMIN_PREFIX) or not token:
            return await self.app(scope, receive, send)  # no token set: require_admin answers 404
        state = scope.setdefault("state", {})
        client = state.get("client") or (scope.get("client") or ("unknown",))[0]
        action = f"{scope['method']} {scope['path']}"
        target = (TARGET.match(scope["path"]) or [None, None])[1]
        given = bearer(scope)
        actor = identity(given) if given else None
        row = {"actor": actor, "client": client, "action": action, "target": target}

        if not self.limiter.test(self.failures, client):
            reset = self.limiter.get_window_stats(self.failures, client).reset_time
            wait = max(1, int(reset - datetime.now().timestamp()) + 1)
            await self.write(**row, result="locked_out", status=429)
            return await send_json(send, 429, f"管理口令错误次数过多，请 {wait} 秒后再试 / "
                                              f"too many wrong admin tokens, retry in {wait} s",
                                   [(b"retry-after", str(wait).encode())])
        if given is None or not secrets.compare_digest(given.encode(), token.encode()):
            self.limiter.hit(self.failures, client)
            await self.write(**row, result="auth_failed", status=401,
                             detail=None if given else "no Authorization: Bearer header")
            return await send_json(send, 401, "需要管理口令（Authorization: Bearer …）/ admin token required "
                                              "(Authorization: Bearer …)", [(b"www-authenticate", b"Bearer")])

        state["admin"] = actor
        status = {"code": 500}

        async def send_status(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            code = status["code"]
            await self.write(**row, status=code, result="ok" if code < 400 else "refused" if code < 500 else "error")

    async def write(self, **row: Any) -> None:
        # a worker thread: a slow disk must not hold up the event loop (and the probes)
        await anyio.to_thread.run_sync(lambda: self.log.write(**row))


router = APIRouter()


@router.get("/api/v1/admin/audit", dependencies=[Depends(require_admin)],
            responses={200: {"content": {"text/csv": {}}, "description": "the trail, oldest first"}})
def audit_export(request: Request, since: str | None = Query(None, max_length=40, examples=["2026-11-01"]),
                 format: Literal["json", "csv"] = "json") -> Response:
    """The audit trail from ``since`` (ISO date or time, UTC) on, as JSON or CSV."""
    if since:
        try:
            when = datetime.fromisoformat(since)
            if when.tzinfo:  # stored times are UTC
                when = when.astimezone(timezone.utc).replace(tzinfo=None)
            since = when.isoformat()
        except ValueError:
            raise error(422, "since 应为日期或时间（如 2026-11-01）", "since must be an ISO date or time") from None
    from api.deps import ctx

    entries = audit.rows(ctx(request).assistant().db, since=since)
    if format == "csv":
        return Response(audit.to_csv(entries), media_type="text/csv; charset=utf-8")
    return Response(audit.to_json(entries), media_type="application/json")
