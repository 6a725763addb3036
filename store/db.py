"""The catalogue store: one SQLite file, several catalogues side by side.

A catalogue is one jurisdiction's published list. Items hold the list entry
and its service guide; unknown values stay NULL (the source's "无" is never
stored). Every import that changes something makes a new catalogue version
with its diff.

    >>> db = open_db(":memory:")
    >>> result = import_catalogue(db, CatalogueData(name="demo", title="演示",
    ...     items=[{"code": "1", "name": "户口登记", "department": "区公安分局"}]))
    >>> (result.version, result.added)
    (1, ['1'])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

log = logging.getLogger("wenban.store")
from store import audit

# Item fields, in the order a guide presents them. Lists are stored as JSON.
# level is 省/市/县, area the area's own name (广州市), area_code its 6-digit
# 行政区划代码, base_code the basic item (基本目录) shared by its implementations
# at several levels (三级四同); see store/areas.py.
ITEM_TEXT_FIELDS = [
    "code", "name", "parent_code", "parent_name", "variant", "type", "level", "area",
    "area_code", "base_code", "department", "legal_basis", "conditions", "time_limit_legal", "time_limit_promised",
    "fee", "place", "office_hours", "phone", "complaint_phone", "url", "online",
    "online_booking", "platform", "courier", "visits", "result",
]
ITEM_LIST_FIELDS = ["co_departments", "service_object", "materials", "steps", "aliases", "themes"]
ITEM_FIELDS = ITEM_TEXT_FIELDS + ITEM_LIST_FIELDS
DEPARTMENT_FIELDS = ["name", "short_name", "aliases", "phone", "address"]

# The 10 nationwide power types, plus public services; variants people write.
ITEM_TYPES = [
    "行政许可", "行政处罚", "行政强制", "行政征收", "行政给付", "行政裁决", "行政确认",
    "行政奖励", "行政检查", "其他行政权力", "公共服务", "责任事项",
]
TYPE_SYNONYMS = {"公共服务事项": "公共服务", "其他权力": "其他行政权力", "其他": "其他行政权力"}


@dataclass
class CatalogueData:
    """One catalogue as an importer produced it, before it is stored."""

    name: str
    title: str
    items: list[dict[str, Any]]
    departments: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    licence: str | None = None
    enquiry: dict[str, str] = field(default_factory=dict)  # where to go when nothing matches


@dataclass
class ImportResult:
    catalogue: str
    version: int
    added: list[str]
    changed: list[str]
    removed: list[str]
    new_version: bool = True  # False when the content was already stored

    @property
    def unchanged(self) -> bool:
        return not self.new_version

    def summary(self) -> str:
        if self.unchanged:
            return f"{self.catalogue}: unchanged (version {self.version})"
        what = (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"
                if self.added or self.changed or self.removed else "title, source or departments changed")
        return f"{self.catalogue}: version {self.version}: {what}"


class StoreUnavailable(Exception):
    """A write the store could not make (disk full, read-only, locked too long, or
    PostgreSQL down or restarting); nothing of it was written. Answers go on from the
    loaded indexes. ``reason`` is short English for logs and errors."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# One writer at a time in this process; other processes queue on SQLite's lock.
_WRITE_LOCK = threading.RLock()


def is_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def open_db(path: str | Path, busy_ms: int = 10_000):
    """Open (creating if needed) the store and make sure the schema exists.

    ``path`` is a SQLite file (the embedded default) or a ``postgresql://`` URL
    (several processes or machines sharing one store; see ``store/pg.py``).
    Both give the same surface to the functions below.
    """
    if is_url(path):
        from store.pg import open_pg

        db = open_pg(str(path))
        if not getattr(db, "schema_ready", False):
            with write(db):
                ensure_schema(db)
            db.schema_ready = True
        return db
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False, timeout=busy_ms / 1000))
    db.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    if not {"catalogues", "items", "feedback", "unanswered", "sessions"} <= set(db.table_names()):
        with write(db):
            ensure_schema(db)
    # stores made by older versions lack newer columns: add them (NULL until re-imported)
    missing = [("items", f) for f in ITEM_FIELDS if f not in db["items"].columns_dict]
    missing += [("feedback", "question")] if "question" not in db["feedback"].columns_dict else []
    if missing:
        with write(db):
            for table, col in missing:
                db[table].add_column(col, str)
    return db


@contextlib.contextmanager
def write(db: sqlite_utils.Database):
    """A write transaction that queues instead of failing.

    ``BEGIN IMMEDIATE`` takes the write lock before anything is read, so the
    busy timeout applies (a deferred transaction that reads first and then
    writes gets SQLITE_BUSY_SNAPSHOT at once, whatever the timeout). Nested
    calls become savepoints. Errors roll everything back.

        >>> with write(db):                                  # doctest: +SKIP
        ...     db["feedback"].insert({...})
    """
    if getattr(db, "engine", "sqlite") == "postgresql":
        with db.atomic():  # row locks: PostgreSQL queues concurrent writers itself
            yield db
        return
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    with _WRITE_LOCK:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        try:
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise


def ensure_schema(db: sqlite_utils.Database) -> None:
    db["catalogues"].create(
        {"name": str, "title": str, "source": str, "licence": str, "enquiry": str,
         "version": int, "content_hash": str, "updated_at": str},
        pk="name", if_not_exists=True,
    )
    db["catalogue_versions"].create(
        {"catalogue": str, "version": int, "content_hash": str, "imported_at": str,
         "item_count": int, "added": str, "changed": str, "removed": str},
        pk=("catalogue", "version"), if_not_exists=True,
    )
    db["departments"].create(
        {"catalogue": str, **{f: str for f in DEPARTMENT_FIELDS}},
        pk=("catalogue", "name"), if_not_exists=True,
    )
    db["items"].create(
        {"catalogue": str, **{f: str for f in ITEM_FIELDS}, "content_hash": str},
        pk=("catalogue", "code"), if_not_exists=True,
    )
    db["items"].create_index(["catalogue", "department"], if_not_exists=True)
    db["feedback"].create(
        {"id": int, "at": str, "session_id": str, "catalogue": str, "answer_code": str,
         "helpful": int, "comment": str, "question": str},
        pk="id", if_not_exists=True,
    )
    # Questions nobody could answer, for quality staff and for growing the vocabulary.
    # Stored already masked (ID-card and phone numbers): see assistant.privacy.
    db["unanswered"].create(
        {"id": int, "at": str, "catalogue": str, "kind": str, "question": str,
         "candidates": str, "session_id": str},
        pk="id", if_not_exists=True,
    )
    # Conversations of the HTTP API (assistant/sessions.py): any process answers any turn.
    db["sessions"].create({"id": str, "catalogue": str, "state": str, "last": float},
                          pk="id", if_not_exists=True)
    db["sessions"].create_index(["last"], if_not_exists=True)
    audit.ensure_schema(db)


def item_hash(item: dict[str, Any]) -> str:
    canon = json.dumps({k: item.get(k) for k in ITEM_FIELDS}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()


def _row(catalogue: str, item: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"catalogue": catalogue}
    for f in ITEM_TEXT_FIELDS:
        v = item.get(f)
        row[f] = None if v is None else str(v)
    for f in ITEM_LIST_FIELDS:
        v = item.get(f)
        row[f] = json.dumps(v, ensure_ascii=False) if v else None
    row["content_hash"] = item_hash(item)
    return row


def _dept_row(catalogue: str, dept: dict[str, Any]) -> dict[str, Any]:
    row = {"catalogue": catalogue, **{f: dept.get(f) for f in DEPARTMENT_FIELDS}}
    row["aliases"] = json.dumps(dept["aliases"], ensure_ascii=False) if dept.get("aliases") else None
    return row


def import_catalogue(db: sqlite_utils.Database, data: CatalogueData) -> ImportResult:
    """Store ``data`` as the current version of catalogue ``data.name``.

    All-or-nothing: one transaction. Importing unchanged content is a no-op;
    changed content bumps the version and records added/changed/removed codes.
    The caller validates first (importers raise ``ImportFailed``); a duplicate
    code that slips through still aborts here through the primary key.
    """
    name = data.name
    rows = [_row(name, it) for it in data.items]
    new = {r["code"]: r["content_hash"] for r in rows}
    depts = [_dept_row(name, d) for d in data.departments]
    meta = {"title": data.title, "source": data.source, "licence": data.licence,
            "enquiry": json.dumps(data.enquiry, ensure_ascii=False)}
    content_hash = hashlib.sha256(json.dumps(
        [sorted(new.items()), depts, meta], ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    # read and write in one immediate transaction: a concurrent import cannot
    # slip in between the diff and the write
    with write(db):
        old = {r["code"]: r["content_hash"] for r in db.query(
            "select code, content_hash from items where catalogue = ?", [name])}
        current = db["catalogues"].get(name) if db["catalogues"].count_where("name = ?", [name]) else None
        if current and current["content_hash"] == content_hash:
            return ImportResult(name, current["version"], [], [], [], new_version=False)
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        changed = sorted(c for c in set(new) & set(old) if new[c] != old[c])
        version = (current["version"] if current else 0) + 1
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        db.execute("delete from items where catalogue = ?", [name])
        db.execute("delete from departments where catalogue = ?", [name])
        db["items"].insert_all(rows, batch_size=2000)
        if depts:
            db["departments"].insert_all(depts)
        db["catalogues"].upsert({"name": name, **meta, "version": version,
                                 "content_hash": content_hash, "updated_at": now}, pk="name")
        db["catalogue_versions"].insert({
            "catalogue": name, "version": version, "content_hash": content_hash,
            "imported_at": now, "item_count": len(rows),
            "added": json.dumps(added), "changed": json.dumps(changed), "removed": json.dumps(removed),
        })
    return ImportResult(name, version, added, changed, removed)


def decode_item(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row back to an item dict (lists decoded, NULLs kept as None)."""
    out = {k: row.get(k) for k in ["catalogue", *ITEM_TEXT_FIELDS]}
    for f in ITEM_LIST_FIELDS:
        out[f] = json.loads(row[f]) if row.get(f) else None
    return out


def items(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    return [decode_item(r) for r in db.query(
        "select * from items where catalogue = ? order by code", [catalogue])]


SEARCH_FIELDS = ["code", "name", "parent_name", "department", "type", "level", "area", "area_code",
                 "base_code", "aliases"]


def search_items(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    """Only what search needs of each item (a province has ~150k; guides stay on disk)."""
    out = []
    for r in db.execute(f"select {', '.join(SEARCH_FIELDS)} from items where catalogue = ? order by code",
                        [catalogue]):
        it = dict(zip(SEARCH_FIELDS, r))
        it["aliases"] = json.loads(it["aliases"]) if it["aliases"] else None
        out.append(it)
    return out


def catalogues_serving(db: sqlite_utils.Database, code: str) -> list[str]:
    """The catalogues whose items name area ``code`` or an area above it. A list whose
    items name no area (a hall's own list) is not served by area codes: ask it by
    catalogue, without a site."""
    from .areas import chain

    areas = chain(code)
    marks = ", ".join("?" for _ in areas)
    return [r[0] for r in db.execute(
        f"select distinct catalogue from items where area_code in ({marks}) order by catalogue", areas)]


def get_item(db: sqlite_utils.Database, catalogue: str, code: str) -> dict[str, Any] | None:
    rows = list(db.query("select * from items where catalogue = ? and code = ?", [catalogue, code]))
    return decode_item(rows[0]) if rows else None


def departments(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    out = []
    for r in db.query("select * from departments where catalogue = ? order by name", [catalogue]):
        r = dict(r)
        r["aliases"] = json.loads(r["aliases"]) if r["aliases"] else []
        out.append(r)
    return out


def catalogues(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    out = []
    for r in db.query("""select c.*, (select count(*) from items i where i.catalogue = c.name) as item_count
                         from catalogues c order by name"""):
        r = dict(r)
        r["enquiry"] = json.loads(r["enquiry"]) if r["enquiry"] else {}
        out.append(r)
    return out


def get_catalogue(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    """One catalogue's row (no item count: this is on every question's path)."""
    rows = list(db.query("select * from catalogues where name = ?", [name]))
    if not rows:
        return None
    return {**rows[0], "enquiry": json.loads(rows[0]["enquiry"]) if rows[0]["enquiry"] else {}}


def browse_items(db: sqlite_utils.Database, catalogue: str, q: str | None = None, department: str | None = None,
                 type_: str | None = None, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """The public list, filtered: name contains ``q``, exact department and type."""
    where, args = ["catalogue = ?"], [catalogue]
    if q:
        where.append("name like ?")
        args.append(f"%{q}%")
    if department:
        where.append("department = ?")
        args.append(department)
    if type_:
        where.append("type = ?")
        args.append(type_)
    clause = " and ".join(where)
    total = db.execute(f"select count(*) from items where {clause}", args).fetchone()[0]
    rows = db.query(f"select code, name, type, department, parent_name from items where {clause} "
                    f"order by department, name limit ? offset ?", [*args, per_page, (page - 1) * per_page])
    return {"total": total, "page": page, "per_page": per_page, "items": list(rows)}


def department_counts(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    return list(db.query("select department as name, count(*) as item_count from items where catalogue = ? "
                         "group by department order by item_count desc, department", [catalogue]))


def find_code(db: sqlite_utils.Database, code: str) -> list[str]:
    """The catalogues holding an item with this code."""
    return [r["catalogue"] for r in db.query("select catalogue from items where code = ?", [code])]


# The quality log (unanswered questions, feedback, retention) lives in
# store/quality.py; callers keep using ``store.db`` (resolved on first use, as
# store.quality itself imports this module).
_QUALITY = {"add_feedback", "feedback", "log_failure_count", "log_unanswered", "purge_older_than", "unanswered"}


def __getattr__(name: str):
    if name in _QUALITY:
        from store import quality

        return getattr(quality, name)
    raise AttributeError(f"module 'store.db' has no attribute {name!r}")
