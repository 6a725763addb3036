"""What the pages need from the server: their static files, the API docs served
locally, the pages' settings, and the quality page's data and actions.

    GET  /static/kiosk.js                       a page's script or style (api/pages/)
    GET  /static/docs/swagger-ui-bundle.js      the docs' assets, from the fastapi-offline wheel
    GET  /docs, /redoc                          the OpenAPI docs, nothing from a CDN
    GET  /api/v1/pages/config                   {hall_name, timezone, kiosk_catalogue, idle_seconds}
    GET  /api/v1/admin/quality                  eval, unanswered (per catalogue), not-helpful rows
    POST /api/v1/admin/quality/handled          {kind, ids, handled}: mark rows dealt with
    GET  /api/v1/admin/quality/export?kind=     the unanswered or not-helpful rows as CSV
    POST /api/v1/admin/evaluations                 {catalogue?, split?}: run an evaluation in the background
    GET  /api/v1/admin/evaluations                 its progress: {state, done, total, catalogue, error}
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import fastapi_offline
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from api.deps import ctx, error, require_admin
from store import db as store

PAGES = Path(__file__).resolve().parent / "pages"
DOC_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
STATIC = re.compile(r"[a-z][a-z0-9_-]*\.(js|css|svg)")
MEDIA = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml", "png": "image/png"}
IDLE_SECONDS = 120

router = APIRouter()


# ---------------------------------------------------------------- static --
@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> FileResponse:
    if not STATIC.fullmatch(name) or not (PAGES / name).is_file():
        raise error(404, "没有该文件", f"no file {name}")
    return FileResponse(PAGES / name, media_type=MEDIA[name.rsplit(".", 1)[1]],
                        headers={"Cache-Control": "no-cache"})


@router.get("/static/docs/{name}", include_in_schema=False)
def doc_asset(name: str) -> FileResponse:
    path = DOC_ASSETS / name
    if name not in {p.name for p in DOC_ASSETS.iterdir()}:
        raise error(404, "没有该文件", f"no file {name}")
    return FileResponse(path, media_type=MEDIA.get(name.rsplit(".", 1)[1], "application/octet-stream"))


# The docs pages carry no inline script, so a CSP of script-src 'self' holds.
SWAGGER = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>wenban 问办 API</title>
<link rel="stylesheet" href="/static/docs/swagger-ui.css"><link rel="icon" href="/static/docs/favicon.png"></head>
<body><div id="swagger-ui"></div><script src="/static/docs/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js"></script></body></html>"""
REDOC = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>wenban 问办 API</title>
<link rel="icon" href="/static/docs/favicon.png"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/static/docs/redoc.standalone.js"></script></body></html>"""


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    return HTMLResponse(SWAGGER)


@router.get("/redoc", include_in_schema=False)
def redoc() -> HTMLResponse:
    # ReDoc's sidebar asks cdn.redoc.ly for its logo (no option turns it off): the
    # policy stops that request before it leaves; the logo hides itself on error.
    return HTMLResponse(REDOC, headers={"Content-Security-Policy": "img-src 'self' data: blob:"})


# ---------------------------------------------------------------- config --
def hall_zone(name: str) -> str:
    """The configured time zone if Python knows it, else Asia/Shanghai."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        return "Asia/Shanghai"


@router.get("/api/v1/pages/config")
def pages_config(request: Request) -> dict[str, Any]:
    """What the pages need to know about this hall (WENBAN_HALL_NAME, WENBAN_TIMEZONE,
    WENBAN_KIOSK_CATALOGUE)."""
    s = ctx(request).settings
    return {"hall_name": s.hall_name, "timezone": hall_zone(s.timezone),
            "kiosk_catalogue": s.kiosk_catalogue or None, "idle_seconds": IDLE_SECONDS}


# --------------------------------------------------------------- quality --
def handled_ids(db, kind: str) -> set[int]:
    if "handled" not in db.table_names():
        return set()
    return {r["row_id"] for r in db.query("select row_id from handled where kind = ?", [kind])}


def unanswered_groups(db, include_handled: bool = False) -> list[dict[str, Any]]:
    """The unanswered log, one row per catalogue and question (punctuation ignored),
    with how often it came and how many questions came nearest the same item."""
    done = handled_ids(db, "unanswered")
    log = [e for e in store.unanswered(db, limit=2000) if include_handled or e["id"] not in done]
    key = [(e["catalogue"], re.sub(r"[\W_]+", "", e["question"])) for e in log]
    near = Counter((e["catalogue"], e["candidates"][0]["code"]) for e in log if e["candidates"])
    groups: dict[tuple, dict[str, Any]] = {}
    for e, k in zip(log, key):
        g = groups.get(k)
        if g is None:
            top = e["candidates"][0] if e["candidates"] else None
            g = groups[k] = {"question": e["question"], "catalogue": e["catalogue"], "kind": e["kind"],
                             "at": e["at"], "count": 0, "ids": [], "near_item": top,
                             "similar": near[(e["catalogue"], top["code"])] if top else 0,
                             "handled": e["id"] in done}
        g["count"] += 1
        g["ids"].append(e["id"])
    return list(groups.values())


def not_helpful(db, include_handled: bool = False) -> list[dict[str, Any]]:
    """"Not helpful" votes with the item's name, so staff see what was answered."""
    done = handled_ids(db, "feedback")
    rows = []
    for f in store.feedback(db, helpful=False, limit=1000):
        if f["id"] in done and not include_handled:
            continue
        item = store.get_item(db, f["catalogue"], f["answer_code"]) if f["catalogue"] else None
        rows.append({**f, "item_name": item["name"] if item else None,
                     "department": item["department"] if item else None, "handled": f["id"] in done})
    return rows


@router.get("/api/v1/admin/quality", dependencies=[Depends(require_admin)])
def quality(request: Request) -> dict[str, Any]:
    c = ctx(request)
    db = c.assistant().db
    report_path = c.settings.home / "eval" / "latest" / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return {"eval": report and {"reports": [{k: v for k, v in r.items() if k != "failures"}
                                            for r in report["reports"] if r["mode"] == "hybrid"],
                                "dialogues": report["dialogues"]},
            "unanswered": unanswered_groups(db), "not_helpful": not_helpful(db),
            "timezone": hall_zone(c.settings.timezone)}


class Handled(BaseModel):
    kind: Literal["unanswered", "feedback"]
    # row ids are SQLite rowids: bounded, so a fuzzer's 2**70 is a 422, not an overflow
    ids: list[Annotated[int, Field(ge=1, le=2**53)]] = Field(..., min_length=1, max_length=500)
    handled: bool = True


@router.post("/api/v1/admin/quality/handled", dependencies=[Depends(require_admin)])
def mark_handled(req: Handled, request: Request) -> dict[str, Any]:
    db = ctx(request).assistant().db
    table = "unanswered" if req.kind == "unanswered" else "feedback"
    known = {r["id"] for r in db.query(f"select id from {table} where id in ({','.join('?' * len(req.ids))})",
                                       req.ids)}
    if missing := sorted(set(req.ids) - known):
        raise error(404, f"没有这些记录：{missing[:5]}", f"no {table} rows {missing[:5]}")
    with store.write(db):  # queued with every other write (BEGIN IMMEDIATE on SQLite)
        db.execute("create table if not exists handled (kind text, row_id integer, at text, "
                   "primary key (kind, row_id))")
        for i in req.ids:
            if req.handled:
                db.execute("insert into handled values (?, ?, ?) on conflict do nothing",
                           [req.kind, i, datetime.now(UTC).isoformat(timespec="seconds")])
            else:
                db.execute("delete from handled where kind = ? and row_id = ?", [req.kind, i])
    return {"kind": req.kind, "ids": req.ids, "handled": req.handled}


class CSVResponse(Response):
    media_type = "text/csv"


@router.get("/api/v1/admin/quality/export", dependencies=[Depends(require_admin)], response_class=CSVResponse,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def export(request: Request, kind: Literal["unanswered", "feedback"] = "unanswered") -> Response:
    """CSV (UTF-8 with BOM, so Excel reads the Chinese) of every row, handled ones included."""
    db = ctx(request).assistant().db
    buf = io.StringIO()
    w = csv.writer(buf)
    if kind == "unanswered":
        w.writerow(["目录", "问题（已脱敏）", "类型", "次数", "最接近的事项", "最接近的部门", "最近一次（UTC）", "已处理"])
        for g in unanswered_groups(db, include_handled=True):
            top = g["near_item"] or {}
            w.writerow([g["catalogue"], g["question"], "未找到" if g["kind"] == "not_found" else "澄清未答",
                        g["count"], top.get("name", ""), top.get("department", ""), g["at"],
                        "是" if g["handled"] else "否"])
    else:
        w.writerow(["目录", "问题（已脱敏）", "事项", "事项编码", "部门", "意见", "时间（UTC）", "已处理"])
        for f in not_helpful(db, include_handled=True):
            w.writerow([f["catalogue"], f.get("question") or "", f["item_name"] or "", f["answer_code"], f["department"] or "",
                        f["comment"] or "", f["at"], "是" if f["handled"] else "否"])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="wenban-{kind}.csv"'})


# ------------------------------------------------------------- eval runs --
class EvalRun(BaseModel):
    catalogue: str | None = Field(None, max_length=64, description="one catalogue; none = every catalogue")
    split: Literal["heldout", "dev", "all"] = "heldout"


class Progress:
    """One evaluation at a time, in a thread, counting questions as they are asked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {"state": "idle", "done": 0, "total": 0, "catalogue": None, "error": None}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.state)

    def update(self, **kw: Any) -> None:
        with self.lock:
            self.state.update(kw)


class CountingAssistant:
    """The app's assistant, counting each ``ask`` for the progress bar."""

    def __init__(self, assistant, progress: Progress) -> None:
        self._a, self._p = assistant, progress

    def ask(self, *args, **kw):
        out = self._a.ask(*args, **kw)
        with self._p.lock:
            self._p.state["done"] += 1
        return out

    def __getattr__(self, name: str):
        return getattr(self._a, name)


def run_eval(c, names: list[str], split: str, progress: Progress) -> None:
    from assistant.dialogue import Dialogue
    from eval.report import write_reports
    from eval.run import evaluate, evaluate_dialogues, load_set

    try:
        a = c.assistant()
        progress.update(total=sum(len(load_set(n, split)) for n in names))
        counting = CountingAssistant(a, progress)
        reports, dialogues = [], []
        for n in names:
            progress.update(catalogue=n)
            reports.append(evaluate(counting, n, split=split))
            dialogues.append(evaluate_dialogues(Dialogue(a), n))
        write_reports(reports, dialogues, c.settings.home / "eval" / "latest")
        progress.update(state="done", catalogue=None)
    except Exception as e:  # noqa: BLE001 - shown on the page, the server keeps serving
        progress.update(state="failed", error=str(e))


@router.post("/api/v1/admin/evaluations", status_code=202, dependencies=[Depends(require_admin)])
def start_eval(req: EvalRun, request: Request) -> dict[str, Any]:
    c = ctx(request)
    progress: Progress = getattr(request.app.state, "eval_progress", None) or Progress()
    request.app.state.eval_progress = progress
    if progress.snapshot()["state"] == "running":
        raise error(409, "已有一次评测正在运行", "an evaluation is already running")
    if req.catalogue:
        c.known_catalogue(req.catalogue)
        names = [req.catalogue]
    else:
        names = [x["name"] for x in store.catalogues(c.assistant().db)]
    from eval.run import load_set

    names = [n for n in names if _has_set(load_set, n)]
    if not names:
        raise error(422, "该目录没有评测集", "no evaluation set for this catalogue")
    progress.update(state="running", done=0, total=0, catalogue=names[0], error=None,
                    started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    threading.Thread(target=run_eval, args=(c, names, req.split, progress), daemon=True).start()
    return progress.snapshot()


def _has_set(load_set, name: str) -> bool:
    try:
        return bool(load_set(name, "all"))
    except (FileNotFoundError, OSError):
        return False


@router.get("/api/v1/admin/evaluations", dependencies=[Depends(require_admin)])
def eval_progress(request: Request) -> dict[str, Any]:
    progress = getattr(request.app.state, "eval_progress", None)
    return progress.snapshot() if progress else Progress().snapshot()


# ---------------------------------------------------------------- browse --
AUDIENCE = {"个人": "service_object like '%自然人%'",
            "法人": "(service_object like '%法人%' or service_object like '%企业%' or service_object like '%组织%')"}


@router.get("/api/v1/pages/browse")
def browse(request: Request, catalogue: str = Query(..., max_length=64), department: str | None = None,
           audience: Literal["个人", "法人"] | None = None, page: int = Query(1, ge=1, le=10_000)) -> dict[str, Any]:
    """Items by department and/or by who may apply (个人 / 法人), 20 a page, for browsing without typing."""
    c = ctx(request)
    c.known_catalogue(catalogue)
    db = c.assistant().db
    where, args = ["catalogue = ?"], [catalogue]
    if department:
        where.append("department = ?")
        args.append(department)
    if audience:
        where.append(AUDIENCE[audience])
    clause = " and ".join(where)
    total = db.execute(f"select count(*) from items where {clause}", args).fetchone()[0]
    rows = db.query(f"select code, name, type, department from items where {clause} order by department, name "
                    f"limit 20 offset ?", [*args, (page - 1) * 20])
    out: dict[str, Any] = {"total": total, "page": page, "per_page": 20, "items": list(rows)}
    if not total and audience:
        out["message"] = "这个目录没有登记办理对象，请按部门找，或直接说出要办的事。"
    return out
