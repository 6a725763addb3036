"""The two published catalogues' own formats: the 广安区 JSON (departments →
parent items → items with a link whose query string carries itemCode and
taskType) and the Guangdong JSON Lines export (one MongoDB record a line).
Every row is checked first; any problem raises ``ImportFailed``.

    >>> data = load_guangan(Path("../shared/data/catalogues/guangan/bszl-data.json"))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import areas
from .db import CatalogueData
from .rows import (
    DEFAULT_LIMITS,
    ImportFailed,
    Limits,
    RowError,
    check_rows,
    check_unique,
    clean,
    list_field,
    normalize_type,
    read_text,
    split_list,
    url_field,
)

# ---------------------------------------------------------------- guangan --

GUANGAN_TASK_TYPES = {"1": "行政许可", "5": "行政给付", "7": "行政确认", "8": "行政奖励",
                      "9": "行政裁决", "10": "其他行政权力", "20": "公共服务"}


def load_guangan(path: Path, name: str = "guangan", limits: Limits = DEFAULT_LIMITS) -> CatalogueData:
    text, _ = read_text(path)
    fname = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFailed([RowError(fname, e.lineno, "file", f"not valid JSON: {e.msg}")]) from None
    if not isinstance(data, list):
        raise ImportFailed([RowError(fname, "-", "file", "expected a JSON array of departments")])
    errors: list[RowError] = []
    items: list[dict[str, Any]] = []
    depts: list[dict[str, Any]] = []
    for di, dept in enumerate(data):
        dname = clean(dept.get("department")) if isinstance(dept, dict) else None
        if not dname:
            errors.append(RowError(fname, f"[{di}]", "department", "missing department name"))
            continue
        depts.append({"name": dname, "short_name": dname})
        for gi, group in enumerate(dept.get("items") or []):
            parent = clean(group.get("main_item"))
            parent = None if parent == "未分类" else parent
            for si, sub in enumerate(group.get("sub_items") or []):
                where = f"[{di}].items[{gi}].sub_items[{si}]"
                iname = clean(sub.get("name"))
                raw_link = clean(sub.get("link"))
                link = url_field(raw_link, fname, where, "link", errors)
                if raw_link and link is None:
                    continue
                query = parse_qs(urlparse(link).query) if link else {}
                code = (query.get("itemCode") or [None])[0]
                if not iname:
                    errors.append(RowError(fname, where, "name", "empty item name"))
                if not code:
                    errors.append(RowError(fname, where, "link", "link has no itemCode"))
                    continue
                task_type = (query.get("taskType") or [None])[0]
                try:
                    area = areas.normalize_code((query.get("areaCode") or [None])[0])
                except areas.BadArea as e:
                    errors.append(RowError(fname, where, "link", f"areaCode: {e}"))
                    continue
                items.append({
                    "code": code, "name": iname, "parent_name": parent,
                    "type": GUANGAN_TASK_TYPES.get(task_type or ""),
                    "level": areas.level_of(area) if area else None,
                    "area": areas.area_name(area), "area_code": area,
                    # the itemCode starts with the basic item's code: 511Z07001006-511602000000-…
                    "base_code": code.split("-")[0] if "-" in code else None,
                    "department": dname, "url": link,
                })
    check_rows(len(items), fname, limits)
    check_unique(items, fname, errors)
    if errors:
        raise ImportFailed(errors, limits.max_errors)
    return CatalogueData(name=name, title="四川省广安市广安区政务服务事项", items=items, departments=depts)


# -------------------------------------------------------------- guangdong --

def _limit(value: Any) -> str | None:
    """'30(工作日)' → '30个工作日'; '即办' and other wording kept as written."""
    text = clean(value)
    if text is None:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[（(](工作日|自然日|天|日|个月|月)[)）]", text)
    if m:
        num, unit = m.groups()
        return f"{num}个{unit}" if unit in ("工作日", "自然日", "月") else f"{num}{unit}"
    return text


def _strip_label(value: Any, labels: tuple[str, ...]) -> str | None:
    text = clean(value)
    if text is None:
        return None
    for label in labels:
        if text.startswith(label):
            text = text[len(label):].strip()
    return clean(text)


def _yes_no(value: Any) -> str | None:
    text = clean(value)
    if text is None:
        return None
    return {"是": "是", "否": "否", "不支持": "否", "支持": "是"}.get(text, text)


def load_guangdong(path: Path, name: str = "guangdong", limits: Limits = DEFAULT_LIMITS) -> CatalogueData:
    text, _ = read_text(path)
    fname = str(path)
    errors: list[RowError] = []
    items: list[dict[str, Any]] = []
    rows_seen = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rows_seen += 1
        check_rows(rows_seen, fname, limits)
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(RowError(fname, lineno, "line", f"not valid JSON: {e.msg}"))
            continue
        code, iname, dept = clean(r.get("TASK_CODE")), clean(r.get("TASK_NAME")), clean(r.get("DEPT_NAME"))
        for fld, val in (("TASK_CODE", code), ("TASK_NAME", iname), ("DEPT_NAME", dept)):
            if not val:
                errors.append(RowError(fname, lineno, fld, "empty"))
        if not (code and iname and dept):
            continue
        materials = r.get("material_intro")
        aliases = []
        for key in ("matter_short", "matter_daily"):
            aliases += split_list(r.get(key), r"[，,、；;]") or []
        parent = clean(r.get("parentCatalogName"))
        variant = clean(r.get("subTaskName"))
        try:
            area = areas.normalize_code(clean(r.get("AREACODE")))
            level = areas.normalize_level(clean(r.get("matter_level")))
        except areas.BadArea as e:
            errors.append(RowError(fname, lineno, "AREACODE/matter_level", str(e)))
            continue
        items.append({
            "code": code, "name": iname,
            "parent_code": clean(r.get("parentCatalogId")),
            "parent_name": parent if parent != iname else None,
            "variant": variant.strip("（）()") if variant else None,
            "type": normalize_type(clean(r.get("TASK_TYPE_TEXT"))),
            "level": level or (areas.level_of(area) if area else None),
            "area": (areas.name_from_text(area, clean(r.get("AREA_CODE_TEXT"))) if area else None)
            or clean(r.get("AREA_CODE_TEXT")),
            "area_code": area, "base_code": clean(r.get("CATAID")),
            "department": dept,
            "co_departments": split_list(r.get("co_department"), r"[、，,；;]"),
            "service_object": split_list(r.get("service_object_name")),
            # a list of names when the guide has materials, else the string "无"
            "materials": list_field("materials", materials) if isinstance(materials, list) else None,
            "conditions": clean(r.get("accept_standard")),
            "time_limit_legal": _limit(r.get("handle_time")),
            "time_limit_promised": _limit(r.get("handle_time_limit")),
            "place": _strip_label(r.get("handle_location"), ("办理地点：", "办理地点:")),
            "phone": _strip_label(r.get("consult_phone"), ("咨询电话：", "电话：", "电话:")),
            "complaint_phone": _strip_label(r.get("complain_phone"), ("投诉电话：", "电话：", "电话:")),
            "url": url_field(r.get("URL"), fname, lineno, "URL", errors),
            "online_booking": _yes_no(r.get("online_book")),
            "platform": clean(r.get("bear_paltform")),
            "courier": _yes_no(r.get("courier_service")),
            "visits": clean(r.get("visit_number")),
            "aliases": sorted(set(aliases)) or None,
            "themes": split_list(r.get("theme_category")),
            "_row": lineno,
        })
    if rows_seen == 0:
        errors.append(RowError(fname, "-", "file", "no records"))
    check_unique(items, fname, errors)
    if errors:
        raise ImportFailed(errors, limits.max_errors)
    depts = [{"name": d, "short_name": None} for d in sorted({i["department"] for i in items})]
    return CatalogueData(name=name, title="广东省及广州市政务服务事项", items=items, departments=depts)
