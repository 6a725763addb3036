"""Dispatch routes: the category tree, routing a 诉求 for the operator's 派单 view,
operators' category corrections (they teach the router), and admin imports of a
dispatch catalogue and of past work orders.

    GET  /api/v1/dispatch/categories?catalogue=guangan
    POST /api/v1/dispatch/route                      {question, catalogue}
    POST /api/v1/admin/dispatch/corrections          {catalogue, question, category, session_id?}
    GET  /api/v1/admin/dispatch/corrections?catalogue=
    POST /api/v1/admin/dispatch/{catalogue}/categories   (multipart file)
    POST /api/v1/admin/dispatch/{catalogue}/history      (multipart file)
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import ctx, error, import_failed, require_admin, save_upload
from assistant.answer import MAX_QUESTION_CHARS, BadQuestion, check_question
from assistant.dispatch import router_for, summary
from assistant.privacy import mask
from assistant.workorder import extract
from store import dispatch as ds
from store.importers import MAX_IMPORT_BYTES, ImportFailed

router = APIRouter()


class RouteRequest(BaseModel):
    question: str = Field(..., max_length=MAX_QUESTION_CHARS * 2, examples=["楼下饭店油烟扰民"])
    catalogue: str = Field(..., max_length=64, examples=["guangan"])


class CorrectionRequest(BaseModel):
    catalogue: str = Field(..., max_length=64)
    question: str = Field(..., max_length=MAX_QUESTION_CHARS * 2)
    category: list[str] = Field(..., min_length=1, max_length=3)
    session_id: str | None = Field(None, max_length=64)


def _db(request: Request):
    return ctx(request).assistant().db


@router.get("/api/v1/dispatch/categories")
def categories(request: Request, catalogue: str = Query(..., max_length=64)) -> dict[str, Any]:
    ctx(request).known_catalogue(catalogue)
    rows = ds.categories(_db(request), catalogue)
    return {"catalogue": catalogue, "own": ds.version(_db(request), catalogue, "categories") > 0,
            "tree": ds.category_tree(rows)}


@router.post("/api/v1/dispatch/route")
def route(request: Request, req: RouteRequest) -> dict[str, Any]:
    """The dispatch block for any text, whatever its intent (the operator decides)."""
    ctx(request).known_catalogue(req.catalogue)
    try:
        text = check_question(req.question)
    except BadQuestion as e:
        raise error(422, "问题无效", str(e)) from None
    a = ctx(request).assistant()
    block = router_for(_db(request), req.catalogue, embedder=a.embedder, cache=a.embedding_cache()).route(text)
    return {"question": mask(text), "catalogue": req.catalogue,
            "dispatch": {**block, "extracted": extract(mask(text)), "summary": summary(text)}}


@router.post("/api/v1/admin/dispatch/corrections", status_code=201, dependencies=[Depends(require_admin)])
def add_correction(request: Request, req: CorrectionRequest) -> dict[str, Any]:
    ctx(request).known_catalogue(req.catalogue)
    try:
        text = check_question(req.question)
    except BadQuestion as e:
        raise error(422, "问题无效", str(e)) from None
    rows = ds.categories(_db(request), req.catalogue)
    want = [c.strip() for c in req.category if c and c.strip()]
    if not any([x for x in (r["l1"], r["l2"], r["l3"]) if x][: len(want)] == want for r in rows):
        raise error(422, f"没有分类“{'/'.join(want)}”", f"no category {'/'.join(want)!r} in this dispatch catalogue")
    return ds.add_correction(_db(request), req.catalogue, mask(text), want, req.session_id)


@router.get("/api/v1/admin/dispatch/corrections", dependencies=[Depends(require_admin)])
def list_corrections(request: Request, catalogue: str = Query(..., max_length=64)) -> list[dict[str, Any]]:
    ctx(request).known_catalogue(catalogue)
    return ds.corrections(_db(request), catalogue)


async def _upload(request: Request, catalogue: str, file: UploadFile, load, store) -> Any:
    ctx(request).known_catalogue(catalogue)
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    # beside the catalogue uploads, so a server killed mid-read leaves nothing the next
    # start does not sweep (api.app.sweep_uploads)
    folder = ctx(request).settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload-{secrets.token_hex(8)}{suffix}"
    try:
        await save_upload(file, path, MAX_IMPORT_BYTES)
        try:
            rows = await run_in_threadpool(load, path)
        except ImportFailed as e:
            return import_failed(e, file.filename)
    finally:
        path.unlink(missing_ok=True)
    return await run_in_threadpool(lambda: store(_db(request), catalogue, rows))


@router.post("/api/v1/admin/dispatch/{catalogue}/categories", dependencies=[Depends(require_admin)])
async def import_categories(request: Request, catalogue: str, file: UploadFile = File(...)) -> Any:
    return await _upload(request, catalogue, file, ds.load_categories, ds.import_categories)


@router.post("/api/v1/admin/dispatch/{catalogue}/history", dependencies=[Depends(require_admin)])
async def import_history(request: Request, catalogue: str, file: UploadFile = File(...)) -> Any:
    return await _upload(request, catalogue, file, ds.load_history,
                         lambda db, cat, rows: ds.import_history(db, cat, rows, mask=mask))

