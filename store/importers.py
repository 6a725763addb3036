"""Read catalogue files into ``CatalogueData``, validating every row first.

Three formats:

* ``guangan``: the 广安区 JSON (departments → parent items → items with a link
  whose query string carries itemCode and taskType);
* ``guangdong``: the Guangdong JSON Lines export (one MongoDB record a line);
* ``generic``: CSV, XLSX or JSONL with Chinese column names (事项编码, 事项名称,
  实施机构, 事项类型, 申请材料, 办理流程, 承诺时限, 办理地点, 咨询电话 …), so a
  hall can load its own list. ``GENERIC_COLUMNS`` lists every accepted header.

Nothing is half-read: any bad row raises ``ImportFailed`` listing every problem
with file, row, field and reason, before anything is written.

    >>> data = load_file("../shared/data/catalogues/guangan/bszl-data.json", "guangan", "guangan")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable

from . import areas
from .db import ITEM_LIST_FIELDS, ITEM_TYPES, CatalogueData
from .portals import load_guangan, load_guangdong
# the basics live in rows.py; these names are the importers' API as callers know it
from .rows import (DEFAULT_LIMITS, MAX_IMPORT_BYTES, MAX_REPORTED_ERRORS, ImportFailed,  # noqa: F401
                   Limits, RowError, check_rows, check_unique, clean, list_field,  # noqa: F401
                   normalize_type, read_text, split_list, url_field)  # noqa: F401

# ---------------------------------------------------------------- generic --

GENERIC_COLUMNS: dict[str, list[str]] = {
    "code": ["事项编码", "实施编码", "编码"],
    "name": ["事项名称", "名称"],
    "parent_code": ["父项编码", "主项编码"],
    "parent_name": ["父项名称", "主项名称", "主项"],
    "variant": ["情形", "办理情形", "业务办理项"],
    "type": ["事项类型", "类型", "权力类型"],
    "level": ["行使层级", "层级"],
    "area": ["区域", "实施区域", "行政区划名称"],
    "area_code": ["行政区划代码", "区划代码", "区域编码"],
    "base_code": ["基本目录编码", "目录编码"],
    "department": ["实施机构", "实施主体", "办理部门", "部门"],
    "co_departments": ["共同实施机构", "联办机构"],
    "legal_basis": ["设定依据", "法律依据"],
    "service_object": ["服务对象"],
    "materials": ["申请材料", "材料"],
    "conditions": ["受理条件", "申请条件", "受理标准"],
    "steps": ["办理流程", "流程"],
    "time_limit_legal": ["法定时限", "法定办结时限"],
    "time_limit_promised": ["承诺时限", "承诺办结时限"],
    "fee": ["收费标准", "收费依据及标准", "是否收费", "收费"],
    "place": ["办理地点", "地点"],
    "office_hours": ["办公时间", "办理时间"],
    "phone": ["咨询电话", "电话"],
    "complaint_phone": ["监督投诉电话", "投诉电话"],
    "url": ["办事指南链接", "网址", "链接"],
    "online": ["网上办理", "是否网办"],
    "courier": ["快递送达", "物流快递"],
    "visits": ["到现场次数", "跑动次数"],
    "result": ["办理结果", "结果名称"],
    "aliases": ["别名", "俗称", "常用名"],
}
REQUIRED = ["code", "name", "department"]
_HEADER_TO_FIELD = {h: f for f, hs in GENERIC_COLUMNS.items() for h in [f, *hs]}


def _check_zip(path: Path, limits: Limits) -> None:
    """Refuse an XLSX that would unpack past the limit, before anything unpacks it."""
    fname = str(path)
    try:
        with zipfile.ZipFile(path) as z:
            size = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise ImportFailed([RowError(fname, "-", "file", f"not a readable XLSX file: {e}")]) from None
    if size > limits.max_unzipped_bytes:
        raise ImportFailed([RowError(fname, "-", "file",
                                     f"unpacks to {size / 2**20:.0f} MiB, over the "
                                     f"{limits.max_unzipped_bytes / 2**20:.0f} MiB limit "
                                     "(WENBAN_IMPORT_MAX_UNZIPPED_MB)")])


def _read_rows(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[tuple[int, dict[str, Any]]]:
    """(row number as a spreadsheet shows it, raw record) for CSV, XLSX or JSONL."""
    suffix = path.suffix.lower()
    fname = str(path)
    if suffix == ".xlsx":
        import openpyxl

        if path.stat().st_size > MAX_IMPORT_BYTES:
            read_text(path)  # raises the size error
        _check_zip(path, limits)
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many kinds for a bad file
            raise ImportFailed([RowError(fname, "-", "file", f"not a readable XLSX file: {e}")]) from None
        try:
            ws = wb.worksheets[0]
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None) or ()
            heads = [str(h).strip() if h is not None else "" for h in header]
            out = []
            # counting every row read, blank or not: a million blank rows is the bomb
            for n, vals in enumerate(rows, start=2):
                check_rows(n - 1, fname, limits)
                if any(v not in (None, "") for v in vals):
                    out.append((n, dict(zip(heads, vals))))
        finally:
            wb.close()
        return out
    text, _ = read_text(path)
    if suffix == ".jsonl":
        out = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ImportFailed([RowError(fname, n, "line", f"not valid JSON: {e.msg}")]) from None
            if not isinstance(rec, dict):
                raise ImportFailed([RowError(fname, n, "line", "expected a JSON object")])
            out.append((n, rec))
            check_rows(len(out), fname, limits)
        return out
    if suffix in (".csv", ".txt"):
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None) or []
        heads = [h.strip().lstrip("\ufeff") for h in header]
        out = []
        for rec in reader:
            # csv counts physical lines, so quoted newlines keep row numbers honest
            n = reader.line_num
            if not any(c.strip() for c in rec):
                continue
            if len(rec) > len(heads):
                raise ImportFailed([RowError(fname, n, "row", f"{len(rec)} cells but {len(heads)} columns")])
            out.append((n, dict(zip(heads, rec))))
            check_rows(len(out), fname, limits)
        return out
    raise ImportFailed([RowError(fname, "-", "file", f"unknown format '{suffix}': use .csv, .xlsx or .jsonl")])


def load_generic(path: Path, name: str, title: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> CatalogueData:
    fname = str(path)
    rows = _read_rows(path, limits)
    if not rows:
        raise ImportFailed([RowError(fname, "-", "file", "no rows")])
    headers = {h for _, rec in rows for h in rec}
    known = {h: _HEADER_TO_FIELD[h.strip()] for h in headers if h and h.strip() in _HEADER_TO_FIELD}
    missing = [f for f in REQUIRED if f not in known.values()]
    if missing:
        names = "、".join(GENERIC_COLUMNS[f][0] for f in missing)
        raise ImportFailed([RowError(fname, 1, "header", f"missing required column(s): {names}")])
    errors: list[RowError] = []
    items = []
    for n, rec in rows:
        item: dict[str, Any] = {}
        for header, value in rec.items():
            fld = known.get(header)
            if fld is None:
                continue
            if fld in ITEM_LIST_FIELDS:
                item[fld] = list_field(fld, value)
            elif fld == "url":
                item[fld] = url_field(value, fname, n, GENERIC_COLUMNS["url"][0], errors)
            else:
                item[fld] = clean(value)
        for fld in REQUIRED:
            if not item.get(fld):
                errors.append(RowError(fname, n, GENERIC_COLUMNS[fld][0], "empty"))
        try:
            item["level"] = areas.normalize_level(item.get("level"))
        except areas.BadArea as e:
            errors.append(RowError(fname, n, "行使层级", str(e)))
        try:
            item["area_code"] = areas.normalize_code(item.get("area_code"))
        except areas.BadArea as e:
            errors.append(RowError(fname, n, "行政区划代码", str(e)))
            item["area_code"] = None
        if item["area_code"]:
            item["level"] = item.get("level") or areas.level_of(item["area_code"])
            item["area"] = item.get("area") or areas.area_name(item["area_code"])
        item["type"] = normalize_type(item.get("type"))
        if item["type"] and item["type"] not in ITEM_TYPES:
            errors.append(RowError(fname, n, "事项类型",
                                   f"unknown type '{item['type']}' (one of: {'、'.join(ITEM_TYPES)})"))
        item["_row"] = n
        items.append(item)
    check_unique(items, fname, errors)
    if errors:
        raise ImportFailed(errors, limits.max_errors)
    depts = [{"name": d} for d in sorted({i["department"] for i in items})]
    return CatalogueData(name=name, title=title or name, items=items, departments=depts)


LOADERS: dict[str, Callable[..., CatalogueData]] = {
    "guangan": load_guangan, "guangdong": load_guangdong, "generic": load_generic,
}


def load_file(path: str | Path, fmt: str, name: str, limits: Limits = DEFAULT_LIMITS) -> CatalogueData:
    path = Path(path)
    if fmt not in LOADERS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(LOADERS)}")
    if not path.exists():
        raise ImportFailed([RowError(str(path), "-", "file", "no such file")])
    return LOADERS[fmt](path, name, limits=limits)
