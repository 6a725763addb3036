"""HTTP API and pages over the same library the CLI uses.

    wenban serve --port 8000          # or: uvicorn api.app:app

Public: ``POST /api/v1/ask`` (a conversation turn; pass back ``session_id``),
``GET /api/v1/search`` (operator look-up), ``GET /api/v1/catalogues[/{name}/departments|/items]``,
``GET /api/v1/items/{code}``, ``POST /api/v1/feedback``, ``GET /api/v1/qr``,
``/healthz``, ``/readyz``; pages ``/`` (kiosk), ``/operator``, ``/quality``.
Admin, with ``Authorization: Bearer $WENBAN_ADMIN_TOKEN`` (no token configured:
admin routes answer 404): catalogue import, reindex, the quality data.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import Context, error, no_index, require_admin
from api.sites import router as sites_router
from assistant.answer import MAX_QUESTION_CHARS, Assistant, BadQuestion, check_question, spoken_answer
from assistant.sites import BadSite
from assistant.privacy import mask
from store import db as store
from store.importers import MAX_IMPORT_BYTES, ImportFailed, load_file
from wenban.config import Settings

PAGES = Path(__file__).resolve().parent / "pages"
SESSION_ID = r"^[0-9a-f]{32}$"
access_log = logging.getLogger("wenban.access")


class AskRequest(BaseModel):
    question: str = Field(..., max_length=MAX_QUESTION_CHARS * 2, examples=["孩子刚出生怎么上户口"])
    catalogue: str | None = Field(None, max_length=64, examples=["guangan"],
                                  description="may be left out when a site is given")
    site: str | None = Field(None, max_length=64, examples=["广安区政务服务中心", "440100"],
                             description="a configured site or a 行政区划代码: only items serving its area")
    session_id: str | None = Field(None, pattern=SESSION_ID,
                                   description="from an earlier answer; an expired one starts a new session")


class FeedbackRequest(BaseModel):
    session_id: str = Field(..., pattern=SESSION_ID)
    answer_code: str = Field(..., min_length=1, max_length=128)
    helpful: bool
    comment: str | None = Field(None, max_length=1000)
    catalogue: str | None = Field(None, max_length=64)


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="wenban 问办", version="0.2.0",
                  description="Answers from the official catalogue of government service items.")
    # shared with the routers of other modules through ``api.deps.ctx(request)``
    context = app.state.ctx = Context(settings, assistant)
    get_assistant, get_dialogue, known_catalogue = context.assistant, context.dialogue, context.known_catalogue
    admin = require_admin

    # ------------------------------------------------------------ plumbing --
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"detail": f"请求参数有误 / invalid request: {where}"})

    @app.middleware("http")
    async def _log(request: Request, call_next):
        # our own access log, with ID-card and phone numbers masked (uvicorn's is off)
        t = time.perf_counter()
        response = await call_next(request)
        # decoded first: "%81" + an ID number would hide the number from the mask
        query = f"?{mask(unquote_plus(str(request.url.query)))}" if request.url.query else ""
        access_log.info("%s %s%s %s %.1fms", request.method, mask(unquote_plus(request.url.path)), query,
                        response.status_code, (time.perf_counter() - t) * 1000)
        return response

    @app.on_event("startup")
    def _warm() -> None:
        a = get_assistant()
        for c in store.catalogues(a.db):
            try:
                a.retriever(c["name"])
            except FileNotFoundError:
                access_log.warning("catalogue %s has no index yet", c["name"])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, Any]:
        a = context.loaded
        loaded = sorted(a._retrievers) if a else []
        if not loaded:
            raise error(503, "索引尚未加载", "indexes not loaded yet")
        return {"status": "ready", "catalogues": loaded}

    app.include_router(sites_router)

    # -------------------------------------------------------------- public --
    @app.post("/api/v1/ask")
    async def ask(req: AskRequest) -> dict[str, Any]:
        catalogue = req.catalogue
        if req.site:
            catalogue = site_catalogue(req.site, catalogue)
        elif not catalogue:
            raise error(422, "请指定目录或服务点", "give a catalogue or a site")
        known_catalogue(catalogue)
        try:
            return await run_in_threadpool(get_dialogue().turn, req.session_id, req.question, catalogue, req.site)
        except BadQuestion as e:
            raise HTTPException(422, str(e)) from None
        except FileNotFoundError:
            raise no_index(catalogue) from None

    def site_catalogue(site: str, catalogue: str | None) -> str:
        try:
            return get_assistant().site(site, catalogue).catalogue
        except BadSite as e:
            raise HTTPException(422, str(e)) from None

    @app.get("/api/v1/search")
    async def search(q: str = Query(..., max_length=MAX_QUESTION_CHARS * 2), catalogue: str | None = Query(None),
                     k: int = Query(8, ge=1, le=20), site: str | None = Query(None, max_length=64),
                     level: str | None = Query(None, pattern="^(省|市|县)$")) -> dict[str, Any]:
        """Ranked candidates for the operator console: no dialogue, no clarify.
        ``site``: a configured site or any 行政区划代码; ``level``: 省 | 市 | 县."""
        area = None
        if site:
            catalogue = site_catalogue(site, catalogue)
            area = get_assistant().site(site, catalogue).area_code
        elif not catalogue:
            raise error(422, "请指定目录或服务点", "give a catalogue or a site")
        known_catalogue(catalogue)
        try:
            text = check_question(q)
        except BadQuestion as e:
            raise HTTPException(422, str(e)) from None
        try:
            r = get_assistant().retriever(catalogue)
        except FileNotFoundError:
            raise no_index(catalogue) from None
        res = await run_in_threadpool(lambda: r.search(text, k, area=area, level=level))
        top = res.candidates[0] if res.candidates else None
        return {"question": text, "in_scope": bool(top and top.score >= r.calibration.threshold),
                "candidates": [c.public() for c in res.candidates[:k]]}

    @app.get("/api/v1/catalogues")
    def list_catalogues() -> list[dict[str, Any]]:
        return [{k: c[k] for k in ("name", "title", "version", "item_count", "source", "licence", "enquiry")}
                for c in store.catalogues(get_assistant().db)]

    @app.get("/api/v1/catalogues/{name}/departments")
    def departments(name: str) -> list[dict[str, Any]]:
        known_catalogue(name)
        return store.department_counts(get_assistant().db, name)

    @app.get("/api/v1/catalogues/{name}/items")
    def browse(name: str, q: str | None = Query(None, max_length=100), department: str | None = None,
               type: str | None = None, page: int = Query(1, ge=1, le=10_000)) -> dict[str, Any]:
        known_catalogue(name)
        return store.browse_items(get_assistant().db, name, q=q, department=department, type_=type, page=page)

    @app.get("/api/v1/items/{code}")
    def item(code: str, catalogue: str | None = None) -> dict[str, Any]:
        a = get_assistant()
        cats = store.find_code(a.db, code)
        if catalogue:
            cats = [c for c in cats if c == catalogue]
        if not cats:
            raise error(404, "没有该事项", f"no item {code}")
        if len(cats) > 1:
            raise error(409, "多个目录有此编码，请指定目录", f"code {code} is in {', '.join(cats)}: add ?catalogue=")
        card = a.card(cats[0], code)
        return {**card, "catalogue": cats[0], "spoken": spoken_answer(card)}

    @app.post("/api/v1/feedback", status_code=201)
    def feedback(req: FeedbackRequest) -> dict[str, Any]:
        fid = store.add_feedback(get_assistant().db, req.session_id, req.answer_code, req.helpful,
                                 mask(req.comment) if req.comment else None, req.catalogue)
        return {"id": fid}

    @app.get("/api/v1/qr")
    def qr(data: str = Query(..., min_length=1, max_length=1000)) -> Response:
        """The official guide link as an SVG QR code, made here: no outside service."""
        import io

        import segno

        buf = io.BytesIO()
        segno.make(data, error="m").save(buf, kind="svg", scale=6, border=2)
        return Response(buf.getvalue(), media_type="image/svg+xml")

    # --------------------------------------------------------------- admin --
    @app.post("/api/v1/admin/catalogues/{name}/import", dependencies=[Depends(admin)])
    async def import_catalogue(name: str, file: UploadFile = File(...), format: str = Form("generic"),
                               title: str | None = Form(None)) -> dict[str, Any]:
        if not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
            raise error(422, "目录名只能用小写字母、数字、-、_", "catalogue names are a-z, 0-9, - and _")
        suffix = Path(file.filename or "upload.csv").suffix.lower()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            size = 0
            with open(path, "wb") as out:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_IMPORT_BYTES:
                        raise error(413, "文件过大", f"file over {MAX_IMPORT_BYTES >> 20} MiB")
                    out.write(chunk)
            try:
                data = await run_in_threadpool(load_file, path, format, name)
            except ImportFailed as e:
                return JSONResponse(status_code=422, content={
                    "detail": "导入失败，未写入任何数据 / import failed, nothing was written",
                    "errors": [{"file": file.filename, "row": err.row, "field": err.field, "reason": err.reason}
                               for err in e.errors]})
            except ValueError as e:
                raise error(422, "格式不支持", str(e)) from None
        if title:
            data.title = title
        data.source = data.source or file.filename
        # in the worker thread, with that thread's own connection
        result = await run_in_threadpool(lambda: store.import_catalogue(get_assistant().db, data))
        return {"summary": result.summary(), "version": result.version, "added": result.added,
                "changed": result.changed, "removed": result.removed}

    @app.post("/api/v1/admin/catalogues/{name}/reindex", dependencies=[Depends(admin)])
    async def reindex(name: str) -> dict[str, Any]:
        """Build a new index while the old one keeps answering; swap when loaded.
        A failed build leaves the old one serving."""
        known_catalogue(name)
        from index.build import build_index

        a = get_assistant()

        def rebuild() -> dict[str, Any]:
            db = store.open_db(settings.db_path)  # this thread's own connection
            manifest = build_index(settings, db, name, a.embedder, log=access_log.info, progress=False)
            a.reload(name)
            return manifest

        try:
            return await run_in_threadpool(rebuild)
        except Exception as e:  # noqa: BLE001 - any failure: report it, keep serving the old index
            access_log.error("reindex of %s failed: %s", name, e)
            raise error(500, "重建索引失败，旧索引继续服务", f"reindex failed, the old index keeps serving: {e}") \
                from None

    @app.get("/api/v1/admin/quality", dependencies=[Depends(admin)])
    def quality() -> dict[str, Any]:
        db = get_assistant().db
        report_path = settings.home / "eval" / "latest" / "report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        log = store.unanswered(db, limit=1000)
        norm = [re.sub(r"[\W_]+", "", e["question"]) for e in log]
        counts = Counter(norm)
        near = Counter((e["candidates"][0]["code"] if e["candidates"] else None) for e in log)
        groups, seen = [], set()
        for e, n in zip(log, norm):
            if n in seen:
                continue
            seen.add(n)
            top = e["candidates"][0] if e["candidates"] else None
            groups.append({"question": e["question"], "catalogue": e["catalogue"], "kind": e["kind"], "at": e["at"],
                           "count": counts[n], "near_item": top,
                           "similar": near[top["code"]] if top else 0})
        return {"eval": report and {"reports": [{k: v for k, v in r.items() if k != "failures"}
                                                for r in report["reports"] if r["mode"] == "hybrid"],
                                    "dialogues": report["dialogues"]},
                "unanswered": groups, "not_helpful": store.feedback(db, helpful=False)}

    @app.get("/api/v1/admin/eval/{name}", dependencies=[Depends(admin)])
    def eval_file(name: str) -> FileResponse:
        path = settings.home / "eval" / "latest" / name
        if not re.fullmatch(r"[\w.-]+\.png", name) or not path.exists():
            raise error(404, "没有该文件", f"no file {name}")
        return FileResponse(path, media_type="image/png")

    # --------------------------------------------------------------- pages --
    def page(name: str) -> HTMLResponse:
        return HTMLResponse((PAGES / name).read_text(encoding="utf-8"))

    @app.get("/", response_class=HTMLResponse)
    def kiosk() -> HTMLResponse:
        return page("kiosk.html")

    @app.get("/operator", response_class=HTMLResponse)
    def operator() -> HTMLResponse:
        return page("operator.html")

    @app.get("/quality", response_class=HTMLResponse)
    def quality_page() -> HTMLResponse:
        return page("quality.html")

    return app


def __getattr__(name: str):
    # ``uvicorn api.app:app`` builds the app on first access, not at import.
    if name == "app":
        return create_app()
    raise AttributeError(name)

