"""HTTP API and pages over the same library the CLI uses.

    wenban serve --port 8000          # or: uvicorn api.app:app

Public: ``POST /api/v1/ask`` (a conversation turn; pass back ``session_id``),
``GET /api/v1/search`` (operator look-up), ``GET /api/v1/catalogues[/{name}/departments|/items]``,
``GET /api/v1/items/{code}``, ``POST /api/v1/feedback``, ``GET /api/v1/qr``,
``/healthz``, ``/readyz``; pages ``/`` (kiosk), ``/operator``, ``/quality``.
Admin, with ``Authorization: Bearer $WENBAN_ADMIN_TOKEN`` (no token configured:
admin routes answer 404): catalogue import and reindex (``api/admin_catalogues.py``),
the quality data, the question library, dispatch catalogues and history.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, StrictBool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import audit
from api.admission import Admission
from api import admin_catalogues
from api import dispatch as dispatch_routes
from api.deps import Context, error, no_index
from api.library import router as library_router
from api.watch import Watcher
from api.openapi import bilingual, declare_errors
from api.security import Guard
from assistant.answer import MAX_QUESTION_CHARS, Assistant, BadQuestion, check_question
from assistant.card import spoken_answer
from assistant.dispatch import router_for
from api.pages_api import router as pages_router
from api.sites import router as sites_router
from assistant.sites import BadSite
from assistant.privacy import mask
from store import db as store
from index.build import IndexUnavailable, sweep
from store.urls import safe_url
from wenban.config import Settings

PAGES = Path(__file__).resolve().parent / "pages"
SESSION_ID = r"^[0-9a-f]{32}$"
access_log = logging.getLogger("wenban.access")


class SVGResponse(Response):
    media_type = "image/svg+xml"


class AskRequest(BaseModel):
    question: str = Field(..., max_length=MAX_QUESTION_CHARS, examples=["孩子刚出生怎么上户口"])
    catalogue: str | None = Field(None, max_length=64, examples=["guangan"],
                                  description="may be left out when a site is given")
    site: str | None = Field(None, max_length=64, examples=["广安区政务服务中心", "440100"],
                             description="a configured site or a 行政区划代码: only items serving its area")
    level: Literal["省", "市", "县"] | None = Field(
        None, description="only items implemented at this level (省 | 市 | 县); another value is a 422")
    session_id: str | None = Field(None, pattern=SESSION_ID,
                                   description="from an earlier answer; an expired one starts a new session")


class FeedbackRequest(BaseModel):
    session_id: str = Field(..., pattern=SESSION_ID)
    answer_code: str = Field(..., min_length=1, max_length=128)
    helpful: StrictBool  # true or false only: not 0, 1 or "yes"
    comment: str | None = Field(None, max_length=1000)
    catalogue: str | None = Field(None, max_length=64)
    question: str | None = Field(None, max_length=MAX_QUESTION_CHARS * 2,
                                 description="the question that was answered, for the quality page (masked)")


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="wenban 问办", version="0.2.0",
                  description="Answers from the official catalogue of government service items.",
                  docs_url=None, redoc_url=None)  # served from local assets by api.pages_api
    # shared with the routers of other modules through ``api.deps.ctx(request)``
    context = app.state.ctx = Context(settings, assistant)
    app.include_router(dispatch_routes.router)
    get_assistant, get_dialogue, known_catalogue = context.assistant, context.dialogue, context.known_catalogue

    # ------------------------------------------------------------ plumbing --
    # outermost first: Guard (size, rate, headers, access log) then AdminGate (token, lockout, audit)
    app.add_middleware(audit.AdminGate, settings=settings)
    app.add_middleware(Guard, settings=settings)
    app.include_router(audit.router)
    admission = app.state.admission = Admission(settings.ask_workers, settings.ask_queue)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = bilingual(exc.status_code, exc.detail) if isinstance(exc.detail, str) else exc.detail
        return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"detail": f"请求参数有误 / invalid request: {where}"})

    @app.exception_handler(IndexUnavailable)
    async def _broken_index(request: Request, exc: IndexUnavailable) -> JSONResponse:
        # one damaged catalogue answers 503 with the file named; the others serve
        return JSONResponse(status_code=503, content={
            "detail": f"该目录的索引已损坏，暂时无法回答 / {exc}"})

    @app.exception_handler(store.StoreUnavailable)
    async def _store_down(request: Request, exc: store.StoreUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={
            "detail": f"数据库暂时不可用，未能保存，请稍后再试 / the database is unavailable, nothing was stored: {exc}"})

    @app.on_event("startup")
    def _warm() -> None:
        # what a killed process left: half-done builds, uploads being read
        for p in sweep(settings, at_start=True):
            access_log.warning("removed a leftover of an interrupted build: %s", p)
        for p in sweep_uploads(settings):
            access_log.warning("removed a leftover upload: %s", p)
        a = get_assistant()
        for c in store.catalogues(a.db):
            try:
                a.retriever(c["name"])
            except FileNotFoundError:
                access_log.warning("catalogue %s has no index yet", c["name"])
            except IndexUnavailable as e:  # serve the others; this one answers 503
                access_log.error("%s", e)
        # the dispatch categories' vectors, once per process (cached on disk after the
        # first), in the background so the first 诉求 does not wait for them
        threading.Thread(target=_warm_routers, args=(a,), name="wenban-warm-dispatch", daemon=True).start()
        start_retention(settings)
        # follow the shared store: new catalogue versions from any node reach this process
        context.watcher = Watcher(a, settings).start()

    @app.on_event("shutdown")
    def _stop_watch() -> None:
        if getattr(context, "watcher", None):
            context.watcher.stop()

    # probes are async: they run on the event loop, never waiting for the thread pool
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, Any]:
        a = context.loaded
        loaded = sorted(a._retrievers) if a else []
        if not loaded:
            raise error(503, "索引尚未加载", "indexes not loaded yet")
        watcher = getattr(context, "watcher", None)
        # the store being down does not stop answers (indexes carry their items), so the
        # process stays ready; "store" tells operators that writes are failing
        return {"status": "ready", "catalogues": loaded,
                **(watcher.status() if watcher else {"store": "unknown"})}

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
            async with admission.slot():
                return await run_in_threadpool(get_dialogue().turn, req.session_id, req.question, catalogue,
                                               req.site, req.level)
        except BadQuestion as e:
            raise HTTPException(422, str(e)) from None
        except FileNotFoundError:
            raise no_index(catalogue) from None

    def site_catalogue(site: str, catalogue: str | None) -> str:
        if catalogue:
            known_catalogue(catalogue)  # an unknown one is a 404 here, not an error inside the site lookup
        try:
            return get_assistant().site(site, catalogue).catalogue
        except BadSite as e:
            raise HTTPException(422, str(e)) from None

    @app.get("/api/v1/search")
    async def search(q: str = Query(..., max_length=MAX_QUESTION_CHARS), catalogue: str | None = Query(None),
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
        async with admission.slot():
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
        # only what was really answered: a known catalogue, item and live session
        if req.catalogue:
            known_catalogue(req.catalogue)
        cats = store.find_code(get_assistant().db, req.answer_code)
        if not cats or (req.catalogue and req.catalogue not in cats):
            raise error(404, "没有该事项", f"no item {req.answer_code}")
        if not get_dialogue().has(req.session_id):
            raise error(404, "会话不存在或已过期", "unknown or expired session")
        try:
            fid = store.add_feedback(get_assistant().db, req.session_id, req.answer_code, req.helpful,
                                     mask(req.comment) if req.comment else None, req.catalogue,
                                     question=mask(req.question) if req.question else None)
        except store.StoreUnavailable as e:  # disk full, locked too long, database down: nothing written
            raise error(503, "反馈未能保存，请稍后再试", f"feedback could not be saved ({e.reason}); "
                                               "please try again later") from None
        return {"id": fid}

    @app.get("/api/v1/qr", response_class=SVGResponse,
             responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
    def qr(data: str = Query(..., min_length=1, max_length=1000)) -> Response:
        """The official guide link (http or https only) as an SVG QR code, made here."""
        import io

        import segno

        url = safe_url(data)
        if url is None:
            raise error(422, "只能为 http(s) 链接生成二维码", "only http(s) links are encoded")
        buf = io.BytesIO()
        try:
            segno.make(url, error="m").save(buf, kind="svg", scale=6, border=2)
        except segno.DataOverflowError:
            raise error(422, "链接过长，无法生成二维码", "the link is too long for a QR code") from None
        return SVGResponse(buf.getvalue())

    app.include_router(admin_catalogues.router)  # import, reindex, eval plots

    # --------------------------------------------------------------- pages --
    app.include_router(pages_router)  # static files, docs, quality data and actions

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

    app.include_router(library_router)
    declare_errors(app)
    return app


def _warm_routers(a: Assistant) -> None:
    try:  # the everyday messages' vectors too (assistant/offtopic.py): the first question does not wait
        a.offtopic()
    except Exception as e:  # noqa: BLE001 - embedded on the first question instead
        access_log.warning("out-of-scope messages not warmed: %s", e)
    for c in store.catalogues(a.db):
        try:
            router_for(a.db, c["name"], embedder=a.embedder, cache=a.embedding_cache())
        except Exception as e:  # noqa: BLE001 - a cold router is built on the first 诉求 instead
            access_log.warning("dispatch router for %s not warmed: %s", c["name"], e)


def sweep_uploads(settings: Settings) -> list[Path]:
    """Uploads a killed server was still reading (the live ones are removed in ``finally``)."""
    folder = settings.uploads_dir
    gone = [p for p in folder.glob("upload-*")] if folder.is_dir() else []
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


_retention_started: set = set()


def start_retention(settings: Settings, every_s: float = 24 * 3600) -> None:
    """Delete stored questions and comments past ``WENBAN_RETENTION_DAYS`` now and
    then daily, in a background thread (one per store)."""
    def purge() -> None:
        db = store.open_db(settings.database, busy_ms=settings.db_busy_ms)
        try:
            n = store.purge_older_than(db, settings.retention_days)
            if n:
                access_log.info("retention: removed %d questions/comments older than %d days",
                                n, settings.retention_days)
        except Exception as e:  # noqa: BLE001 - a failed purge is retried tomorrow, never fatal
            access_log.warning("retention purge failed: %s", e)
        finally:
            db.close()

    purge()
    if settings.retention_days <= 0 or settings.database in _retention_started:
        return
    _retention_started.add(settings.database)

    def loop() -> None:
        while True:
            time.sleep(every_s)
            purge()

    threading.Thread(target=loop, name="wenban-retention", daemon=True).start()


def __getattr__(name: str):
    # ``uvicorn api.app:app`` builds the app on first access, not at import.
    if name == "app":
        return create_app()
    raise AttributeError(name)

