"""HTTP API over the same library the CLI uses (the web issue grows this).

    uvicorn api.app:app          # or: wenban serve

Routes now: ``GET /healthz``, ``GET /readyz``, ``POST /api/v1/ask`` (a turn of a
conversation: pass back ``session_id`` for clarify choices and follow-ups),
``GET /api/v1/catalogues``, ``GET /api/v1/items/{catalogue}/{code}``, and a
plain question page at ``/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from assistant.answer import MAX_QUESTION_CHARS, Assistant, BadQuestion, UnknownCatalogue
from assistant.dialogue import Dialogue
from store import db as store
from wenban.config import Settings

PAGE = Path(__file__).resolve().parent / "kiosk.html"


class AskRequest(BaseModel):
    question: str = Field(..., max_length=MAX_QUESTION_CHARS * 2, examples=["孩子刚出生怎么上户口"])
    catalogue: str = Field(..., examples=["guangan"])
    session_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$",
                                   description="from an earlier answer; an expired one starts a new session")


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="wenban 问办", version="0.1.0",
                  description="Answers from the official catalogue of government service items.")
    state: dict[str, Any] = {"assistant": assistant, "dialogue": None}

    def get_assistant() -> Assistant:
        if state["assistant"] is None:
            state["assistant"] = Assistant(settings)
        return state["assistant"]

    def get_dialogue() -> Dialogue:
        if state["dialogue"] is None:
            state["dialogue"] = Dialogue(get_assistant())
        return state["dialogue"]

    @app.on_event("startup")
    def _warm() -> None:
        a = get_assistant()
        for c in store.catalogues(a.db):
            a.retriever(c["name"])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, Any]:
        a = state["assistant"]
        loaded = sorted(a._retrievers) if a else []
        if not loaded:
            raise HTTPException(503, "indexes not loaded yet")
        return {"status": "ready", "catalogues": loaded}

    @app.post("/api/v1/ask")
    async def ask(req: AskRequest) -> dict[str, Any]:
        try:
            return await run_in_threadpool(get_dialogue().turn, req.session_id, req.question, req.catalogue)
        except BadQuestion as e:
            raise HTTPException(422, str(e)) from None
        except UnknownCatalogue as e:
            raise HTTPException(404, str(e)) from None

    @app.get("/api/v1/catalogues")
    def list_catalogues() -> list[dict[str, Any]]:
        return [{k: c[k] for k in ("name", "title", "version", "item_count", "source", "licence", "enquiry")}
                for c in store.catalogues(get_assistant().db)]

    @app.get("/api/v1/items/{catalogue}/{code}")
    def item(catalogue: str, code: str) -> dict[str, Any]:
        found = store.get_item(get_assistant().db, catalogue, code)
        if found is None:
            raise HTTPException(404, f"没有该事项 / no item {code} in {catalogue}")
        return found

    @app.get("/", response_class=HTMLResponse)
    def kiosk() -> str:
        return PAGE.read_text(encoding="utf-8")

    return app


def __getattr__(name: str):
    # ``uvicorn api.app:app`` builds the app on first access, not at import.
    if name == "app":
        return create_app()
    raise AttributeError(name)
