"""Sites and areas: ``GET /api/v1/sites`` (the configured halls, kiosks and hotlines)
and ``GET /api/v1/areas?catalogue=`` (the areas a catalogue's items are implemented
at, with counts by level, for the operator console's area and level filters).

A question is asked at a site with ``site`` in ``POST /api/v1/ask`` or
``GET /api/v1/search`` (a configured name or a 行政区划代码); a kiosk locked to
a site is ``/?site=广安区政务服务中心``.

    curl -s 127.0.0.1:8000/api/v1/sites
    curl -s '127.0.0.1:8000/api/v1/search?q=弩的购置审批&site=440100'
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from api.deps import ctx
from store import areas

router = APIRouter()


@router.get("/api/v1/sites")
def sites(request: Request) -> list[dict[str, Any]]:
    """The configured sites: name, kind (hall | kiosk | hotline), area code and name, catalogue."""
    return [s.public() for s in ctx(request).assistant().sites.all()]


@router.get("/api/v1/areas")
def area_list(request: Request, catalogue: str = Query(..., max_length=64)) -> list[dict[str, Any]]:
    """The areas of one catalogue's items: ``{code, name, level, item_count}``."""
    c = ctx(request)
    c.known_catalogue(catalogue)
    rows = c.assistant().db.execute(
        "select area_code, area, count(*) from items where catalogue = ? and area_code is not null "
        "group by area_code, area order by area_code", [catalogue]).fetchall()
    return [{"code": code, "name": name or areas.area_name(code), "level": areas.level_of(code), "item_count": n}
            for code, name, n in rows]
