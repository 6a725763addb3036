"""The HTTP service's outer guard, one pure ASGI middleware around the app.

It runs before FastAPI parses anything, so it can refuse cheaply:

- **request size**: a body over the route's cap is refused with 413 before it is
  parsed (a declared ``Content-Length`` without reading a byte; a chunked body as
  soon as the running count passes the cap). Public JSON routes get
  ``WENBAN_MAX_BODY`` (16 KiB); the admin import gets the import cap.
- **rate limit** per client on ``/api/`` (``WENBAN_RATE_LIMIT``, moving window,
  429 with ``Retry-After``). The client is the peer address, or the address a
  trusted proxy (``WENBAN_TRUSTED_PROXIES``, none by default) forwarded.
- **security headers** on every response (CSP, nosniff, frame and referrer policy);
  ``/docs`` and ``/redoc`` get a CSP that lets Swagger/ReDoc run their inline script.
- **access log** (``wenban.access``): client, method, path and query (ID-card and
  phone numbers masked), status, time, the admin identity; an unhandled error is
  logged with its traceback and answered with a bilingual 500.

    app = FastAPI(); app.add_middleware(Guard, settings=settings)
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from typing import Any, Callable

from limits import parse, storage, strategies
from starlette.exceptions import HTTPException

from assistant.privacy import mask
from store.importers import MAX_IMPORT_BYTES
from wenban.config import Settings

access_log = logging.getLogger("wenban.access")

# Inline <style> blocks remain in the pages, hence 'unsafe-inline' for styles only;
# scripts come from static files only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Swagger UI and ReDoc start themselves with an inline script.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'")
DOCS_PATHS = ("/docs", "/redoc")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer")]
# multipart framing around the file (boundaries, part headers, the format and title fields)
MULTIPART_SLACK = 64 * 1024


class TooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException so FastAPI's body parsing passes it on
    as a 413 rather than turning it into a 400 "error parsing the body"."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, too_large(cap))


def client_address(scope: dict[str, Any], trusted: tuple[str, ...] = ()) -> str:
    """The peer address; behind a trusted proxy, the nearest address it forwarded that
    is not itself a trusted proxy. ``X-Forwarded-For`` from anyone else is ignored
    (anyone can write one)."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return peer


def _in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def body_cap(method: str, path: str, settings: Settings) -> int:
    if method == "POST" and path.startswith("/api/v1/admin/") and path.endswith("/import"):
        return MAX_IMPORT_BYTES + MULTIPART_SLACK
    return settings.max_body_bytes


async def send_json(send: Callable, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def too_large(cap: int) -> str:
    return f"请求体过大（上限 {cap} 字节）/ request body over {cap} bytes"


class Guard:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        limit = settings.rate_limit.strip()
        self.rate = parse(limit) if limit and limit != "off" else None
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        path, method = scope["path"], scope["method"]
        client = client_address(scope, self.settings.trusted_proxies)
        scope.setdefault("state", {})["client"] = client
        csp = (DOCS_CSP if path.startswith(DOCS_PATHS) else CSP).encode()
        status = {"code": 0}

        async def guarded_send(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"content-security-policy", csp), *HEADERS]
            await send(message)

        try:
            refused = self.refuse(scope, client)
            if refused:
                await send_json(guarded_send, *refused)
            else:
                await self.app(scope, self.capped(scope, receive), guarded_send)
        except TooLarge as e:
            if status["code"]:
                raise
            await send_json(guarded_send, 413, e.detail)
        except Exception:  # noqa: BLE001 - logged with its traceback, answered as a 500
            access_log.exception("%s %s %s failed", client, method, path)
            if not status["code"]:
                await send_json(guarded_send, 500, "服务器内部错误，已记录 / internal server error, it has been logged")
        finally:
            self.log(scope, client, status["code"] or 500, t0)

    def refuse(self, scope, client: str) -> tuple | None:
        """(status, detail, headers) when the request is refused unread, else None."""
        path, method = scope["path"], scope["method"]
        if self.rate and path.startswith("/api/") and not path.startswith("/api/v1/admin/"):
            if not self.limiter.hit(self.rate, client):
                reset = self.limiter.get_window_stats(self.rate, client).reset_time
                wait = max(1, int(reset - time.time()) + 1)
                return (429, f"请求过于频繁，请 {wait} 秒后再试 / too many requests, retry in {wait} s",
                        [(b"retry-after", str(wait).encode())])
        cap = body_cap(method, path, self.settings)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return 400, "Content-Length 无效 / invalid Content-Length", []
            if declared > cap:
                return 413, too_large(cap), []
        return None

    def capped(self, scope, receive) -> Callable:
        cap = body_cap(scope["method"], scope["path"], self.settings)
        seen = 0

        async def receive_capped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise TooLarge(cap)
            return message
        return receive_capped

    def log(self, scope, client: str, status: int, t0: float) -> None:
        # decoded first: "%81" + an ID number would hide the number from the mask
        from urllib.parse import unquote_plus

        raw = scope.get("query_string", b"").decode("latin-1")
        query = f"?{mask(unquote_plus(raw))}" if raw else ""
        admin = scope.get("state", {}).get("admin")
        access_log.info("%s %s %s%s %s %.1fms%s", client, scope["method"], mask(unquote_plus(scope["path"])), query,
                        status, (time.perf_counter() - t0) * 1000, f" admin={admin}" if admin else "")
