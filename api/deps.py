"""What every router of the app shares: the settings, the assistant, the dialogue,
the admin check and the bilingual error.

Routers live in their own modules and reach the running app's state through
``ctx(request)``; ``api/app.py`` includes them::

    from fastapi import APIRouter, Depends, Request
    from api.deps import ctx, require_admin

    router = APIRouter()

    @router.get("/api/v1/admin/thing", dependencies=[Depends(require_admin)])
    def thing(request: Request) -> dict:
        return {"catalogues": ctx(request).assistant().db["catalogues"].count}
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

from fastapi import Depends, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.answer import Assistant, UnknownCatalogue
from assistant.dialogue import Dialogue
from assistant.sessions import StoreSessions
from store.importers import ImportFailed
from wenban.config import Settings


def error(status: int, zh: str, en: str) -> HTTPException:
    """An HTTP error whose ``detail`` says why in Chinese and English."""
    return HTTPException(status, f"{zh} / {en}")


async def save_upload(file: UploadFile, path: Path, cap: int) -> None:
    """Stream an upload to ``path`` in 1 MiB chunks; 413 as soon as it passes ``cap`` bytes."""
    size = 0
    with open(path, "wb") as out:
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > cap:
                raise error(413, "文件过大", f"file over {cap >> 20} MiB")
            out.write(chunk)


def import_failed(e: ImportFailed, filename: str | None) -> JSONResponse:
    """An all-or-nothing import that failed: 422 with each row's problem (the first
    ones, and how many in all)."""
    return JSONResponse(status_code=422, content={
        "detail": "导入失败，未写入任何数据 / import failed, nothing was written",
        "error_count": e.total, "shown": len(e.errors),
        "errors": [{"file": filename, "row": err.row, "field": err.field, "reason": err.reason}
                   for err in e.errors]})


def no_index(catalogue: str) -> HTTPException:
    return error(503, "该目录尚未建立索引", f"catalogue {catalogue!r} has no index yet: reindex it")


class Context:
    """The app's shared objects, made on first use (the model loads once)."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self._assistant = assistant
        self._dialogue: Dialogue | None = None
        self._lock = threading.Lock()
        self.watcher = None  # api.watch.Watcher, started with the app

    def assistant(self) -> Assistant:
        if self._assistant is None:
            with self._lock:
                if self._assistant is None:
                    self._assistant = Assistant(self.settings)
        return self._assistant

    @property
    def loaded(self) -> Assistant | None:
        """The assistant if it has been made, without making it (for probes)."""
        return self._assistant

    def dialogue(self) -> Dialogue:
        if self._dialogue is None:
            with self._lock:
                if self._dialogue is None:
                    a = self.assistant()
                    # conversation state in the shared store: any worker or replica answers any turn
                    self._dialogue = Dialogue(a, sessions=StoreSessions(lambda: a.db))
        return self._dialogue

    def known_catalogue(self, name: str) -> dict:
        try:
            return self.assistant().catalogue(name)
        except UnknownCatalogue:
            raise error(404, f"没有名为 {name} 的目录", f"unknown catalogue {name!r}") from None


def ctx(request: Request) -> Context:
    return request.app.state.ctx


# declared in the OpenAPI document as the admin routes' security scheme
bearer_scheme = HTTPBearer(auto_error=False, description="WENBAN_ADMIN_TOKEN")


def require_admin(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> None:
    """Admin routes: ``Authorization: Bearer $WENBAN_ADMIN_TOKEN``; off (404) with no token set.
    ``api.audit.AdminGate`` has already checked the token (and audits); this is the route's own check."""
    token = ctx(request).settings.admin_token
    if not token:
        raise error(404, "管理功能未开启", "admin routes are off (no WENBAN_ADMIN_TOKEN)")
    # the Bearer scheme is required: a bare token is refused
    given = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else ""
    if not given or not secrets.compare_digest(given.encode(), token.encode()):
        raise error(401, "需要管理口令", "admin token required")
