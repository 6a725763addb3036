"""Errors as the API really gives them, in the OpenAPI document and on the wire.

Every error body is ``{"detail": "中文 / English"}`` (a string, for 422 too; the
import's row errors add ``errors``). ``declare_errors(app)`` writes into every
route the error statuses it can answer, with that schema, when the document is
first made (so routes other modules include later are covered too);
``bilingual`` gives FastAPI's and Starlette's own English 400/404/405/… a Chinese half.

    app = FastAPI(); ...routes...; declare_errors(app)
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from pydantic import BaseModel, Field

# Starlette's stock phrases (Not Found, Method Not Allowed, …) with their Chinese
ZH = {400: "请求有误", 401: "需要认证", 403: "禁止访问", 404: "没有该地址或对象", 405: "不支持该请求方法",
      406: "无法提供所要求的格式", 409: "存在冲突", 413: "请求体过大", 415: "不支持的内容类型", 422: "请求参数有误",
      429: "请求过于频繁", 500: "服务器内部错误", 503: "服务暂不可用"}

WHY = {400: "malformed request (body, header or encoding)", 401: "admin token missing or wrong",
       404: "no such catalogue, item or session; admin routes when no token is configured",
       409: "the code is in several catalogues: add ?catalogue=", 413: "request body over the route's cap",
       422: "a parameter or the body is invalid: which and why", 429: "rate limit, or admin lockout; see Retry-After",
       500: "the rebuild failed; the old index keeps serving", 503: "busy (see Retry-After), not indexed yet, index damaged, or the database unreachable"}

# statuses a route gives beyond those every route of its kind gives
EXTRA = {"/api/v1/items/{code}": {409}, "/api/v1/ask": {503}, "/api/v1/search": {503}, "/readyz": {503},
         "/api/v1/admin/catalogues/{name}/reindex": {500, 503}, "/api/v1/admin/evaluations": {409}}


class ErrorBody(BaseModel):
    detail: str = Field(..., description="why, in Chinese then English: '中文 / English'",
                        examples=["没有该事项 / no item X1"])


def bilingual(status: int, detail: str) -> str:
    """``detail`` with a Chinese half when it is a stock English phrase."""
    if " / " in detail:
        return detail
    return f"{ZH.get(status, '请求有误')} / {detail}"


def errors_of(path: str, op: dict) -> set[int]:
    """The error statuses an operation of the document can answer."""
    codes = {400, 413}  # anything with a malformed or oversized body
    params = op.get("parameters", [])
    if path.startswith("/api/"):
        codes.add(429)
        codes.add(503)  # the store unreachable (PostgreSQL down), busy, or an index damaged
    if params or "requestBody" in op:
        codes.add(422)
    if any(p["in"] == "path" or p["name"] == "catalogue" for p in params) or "requestBody" in op:
        codes.add(404)  # unknown catalogue / code / session
    if path.startswith("/api/v1/admin/"):
        codes |= {401, 404, 422, 429}
    return codes | EXTRA.get(path, set())


def declare_errors(app: FastAPI) -> None:
    make = app.openapi
    ref = {"$ref": "#/components/schemas/ErrorBody"}

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = make()
        for path, ops in doc["paths"].items():
            for op in ops.values():
                for code in sorted(errors_of(path, op)):  # replaces FastAPI's array-of-errors 422
                    op["responses"][str(code)] = {"description": WHY.get(code) or ZH.get(code, "error"),
                                                  "content": {"application/json": {"schema": ref}}}
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused not in json.dumps(doc["paths"]):
                schemas.pop(unused, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi
