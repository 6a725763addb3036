"""Admin routes for catalogues: import (and index in the same request), reindex,
and the evaluation plots the quality page shows.

    curl -H "Authorization: Bearer $WENBAN_ADMIN_TOKEN" -F file=@list.xlsx -F format=generic \\
         http://127.0.0.1:8000/api/v1/admin/catalogues/hall/import
    curl -X POST -H "Authorization: Bearer $WENBAN_ADMIN_TOKEN" \\
         http://127.0.0.1:8000/api/v1/admin/catalogues/hall/reindex

A failed build is reported and the old index keeps serving.
"""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.deps import ctx, error, import_failed, require_admin, save_upload
from api.watch import build_lock
from store import db as store
from store.importers import MAX_IMPORT_BYTES, ImportFailed, Limits, load_file

access_log = logging.getLogger("wenban.access")
router = APIRouter(dependencies=[Depends(require_admin)])


@router.post("/api/v1/admin/catalogues/{name}/import")
async def import_catalogue(request: Request, name: str, file: UploadFile = File(...),
                           format: str = Form("generic"), title: str | None = Form(None)) -> dict[str, Any]:
    """All-or-nothing import of a list (CSV, XLSX, JSON/JSONL or a known portal
    format); a changed import is indexed in the same request."""
    c = ctx(request)
    settings = c.settings
    if not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
        raise error(422, "目录名只能用小写字母、数字、-、_", "catalogue names are a-z, 0-9, - and _")
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        suffix = ".bin"
    # under WENBAN_HOME, removed in finally and swept at start (after a kill -9)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    path = settings.uploads_dir / f"upload-{secrets.token_hex(8)}{suffix}"
    try:
        await save_upload(file, path, MAX_IMPORT_BYTES)
        try:
            data = await run_in_threadpool(load_file, path, format, name, Limits.from_settings(settings))
        except ImportFailed as e:
            return import_failed(e, file.filename)
        except ValueError as e:
            raise error(422, "格式不支持", str(e)) from None
    finally:
        path.unlink(missing_ok=True)
    if title:
        data.title = title
    data.source = data.source or file.filename

    def import_and_index() -> dict[str, Any]:
        # one operation from the user's view: a changed import rebuilds the
        # index; the old index answers (from its own copy of the items) until the swap
        db = store.open_db(settings.database)
        try:
            result = store.import_catalogue(db, data)
            out: dict[str, Any] = {"summary": result.summary(), "version": result.version,
                                   "added": result.added, "changed": result.changed,
                                   "removed": result.removed}
            if not result.unchanged:
                out["index"] = _rebuild(request, db, name)
            return out
        finally:
            db.close()

    return await run_in_threadpool(import_and_index)


def _rebuild(request: Request, db, name: str) -> dict[str, Any]:
    """Build and swap in a new index; a failure is reported, the old index keeps serving."""
    from index.build import build_index

    c = ctx(request)
    a = c.assistant()
    try:
        with build_lock(c.settings, name):  # the watchers of other processes wait, then load it
            manifest = build_index(c.settings, db, name, a.embedder, log=access_log.info, progress=False)
        a.reload(name)
    except Exception as e:  # noqa: BLE001 - any failure: report it, keep serving the old index
        access_log.error("index build of %s failed: %s", name, e)
        return {"status": "failed", "reason": f"重建索引失败，旧索引继续服务 / index build failed, "
                                              f"the old index keeps serving: {e}"}
    return {"status": "built", "build_id": manifest["build_id"], "item_count": manifest["item_count"]}


@router.post("/api/v1/admin/catalogues/{name}/reindex")
async def reindex(request: Request, name: str) -> dict[str, Any]:
    """Build a new index while the old one keeps answering; swap when loaded.
    A failed build leaves the old one serving."""
    c = ctx(request)
    c.known_catalogue(name)
    from index.build import build_index

    a = c.assistant()

    def build() -> dict[str, Any]:
        db = store.open_db(c.settings.database)  # this thread's own connection
        try:
            with build_lock(c.settings, name):
                manifest = build_index(c.settings, db, name, a.embedder, log=access_log.info, progress=False)
        finally:
            db.close()
        a.reload(name)
        return manifest

    try:
        return await run_in_threadpool(build)
    except Exception as e:  # noqa: BLE001 - any failure: report it, keep serving the old index
        access_log.error("reindex of %s failed: %s", name, e)
        raise error(500, "重建索引失败，旧索引继续服务", f"reindex failed, the old index keeps serving: {e}") \
            from None


@router.get("/api/v1/admin/eval/{name}", response_class=FileResponse,
            responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}})
def eval_file(request: Request, name: str) -> FileResponse:
    """A plot of the latest ``wenban eval`` report (``guangan-departments.png`` …)."""
    path = ctx(request).settings.home / "eval" / "latest" / name
    if not re.fullmatch(r"[\w.-]+\.png", name) or not path.exists():
        raise error(404, "没有该文件", f"no file {name}")
    return FileResponse(path, media_type="image/png")
