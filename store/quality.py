"""The quality log: questions nobody could answer, citizens' feedback, and the
retention that deletes both after ``WENBAN_RETENTION_DAYS``. Works on either
backend (``store.db.open_db`` gives SQLite or PostgreSQL behind one interface).

    >>> from store.db import open_db
    >>> db = open_db(":memory:")
    >>> log_unanswered(db, "demo", "not_found", "今天天气怎么样", [])
    True
    >>> [r["question"] for r in unanswered(db, "demo")]
    ['今天天气怎么样']
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlite_utils

from store.db import StoreUnavailable, write

log = logging.getLogger("wenban.store")
_log_failures = 0  # unanswered questions that could not be stored, since start


def log_failure_count() -> int:
    """How many unanswered questions could not be stored since the process started."""
    return _log_failures


def log_unanswered(db: sqlite_utils.Database, catalogue: str, kind: str, question: str,
                   candidates: list[dict[str, Any]], session_id: str | None = None) -> bool:
    """``kind``: not_found | abandoned_clarify. ``question`` must already be masked.

    Never raises: a question is answered even when it cannot be logged (disk
    full, store locked too long); the failure is counted (``log_failure_count()``)
    and warned about. Returns whether the entry was stored."""
    global _log_failures
    try:
        with write(db):
            db["unanswered"].insert({
                "at": _now(), "catalogue": catalogue,
                "kind": kind, "question": question,
                "candidates": json.dumps(candidates, ensure_ascii=False), "session_id": session_id,
            })
        return True
    except (sqlite3.Error, StoreUnavailable) as e:
        _log_failures += 1
        log.warning("could not log an unanswered question (%d so far): %s", _log_failures, e)
        return False


def unanswered(db: sqlite_utils.Database, catalogue: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    where, args = ("where catalogue = ?", [catalogue]) if catalogue else ("", [])
    rows = db.query(f"select * from unanswered {where} order by id desc limit ?", [*args, limit])
    return [{**r, "candidates": json.loads(r["candidates"] or "[]")} for r in rows]


def add_feedback(db: sqlite_utils.Database, session_id: str, answer_code: str, helpful: bool,
                 comment: str | None, catalogue: str | None = None, question: str | None = None) -> int:
    """``comment`` must already be masked. ``StoreUnavailable`` when it could not
    be saved (nothing half-written: the transaction is rolled back)."""
    try:
        with write(db):
            table = db["feedback"].insert({
                "at": _now(), "session_id": session_id,
                "catalogue": catalogue, "answer_code": answer_code, "helpful": int(helpful), "comment": comment,
                "question": question,
            })
        return table.last_pk
    except StoreUnavailable:
        raise
    except sqlite3.Error as e:
        log.warning("could not save feedback: %s", e)
        raise StoreUnavailable(str(e)) from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def purge_older_than(db: sqlite_utils.Database, days: int) -> int:
    """Delete stored questions and comments older than ``days`` (retention);
    ``days`` ≤ 0 keeps everything. Returns how many rows went."""
    if days <= 0:
        return 0
    cutoff = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")
    with write(db):
        n = db.execute("delete from unanswered where at < ?", [cutoff]).rowcount
        n += db.execute("delete from feedback where at < ?", [cutoff]).rowcount
    return n


def feedback(db: sqlite_utils.Database, helpful: bool | None = None, limit: int = 200) -> list[dict[str, Any]]:
    where, args = ("where helpful = ?", [int(helpful)]) if helpful is not None else ("", [])
    return list(db.query(f"select * from feedback {where} order by id desc limit ?", [*args, limit]))
