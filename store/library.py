"""The question library: real questions quality staff attached to the right item
(or marked out of scope), and everyday → official synonyms, per catalogue.

Every change is audited (who, when, what) and bumps the catalogue's library
version, which running servers compare against cheaply to notice the change
(see ``assistant.library``).

    >>> db = open_db(":memory:")
    >>> row = add_question(db, "guangan", "结婚证弄丢了怎么办", code="C1", who="qa1")
    >>> (row["code"], version(db, "guangan"))
    ('C1', 1)
    >>> add_synonym(db, "guangan", "扯证", "结婚登记", who="qa1")["official"]
    '结婚登记'
    >>> [r["question"] for r in questions(db, "guangan")]
    ['结婚证弄丢了怎么办']
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from store.db import write

MAX_QUESTION = 500
MAX_WORD = 30
CSV_COLUMNS = ["kind", "question", "code", "out_of_scope", "everyday", "official", "who", "at"]


class LibraryError(ValueError):
    """Bad library input; the message says which field and why, in Chinese and English."""


def open_db(path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(path)
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    db["library_questions"].create(
        {"id": int, "catalogue": str, "question": str, "norm": str, "code": str, "out_of_scope": int,
         "unanswered_id": int, "who": str, "at": str},
        pk="id", if_not_exists=True)
    db["library_questions"].create_index(["catalogue", "norm"], unique=True, if_not_exists=True)
    db["library_synonyms"].create(
        {"id": int, "catalogue": str, "everyday": str, "official": str, "who": str, "at": str},
        pk="id", if_not_exists=True)
    db["library_synonyms"].create_index(["catalogue", "everyday", "official"], unique=True, if_not_exists=True)
    db["library_audit"].create(
        {"id": int, "at": str, "who": str, "catalogue": str, "action": str, "what": str},
        pk="id", if_not_exists=True)
    db["library_versions"].create({"catalogue": str, "version": int, "updated_at": str},
                                  pk="catalogue", if_not_exists=True)


_NORM_DROP = re.compile(r"[\s，。？！、；：“”‘’（）()《》【】,.?!;:'\"\-—…~～]+")


def normalise(question: str) -> str:
    """What makes two questions "the same question": case, spaces and punctuation aside."""
    return _NORM_DROP.sub("", question).lower()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _bump(db: sqlite_utils.Database, catalogue: str, who: str, action: str, what: dict[str, Any]) -> None:
    now = _now()
    db["library_audit"].insert({"at": now, "who": who, "catalogue": catalogue, "action": action,
                                "what": json.dumps(what, ensure_ascii=False)})
    db.execute("insert into library_versions (catalogue, version, updated_at) values (?, 1, ?) "
               "on conflict(catalogue) do update set version = library_versions.version + 1, "
               "updated_at = excluded.updated_at",
               [catalogue, now])


def version(db: sqlite_utils.Database, catalogue: str) -> int:
    """The catalogue's library version: 0 before the first change. One indexed read."""
    row = db.execute("select version from library_versions where catalogue = ?", [catalogue]).fetchone()
    return row[0] if row else 0


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LibraryError(f"{field}: 不能为空 / {field}: must be non-empty text")
    value = re.sub(r"\s+", " ", value).strip()
    if len(value) > limit:
        raise LibraryError(f"{field}: 过长（最多 {limit} 字）/ {field}: longer than {limit} characters")
    return value


def add_question(db: sqlite_utils.Database, catalogue: str, question: str, code: str | None = None,
                 out_of_scope: bool = False, who: str = "admin", unanswered_id: int | None = None,
                 known_codes: set[str] | None = None) -> dict[str, Any]:
    """Attach ``question`` to item ``code`` (or mark it out of scope). The same
    question again replaces the earlier attachment. ``known_codes``, when given,
    must hold ``code``."""
    question = _text(question, "question", MAX_QUESTION)
    if bool(code) == bool(out_of_scope):
        raise LibraryError("code / out_of_scope: 须给出事项编码或标记为不属于办事范围（二选一）/ "
                           "give either an item code or out_of_scope, not both or neither")
    if code and known_codes is not None and code not in known_codes:
        raise LibraryError(f"code: 目录 {catalogue} 中没有事项 {code} / catalogue {catalogue!r} has no item {code!r}")
    norm = normalise(question)
    if not norm:
        raise LibraryError("question: 只有标点 / question: only punctuation")
    row = {"catalogue": catalogue, "question": question, "norm": norm, "code": code or None,
           "out_of_scope": int(bool(out_of_scope)), "unanswered_id": unanswered_id, "who": who, "at": _now()}
    with write(db):
        db.execute("delete from library_questions where catalogue = ? and norm = ?", [catalogue, norm])
        pk = db["library_questions"].insert(row).last_pk
        _bump(db, catalogue, who, "question", {k: row[k] for k in ("question", "code", "out_of_scope")})
    return {"id": pk, **row}


def add_synonym(db: sqlite_utils.Database, catalogue: str, everyday: str, official: str,
                who: str = "admin") -> dict[str, Any]:
    """An everyday word → an official term, for this catalogue's questions."""
    everyday = _text(everyday, "everyday", MAX_WORD)
    official = _text(official, "official", MAX_WORD * 2)
    if everyday == official:
        raise LibraryError("official: 与 everyday 相同 / official: the same as everyday")
    row = {"catalogue": catalogue, "everyday": everyday, "official": official, "who": who, "at": _now()}
    with write(db):
        db.execute("delete from library_synonyms where catalogue = ? and everyday = ? and official = ?",
                   [catalogue, everyday, official])
        pk = db["library_synonyms"].insert(row).last_pk
        _bump(db, catalogue, who, "synonym", {"everyday": everyday, "official": official})
    return {"id": pk, **row}


def questions(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    return list(db.query("select * from library_questions where catalogue = ? order by id", [catalogue]))


def synonyms(db: sqlite_utils.Database, catalogue: str) -> list[dict[str, Any]]:
    return list(db.query("select * from library_synonyms where catalogue = ? order by id", [catalogue]))


def audit(db: sqlite_utils.Database, catalogue: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = db.query("select * from library_audit where catalogue = ? order by id desc limit ?", [catalogue, limit])
    return [{**r, "what": json.loads(r["what"])} for r in rows]


# ------------------------------------------------------------------ CSV --

def export_csv(db: sqlite_utils.Database, catalogue: str) -> str:
    """One row per question (kind=question) and per synonym (kind=synonym)."""
    out = io.StringIO()
    w = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in questions(db, catalogue):
        w.writerow({"kind": "question", "question": r["question"], "code": r["code"] or "",
                    "out_of_scope": "1" if r["out_of_scope"] else "", "who": r["who"], "at": r["at"]})
    for r in synonyms(db, catalogue):
        w.writerow({"kind": "synonym", "everyday": r["everyday"], "official": r["official"],
                    "who": r["who"], "at": r["at"]})
    return out.getvalue()


def import_csv(db: sqlite_utils.Database, catalogue: str, text: str, who: str,
               known_codes: set[str] | None = None) -> dict[str, int]:
    """Read an exported CSV back, all-or-nothing: every row is checked first and
    every problem is listed as ``row N: field: reason``."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("kind",) if c not in (reader.fieldnames or [])]
    if missing:
        raise LibraryError(f"header: 缺少列 {', '.join(missing)} / missing column(s) {', '.join(missing)}")
    rows, problems = list(reader), []
    for n, r in enumerate(rows, start=2):
        try:
            _check_row(r, catalogue, known_codes)
        except LibraryError as e:
            problems.append(f"row {n}: {e}")
    if problems:
        raise LibraryError("\n".join(problems))
    counts = {"questions": 0, "synonyms": 0}
    with write(db):
        for r in rows:
            if r["kind"].strip() == "question":
                add_question(db, catalogue, r["question"], code=(r.get("code") or "").strip() or None,
                             out_of_scope=_truthy(r.get("out_of_scope")), who=who)
                counts["questions"] += 1
            else:
                add_synonym(db, catalogue, r["everyday"], r["official"], who=who)
                counts["synonyms"] += 1
    return counts


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "是", "y")


def _check_row(r: dict[str, str], catalogue: str, known_codes: set[str] | None) -> None:
    kind = (r.get("kind") or "").strip()
    if kind == "question":
        _text(r.get("question"), "question", MAX_QUESTION)
        code, oos = (r.get("code") or "").strip(), _truthy(r.get("out_of_scope"))
        if bool(code) == oos:
            raise LibraryError("code / out_of_scope: 须给出事项编码或标记为不属于办事范围（二选一）/ "
                               "give either an item code or out_of_scope")
        if code and known_codes is not None and code not in known_codes:
            raise LibraryError(f"code: 目录 {catalogue} 中没有事项 {code} / no item {code!r} in {catalogue!r}")
    elif kind == "synonym":
        _text(r.get("everyday"), "everyday", MAX_WORD)
        _text(r.get("official"), "official", MAX_WORD * 2)
    else:
        raise LibraryError(f"kind: 应为 question 或 synonym，而不是 {kind!r} / kind: question or synonym, not {kind!r}")


def codes(db: sqlite_utils.Database, catalogue: str) -> set[str]:
    """The item codes of a catalogue, for checking attachments."""
    return {r["code"] for r in db.query("select code from items where catalogue = ?", [catalogue])}


def unanswered_exists(db: sqlite_utils.Database, unanswered_id: int) -> bool:
    return bool(db.execute("select 1 from unanswered where id = ?", [unanswered_id]).fetchone())


