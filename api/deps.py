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

from fastapi import Header, HTTPException, Request

from assistant.answer import Assistant, UnknownCatalogue
from assistant.dialogue import Dialogue
from assistant.sessions import StoreSessions
from wenban.config import Settings


def error(status: int, zh: str, en: str) -> HTTPException:
    """An HTTP error whose ``detail`` says why in Chinese and English."""
    return HTTPException(status, f"{zh} / {en}")


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


def require_admin(request: Request, authorization: str | None = Header(None)) -> None:
    """Admin routes: ``Authorization: Bearer $WENBAN_ADMIN_TOKEN``; off (404) with no token set."""
    token = ctx(request).settings.admin_token
    if not token:
        raise error(404, "管理功能未开启", "admin routes are off (no WENBAN_ADMIN_TOKEN)")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise error(401, "需要管理口令", "admin token required")
