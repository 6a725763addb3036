"""The audit trail: every admin action and every admin auth failure, append-only.

Kept in the store (``audit_log`` table) so it lives as long as the data it speaks
about: 网络安全法 §21 and 等保 2.0 (8.1.4.3) want such logs kept at least six
months. There is no update or delete code path, and SQLite triggers refuse both,
so nothing in this program can rewrite or shorten the trail.

    >>> import sqlite_utils
    >>> db = sqlite_utils.Database(memory=True); ensure_schema(db)
    >>> record(db, actor="token:1a2b3c4d", client="10.0.0.7", action="POST /api/v1/admin/x",
    ...        result="ok", status=200)
    >>> [r["result"] for r in rows(db)]
    ['ok']
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

COLUMNS = ["id", "at", "actor", "client", "action", "target", "result", "status", "detail"]


def ensure_schema(db: sqlite_utils.Database) -> None:
    db.executescript("""
        create table if not exists audit_log (
            id integer primary key autoincrement,
            at text not null,          -- UTC, ISO 8601
            actor text,                -- who: the admin token's short hash, or null when none was given
            client text not null,      -- from where: the client address (the proxy's forwarded one when trusted)
            action text not null,      -- what: method and path
            target text,               -- the catalogue or object acted on
            result text not null,      -- ok | refused | auth_failed | locked_out | error
            status integer not null,   -- the HTTP status answered
            detail text
        );
        create index if not exists audit_log_at on audit_log(at);
        create trigger if not exists audit_log_no_update before update on audit_log
            begin select raise(abort, 'audit_log is append-only'); end;
        create trigger if not exists audit_log_no_delete before delete on audit_log
            begin select raise(abort, 'audit_log is append-only'); end;
    """)


def record(db: sqlite_utils.Database, *, actor: str | None, client: str, action: str, result: str,
           status: int, target: str | None = None, detail: str | None = None) -> None:
    """Append one row (its own transaction: a failed admin action is still logged)."""
    with db.conn:
        db.conn.execute(
            "insert into audit_log (at, actor, client, action, target, result, status, detail)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            [datetime.now(timezone.utc).isoformat(timespec="milliseconds"), actor, client, action,
             target, result, status, detail])


def rows(db: sqlite_utils.Database, since: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows at or after ``since`` (an ISO date or time, UTC), oldest first."""
    sql = "select * from audit_log" + (" where at >= ?" if since else "") + " order by id"
    args: list[Any] = [since] if since else []
    if limit:
        sql += " limit ?"
        args.append(limit)
    return [dict(r) for r in db.query(sql, args)]


def to_csv(entries: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(entries)
    return out.getvalue()


def to_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps(entries, ensure_ascii=False, indent=1)
