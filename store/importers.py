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
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from . import areas
from .urls import safe_url
from .db import ITEM_LIST_FIELDS, ITEM_TYPES, TYPE_SYNONYMS, CatalogueData

MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_REPORTED_ERRORS = 100  # an error report lists this many problems, then the count


@dataclass(frozen=True)
class Limits:
    """What an import may hold; ``Settings`` carries the configured values.

        >>> Limits.from_settings(Settings.from_env())       # doctest: +SKIP
    """

    max_rows: int = 100_000
    max_unzipped_bytes: int = 256 * 1024 * 1024
    max_errors: int = MAX_REPORTED_ERRORS

    @classmethod
    def from_settings(cls, settings: Any) -> "Limits":
        return cls(settings.import_max_rows, settings.import_max_unzipped_mb * 1024 * 1024,
                   settings.import_max_errors)


DEFAULT_LIMITS = Limits()
PLACEHOLDERS = {"", "无", "暂无", "/", "-", "—", "--", "null", "None", "NULL"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    file: str
    row: int | str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: row {self.row}: {self.field}: {self.reason}"


class ImportFailed(Exception):
    """Raised with the row problems found; nothing has been written.
    ``errors`` holds the first ``max_errors`` of them, ``total`` counts all."""

    def __init__(self, errors: list[RowError], max_errors: int = MAX_REPORTED_ERRORS):
        self.total = len(errors)
        self.errors = errors[:max_errors]
        shown = "\n".join(f"  {e}" for e in self.errors)
        more = f"\n  … and {self.total - len(self.errors)} more" if self.total > len(self.errors) else ""
        super().__init__(f"import failed, nothing was written ({self.total} problem(s)):\n{shown}{more}")


def _url_field(value: Any, fname: str, where: Any, fld: str, errors: list[RowError]) -> str | None:
    """A link cell: empty → None, http(s) → the link, anything else → a row error."""
    text = clean(value)
    if text is None:
        return None
    url = safe_url(text)
    if url is None:
        errors.append(RowError(fname, where, fld, f"not an http(s) link: {text[:60]!r}"))
    return url


def clean(value: Any) -> str | None:
    """Text as stored: control characters dropped, placeholders such as "无" → None."""
    if value is None:
        return None
    text = _CONTROL.sub("", str(value)).strip()
    return None if text in PLACEHOLDERS else text


def split_list(value: Any, seps: str = r"[\n；;]") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        parts = [clean(v) for v in value]
    else:
        parts = [clean(v) for v in re.split(seps, str(value))]
    parts = [p for p in parts if p]
    return parts or None


def normalize_type(value: str | None) -> str | None:
    if value is None:
        return None
    value = TYPE_SYNONYMS.get(value, value)
    return value


def read_text(path: Path, max_bytes: int = MAX_IMPORT_BYTES) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030,
    the encodings Chinese office software writes. Returns (text, encoding)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ImportFailed([RowError(str(path), "-", "file",
                                     f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")])
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        line = raw[: utf8_error.start].count(b"\n") + 1
        raise ImportFailed([RowError(str(path), line, "file",
                                     "text is neither UTF-8 nor GBK/GB18030; save the file as UTF-8")]) from None


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
                link = _url_field(raw_link, fname, where, "link", errors)
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
    _check_rows(len(items), fname, limits)
    _check_unique(items, fname, errors)
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
        _check_rows(rows_seen, fname, limits)
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
            "materials": _list_field("materials", materials) if isinstance(materials, list) else None,
            "conditions": clean(r.get("accept_standard")),
            "time_limit_legal": _limit(r.get("handle_time")),
            "time_limit_promised": _limit(r.get("handle_time_limit")),
            "place": _strip_label(r.get("handle_location"), ("办理地点：", "办理地点:")),
            "phone": _strip_label(r.get("consult_phone"), ("咨询电话：", "电话：", "电话:")),
            "complaint_phone": _strip_label(r.get("complain_phone"), ("投诉电话：", "电话：", "电话:")),
            "url": _url_field(r.get("URL"), fname, lineno, "URL", errors),
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
    _check_unique(items, fname, errors)
    if errors:
        raise ImportFailed(errors, limits.max_errors)
    depts = [{"name": d, "short_name": None} for d in sorted({i["department"] for i in items})]
    return CatalogueData(name=name, title="广东省及广州市政务服务事项", items=items, departments=depts)


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


def _check_rows(count: int, fname: str, limits: Limits) -> None:
    if count > limits.max_rows:
        raise ImportFailed([RowError(fname, count, "file", f"more than {limits.max_rows} rows "
                                     "(WENBAN_IMPORT_MAX_ROWS); split the file or raise the limit")])


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
                _check_rows(n - 1, fname, limits)
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
            _check_rows(len(out), fname, limits)
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
            _check_rows(len(out), fname, limits)
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
                item[fld] = _list_field(fld, value)
            elif fld == "url":
                item[fld] = _url_field(value, fname, n, GENERIC_COLUMNS["url"][0], errors)
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
    _check_unique(items, fname, errors)
    if errors:
        raise ImportFailed(errors, limits.max_errors)
    depts = [{"name": d} for d in sorted({i["department"] for i in items})]
    return CatalogueData(name=name, title=title or name, items=items, departments=depts)


def _list_field(fld: str, value: Any) -> Any:
    if fld == "materials":
        if isinstance(value, list):
            out = []
            for v in value:
                if isinstance(v, dict):
                    mname = clean(v.get("name") or v.get("名称") or v.get("材料名称"))
                    if mname:
                        out.append({"name": mname, "note": clean(v.get("note") or v.get("备注") or v.get("要求"))})
                elif clean(v):
                    out.append({"name": clean(v)})
            return out or None
        return [{"name": m} for m in split_list(value) or []] or None
    if fld == "steps":
        return split_list(value, r"\n|→|->|；|;")
    return split_list(value, r"[\n；;、，,]")


def _check_unique(items: list[dict[str, Any]], fname: str, errors: list[RowError]) -> None:
    """Report repeated codes by row; drops the ``_row`` bookkeeping key."""
    seen: dict[str, Any] = {}
    for i, it in enumerate(items):
        code = it.get("code")
        row = it.pop("_row", i + 1)
        if not code:
            continue
        if code in seen:
            errors.append(RowError(fname, row, "事项编码", f"duplicate code {code} (first at row {seen[code]})"))
        else:
            seen[code] = row


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
