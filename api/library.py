"""Admin routes of the question library: staff teach the system, live.

    POST /api/v1/admin/library/questions  {catalogue, question, code | null, out_of_scope, unanswered_id?}
    POST /api/v1/admin/library/synonyms   {catalogue, everyday, official}
    GET  /api/v1/admin/library?catalogue=

Both writes answer 201 with the stored row and take effect for the next
question on every server sharing the store (each checks the library version).
``who`` (body, or the ``X-Wenban-User`` header) goes into the audit trail.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field

from api.deps import ctx, error, require_admin
from store import library as lib

router = APIRouter(dependencies=[Depends(require_admin)])


class QuestionIn(BaseModel):
    catalogue: str = Field(..., max_length=64)
    question: str = Field(..., max_length=lib.MAX_QUESTION * 2)
    code: str | None = Field(None, max_length=128)
    out_of_scope: bool = False
    unanswered_id: int | None = None
    who: str | None = Field(None, max_length=64)


class SynonymIn(BaseModel):
    catalogue: str = Field(..., max_length=64)
    everyday: str = Field(..., max_length=lib.MAX_WORD * 2)
    official: str = Field(..., max_length=lib.MAX_WORD * 4)
    who: str | None = Field(None, max_length=64)


def _who(body_who: str | None, header: str | None) -> str:
    return (body_who or header or "admin").strip()[:64] or "admin"


def _bad(e: lib.LibraryError):
    zh, _, en = str(e).partition(" / ")
    return error(422, zh, en or zh)


@router.post("/api/v1/admin/library/questions", status_code=201)
def add_question(req: QuestionIn, request: Request,
                 x_wenban_user: str | None = Header(None)) -> dict[str, Any]:
    c = ctx(request)
    c.known_catalogue(req.catalogue)
    db = c.assistant().db
    lib.ensure_schema(db)
    if req.unanswered_id is not None and not lib.unanswered_exists(db, req.unanswered_id):
        raise error(422, f"没有编号为 {req.unanswered_id} 的未解答问题",
                    f"unanswered_id: no unanswered question {req.unanswered_id}")
    try:
        row = lib.add_question(db, req.catalogue, req.question, code=req.code, out_of_scope=req.out_of_scope,
                               who=_who(req.who, x_wenban_user), unanswered_id=req.unanswered_id,
                               known_codes=lib.codes(db, req.catalogue))
    except lib.LibraryError as e:
        raise _bad(e) from None
    c.assistant().libraries.drop(req.catalogue)  # this server at once; the others within a second
    return row


@router.post("/api/v1/admin/library/synonyms", status_code=201)
def add_synonym(req: SynonymIn, request: Request, x_wenban_user: str | None = Header(None)) -> dict[str, Any]:
    c = ctx(request)
    c.known_catalogue(req.catalogue)
    db = c.assistant().db
    lib.ensure_schema(db)
    try:
        row = lib.add_synonym(db, req.catalogue, req.everyday, req.official, who=_who(req.who, x_wenban_user))
    except lib.LibraryError as e:
        raise _bad(e) from None
    c.assistant().libraries.drop(req.catalogue)
    return row


@router.get("/api/v1/admin/library")
def listing(request: Request, catalogue: str = Query(..., max_length=64)) -> dict[str, Any]:
    c = ctx(request)
    c.known_catalogue(catalogue)
    db = c.assistant().db
    lib.ensure_schema(db)
    return {"catalogue": catalogue, "version": lib.version(db, catalogue),
            "questions": lib.questions(db, catalogue), "synonyms": lib.synonyms(db, catalogue),
            "audit": lib.audit(db, catalogue)}
