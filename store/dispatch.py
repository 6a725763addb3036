"""The dispatch store: matter categories (事项分类) with their responsible
department types, a hall's past work orders, type overrides and operators'
corrections, per catalogue.

A catalogue without its own dispatch catalogue uses the shipped default,
``data/dispatch/categories.csv``. Imports are all-or-nothing with row errors
(``store.importers.ImportFailed``) and versioned like catalogues.

    >>> db = open_db(":memory:")                                   # doctest: +SKIP
    >>> import_categories(db, "guangan", load_categories("my.csv")).version   # doctest: +SKIP
    1
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlite_utils

from store.db import write as write_tx

from store.db import open_db  # noqa: F401  (re-exported for callers of this module)
from store.importers import ImportFailed, RowError, _read_rows, clean, split_list
from wenban.config import DATA_DIR

DEFAULT_CATEGORIES = DATA_DIR / "dispatch" / "categories.csv"
DEPARTMENT_TYPES = DATA_DIR / "dispatch" / "department_types.csv"
LEVELS = ("区县", "街道乡镇", "市", "省")
# Header spellings a hall may use; the first is the canonical one.
CATEGORY_COLUMNS = {
    "l1": ("一级分类",), "l2": ("二级分类",), "l3": ("三级分类",),
    "lead": ("主体责任单位", "主体责任", "主责单位"), "support": ("配合单位", "配合责任单位", "配合责任"),
    "level": ("层级", "处置层级"), "description": ("说明", "描述"), "phrasings": ("常见说法", "关键词"),
}
HISTORY_COLUMNS = {
    "text": ("诉求内容", "内容", "工单内容", "留言详情"), "department": ("处理部门", "承办单位", "责任单位"),
    "date": ("日期", "时间", "受理时间", "留言时间"),
}
COMMAND_CENTRE_TYPE = "指挥中心"


# ---------------------------------------------------------------- schema --

# Writes made by this process (the router re-reads versions at once after one;
# other processes' writes are seen within the router's check interval).
changes = 0


def _changed() -> None:
    global changes
    changes += 1


def ensure_schema(db: sqlite_utils.Database) -> None:
    db["dispatch_categories"].create(
        {"catalogue": str, "l1": str, "l2": str, "l3": str, "lead": str, "support": str, "level": str,
         "description": str, "phrasings": str}, pk=("catalogue", "l1", "l2", "l3"), if_not_exists=True)
    db["dispatch_versions"].create(
        {"catalogue": str, "kind": str, "version": int, "content_hash": str, "imported_at": str, "rows": int},
        pk=("catalogue", "kind", "version"), if_not_exists=True)
    db["dispatch_history"].create(
        {"id": int, "catalogue": str, "text": str, "department": str, "type": str, "date": str},
        pk="id", if_not_exists=True)
    db["dispatch_type_overrides"].create(
        {"catalogue": str, "department": str, "type": str}, pk=("catalogue", "department"), if_not_exists=True)
    db["dispatch_corrections"].create(
        {"id": int, "at": str, "catalogue": str, "question": str, "category": str, "session_id": str},
        pk="id", if_not_exists=True)


# ------------------------------------------------------- department types --

@lru_cache(maxsize=1)
def _type_rows() -> tuple[dict[str, str], ...]:
    """The rows of ``data/dispatch/department_types.csv``, read once."""
    with DEPARTMENT_TYPES.open(encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


@lru_cache(maxsize=1)
def department_types() -> dict[str, list[str]]:
    """type → name keywords, from ``data/dispatch/department_types.csv``."""
    return {r["类型"]: split_list(r["名称关键词"]) or [] for r in _type_rows()}


@lru_cache(maxsize=1)
def everyday_names() -> dict[str, list[str]]:
    """type → how citizens name the department, its offices and what it directly
    oversees (公安: 派出所, 交警, 车管所; 教育: 学校, 幼儿园), from the ``常见叫法``
    column of ``data/dispatch/department_types.csv``, with the official name keywords."""
    return {r["类型"]: department_types()[r["类型"]] + (split_list(r.get("常见叫法") or "") or [])
            for r in _type_rows()}


def type_of(name: str | None) -> str | None:
    """The department type a name belongs to: "区生态环境局" → "生态环境"; None when unknown.
    The longest matching keyword wins, so "街道" loses to a bureau's own name."""
    if not name:
        return None
    if name in department_types():
        return name
    best, best_len = None, 0
    for t, words in department_types().items():
        for w in words:
            if w in name and len(w) > best_len:
                best, best_len = t, len(w)
    return best


def departments_by_type(db: sqlite_utils.Database, catalogue: str) -> dict[str, list[str]]:
    """type → the catalogue's own department names of that type, city/district
    ones before provincial ones (matters are handled where they happen), then shorter
    names (bureaus before their institutes), a ministry's regional office last.
    Overrides win over names."""
    names = [r["department"] for r in db.query(
        "select distinct department from items where catalogue = ? and department is not null", [catalogue])]
    overrides = {r["department"]: r["type"] for r in db.query(
        "select department, type from dispatch_type_overrides where catalogue = ?", [catalogue])}
    out: dict[str, list[str]] = {}
    for n in names:
        t = overrides.get(n) or type_of(n)
        if n in overrides or (t and not re.search(r"研究|检测|检验|协会|学会|中心$|学院|科学院", n)):
            out.setdefault(t, []).append(n)
    for t in out:
        # a ministry's own office ("自然资源部南海局") handles no local matter: after the province's
        out[t].sort(key=lambda n: (2 if re.match(r"[^省市区县]{2,8}部", n) else "省" in n, len(n)))
    return out


def set_override(db: sqlite_utils.Database, catalogue: str, department: str, type_: str) -> None:
    if type_ not in department_types():
        raise ValueError(f"未知的部门类型 {type_!r} / unknown department type {type_!r} "
                         f"(known: {', '.join(department_types())})")
    with write_tx(db):
        db["dispatch_type_overrides"].upsert({"catalogue": catalogue, "department": department, "type": type_},
                                             pk=("catalogue", "department"))
    _changed()


# ------------------------------------------------------------ categories --

def _pick(rec: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in rec:
            return rec[n]
    return None


def _unit_type(value: str) -> str | None:
    """A unit as a hall writes it: a type ("生态环境") or a department name ("区生态环境局")."""
    return COMMAND_CENTRE_TYPE if value in (COMMAND_CENTRE_TYPE, "12345") else type_of(value)


def load_categories(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a dispatch catalogue (CSV/XLSX/JSONL, Chinese headers); every
    problem is listed as ``file: row N: field: reason`` and nothing is returned."""
    path = Path(path)
    fname = str(path)
    rows = _read_rows(path)
    errors: list[RowError] = []
    if not rows:
        raise ImportFailed([RowError(fname, "-", "file", "no rows")])
    heads = set().union(*(r.keys() for _, r in rows))
    for need in ("l1", "lead"):
        if not heads & set(CATEGORY_COLUMNS[need]):
            errors.append(RowError(fname, 1, CATEGORY_COLUMNS[need][0], "required column is missing"))
    if errors:
        raise ImportFailed(errors)
    out, seen = [], {}
    for n, rec in rows:
        row = {k: clean(_pick(rec, names)) for k, names in CATEGORY_COLUMNS.items()}
        if not row["l1"]:
            errors.append(RowError(fname, n, "一级分类", "empty"))
            continue
        if not row["lead"]:
            errors.append(RowError(fname, n, "主体责任单位", "empty"))
            continue
        lead = _unit_type(row["lead"])
        if lead is None:
            errors.append(RowError(fname, n, "主体责任单位", f"{row['lead']!r} is no known department type "
                                   f"(use one of: {'、'.join(department_types())})"))
        support = []
        for s in split_list(row["support"], r"[\n；;、,，]") or []:
            t = _unit_type(s)
            if t is None:
                errors.append(RowError(fname, n, "配合单位", f"{s!r} is no known department type"))
            support.append(t)
        if row["level"] and row["level"] not in LEVELS:
            errors.append(RowError(fname, n, "层级", f"{row['level']!r} is not one of {'/'.join(LEVELS)}"))
        key = (row["l1"], row["l2"] or "", row["l3"] or "")
        if key in seen:
            errors.append(RowError(fname, n, "三级分类", f"{'/'.join(k for k in key if k)} repeats row {seen[key]}"))
        seen[key] = n
        out.append({"l1": key[0], "l2": key[1], "l3": key[2], "lead": lead, "support": support,
                    "level": row["level"] or "区县", "description": row["description"] or "",
                    "phrasings": split_list(row["phrasings"], r"[\n；;]") or []})
    if errors:
        raise ImportFailed(errors)
    return out


def import_categories(db: sqlite_utils.Database, catalogue: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Replace ``catalogue``'s dispatch catalogue in one transaction; unchanged → no new version."""
    ensure_schema(db)
    stored = [{"catalogue": catalogue, **r, "support": json.dumps(r["support"], ensure_ascii=False),
               "phrasings": json.dumps(r["phrasings"], ensure_ascii=False)} for r in rows]
    return _versioned(db, catalogue, "categories", stored, lambda: (
        db.execute("delete from dispatch_categories where catalogue = ?", [catalogue]),
        db["dispatch_categories"].insert_all(stored)))


def _versioned(db, catalogue: str, kind: str, rows: list[dict[str, Any]], write) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    last = list(db.query("select version, content_hash from dispatch_versions where catalogue = ? and kind = ? "
                         "order by version desc limit 1", [catalogue, kind]))
    if last and last[0]["content_hash"] == digest:
        return {"catalogue": catalogue, "kind": kind, "version": last[0]["version"], "rows": len(rows),
                "unchanged": True}
    version = (last[0]["version"] if last else 0) + 1
    with write_tx(db):
        write()
        db["dispatch_versions"].insert({"catalogue": catalogue, "kind": kind, "version": version,
                                        "content_hash": digest, "rows": len(rows),
                                        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    _changed()
    return {"catalogue": catalogue, "kind": kind, "version": version, "rows": len(rows), "unchanged": False}


@lru_cache(maxsize=1)
def default_categories() -> tuple[dict[str, Any], ...]:
    return tuple(load_categories(DEFAULT_CATEGORIES))


def categories(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    """The catalogue's own dispatch categories, or the shipped default."""
    ensure_schema(db)
    rows = list(db.query("select * from dispatch_categories where catalogue = ? order by l1, l2, l3", [catalogue]))
    if not rows:
        return [dict(r) for r in default_categories()]
    return [{**r, "support": json.loads(r["support"]), "phrasings": json.loads(r["phrasings"])} for r in rows]


def category_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{name, children: [{name, children: [{name, lead, support, level}]}]}] for pages."""
    tree: dict[str, dict[str, list]] = {}
    for r in rows:
        tree.setdefault(r["l1"], {}).setdefault(r["l2"], []).append(
            {"name": r["l3"], "lead": r["lead"], "support": r["support"], "level": r["level"]})
    return [{"name": a, "children": [{"name": b, "children": c} for b, c in bs.items()]} for a, bs in tree.items()]


# --------------------------------------------------------------- history --

def parse_date(value: Any) -> str | None:
    """"2019/4/25 9:32:09", "2019-04-25", a datetime → "2019-04-25T09:32:09"; None if unreadable."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = clean(value)
    if not text:
        return None
    m = re.match(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?", text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s).isoformat(timespec="seconds")
    except ValueError:
        return None


def load_history(path: str | Path) -> list[dict[str, Any]]:
    """Past work orders: text, handling department, date. Checked row by row."""
    path = Path(path)
    fname = str(path)
    rows = _read_rows(path)
    if not rows:
        raise ImportFailed([RowError(fname, "-", "file", "no rows")])
    heads = set().union(*(r.keys() for _, r in rows))
    missing = [RowError(fname, 1, names[0], "required column is missing")
               for names in HISTORY_COLUMNS.values() if not heads & set(names)]
    if missing:
        raise ImportFailed(missing)
    out, errors = [], []
    for n, rec in rows:
        text = clean(_pick(rec, HISTORY_COLUMNS["text"]))
        dept = clean(_pick(rec, HISTORY_COLUMNS["department"]))
        date = parse_date(_pick(rec, HISTORY_COLUMNS["date"]))
        if not text:
            errors.append(RowError(fname, n, "诉求内容", "empty"))
        if not dept:
            errors.append(RowError(fname, n, "处理部门", "empty"))
        if date is None:
            errors.append(RowError(fname, n, "日期", f"{_pick(rec, HISTORY_COLUMNS['date'])!r} is not a date"))
        if text and dept and date:
            out.append({"text": re.sub(r"\s+", " ", text), "department": dept, "type": type_of(dept), "date": date})
    if errors:
        raise ImportFailed(errors)
    return out


def import_history(db: sqlite_utils.Database, catalogue: str, rows: list[dict[str, Any]],
                   mask=lambda text: text) -> dict[str, Any]:
    """Replace ``catalogue``'s work-order history (one transaction, versioned).
    Callers pass ``assistant.privacy.mask`` so texts are stored masked."""
    ensure_schema(db)
    stored = [{"catalogue": catalogue, **r, "text": mask(r["text"])} for r in rows]
    return _versioned(db, catalogue, "history", stored, lambda: (
        db.execute("delete from dispatch_history where catalogue = ?", [catalogue]),
        db["dispatch_history"].insert_all(stored, batch_size=2000)))


def history(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    ensure_schema(db)
    return list(db.query("select text, department, type, date from dispatch_history where catalogue = ? "
                         "order by date", [catalogue]))


def version(db: sqlite_utils.Database, catalogue: str, kind: str) -> int:
    ensure_schema(db)
    rows = list(db.query("select max(version) as v from dispatch_versions where catalogue = ? and kind = ?",
                         [catalogue, kind]))
    return rows[0]["v"] or 0


# ------------------------------------------------------------ corrections --

def add_correction(db: sqlite_utils.Database, catalogue: str, question: str, category: list[str],
                   session_id: str | None = None) -> dict[str, Any]:
    """An operator's category for a question (``question`` already masked)."""
    ensure_schema(db)
    row = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "catalogue": catalogue,
           "question": question, "category": json.dumps(category, ensure_ascii=False), "session_id": session_id}
    with write_tx(db):
        pk = db["dispatch_corrections"].insert(row).last_pk
    _changed()
    return {"id": pk, **row, "category": category}


def corrections(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    ensure_schema(db)
    return [{**r, "category": json.loads(r["category"])} for r in db.query(
        "select * from dispatch_corrections where catalogue = ? order by id", [catalogue])]
