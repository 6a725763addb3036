"""Where conversations keep their state between turns.

``MemorySessions`` is for one process (the terminal chat, the evaluation).
``StoreSessions`` keeps each session as a row in the shared store (SQLite or
PostgreSQL), so any worker or replica can answer any turn, and nothing is ever
evicted to make room: a session ends only when it has been idle too long.

    >>> s = MemorySessions(idle_seconds=300)
    >>> sess = s.new("guangan")
    >>> s.save(sess); s.get(sess.id).catalogue
    'guangan'

Why rows in the store rather than a signed state carried by the client: the
unanswered log needs to know when a clarifying question was left unanswered
(the session expired with a question pending), which only the server can see;
a turn costs one small read and one small write (well under a millisecond on
SQLite, about a millisecond on PostgreSQL on loopback, against ~20 ms of
embedding), and session ids stay the 32-hex ids the API already documents.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

from store.db import StoreUnavailable, write


@dataclass
class Session:
    id: str
    catalogue: str
    last: float = field(default_factory=time.time)
    item_code: str | None = None
    pending: dict[str, Any] | None = None  # the clarify block awaiting a choice
    pending_question: str | None = None
    pending_candidates: list[dict[str, Any]] | None = None
    last_question: str | None = None  # what the current item or clarify answered ("都不是" logs it)
    last_candidates: list[dict[str, Any]] | None = None

    @classmethod
    def from_state(cls, sid: str, catalogue: str, state: str, last: float) -> "Session":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in json.loads(state).items() if k in known}
        return cls(**{**data, "id": sid, "catalogue": catalogue, "last": last})

    def state(self) -> str:
        data = asdict(self)
        for k in ("id", "catalogue", "last"):
            data.pop(k)
        return json.dumps(data, ensure_ascii=False)


class MemorySessions:
    """Sessions in this process's memory, bounded by idle time and count."""

    def __init__(self, idle_seconds: float = 300, max_sessions: int = 1000) -> None:
        self.idle_seconds, self.max_sessions = idle_seconds, max_sessions
        self._s: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, catalogue: str) -> Session:
        return Session(id=secrets.token_hex(16), catalogue=catalogue)

    def get(self, sid: str) -> Session | None:
        with self._lock:
            sess = self._s.get(sid)
            return None if sess is None or time.time() - sess.last > self.idle_seconds else sess

    def save(self, sess: Session) -> None:
        sess.last = time.time()
        with self._lock:
            self._s[sess.id] = sess
            self._s.move_to_end(sess.id)

    def pop(self, sid: str) -> Session | None:
        with self._lock:
            return self._s.pop(sid, None)

    def expired(self) -> list[Session]:
        """Remove and return the sessions idle too long, and the oldest past the count."""
        now = time.time()
        with self._lock:
            gone = [self._s.pop(sid) for sid, s in list(self._s.items()) if now - s.last > self.idle_seconds]
            while len(self._s) > self.max_sessions:
                gone.append(self._s.popitem(last=False)[1])
        return gone


class StoreSessions:
    """Sessions as rows of the shared store's ``sessions`` table.

    ``db`` is a callable giving this thread's store handle (``Assistant.db``).
    Expired rows are taken with ``DELETE … RETURNING``, so when several replicas
    sweep at once each abandoned session is logged exactly once.
    """

    SWEEP_EVERY = 30.0  # seconds between sweeps of expired rows, per process

    def __init__(self, db: Callable[[], Any], idle_seconds: float = 300) -> None:
        self.db, self.idle_seconds = db, idle_seconds
        self._last_sweep = 0.0

    def _table(self):
        return self.db()  # the table is made with the rest of the schema (store.db.ensure_schema)

    def new(self, catalogue: str) -> Session:
        return Session(id=secrets.token_hex(16), catalogue=catalogue)

    def get(self, sid: str) -> Session | None:
        rows = list(self._table().query("select * from sessions where id = ?", [sid]))
        if not rows or time.time() - rows[0]["last"] > self.idle_seconds:
            return None
        r = rows[0]
        return Session.from_state(r["id"], r["catalogue"], r["state"], r["last"])

    def save(self, sess: Session) -> None:
        sess.last = time.time()
        db = self._table()
        try:
            self._save(db, sess)
        except sqlite3.Error as e:  # disk full, locked too long: said as the store being unavailable
            raise StoreUnavailable(str(e)) from None

    def _save(self, db, sess: Session) -> None:
        with write(db):  # queued like every write (BEGIN IMMEDIATE on SQLite)
            db["sessions"].upsert({"id": sess.id, "catalogue": sess.catalogue, "state": sess.state(),
                                   "last": sess.last}, pk="id")

    def pop(self, sid: str) -> Session | None:
        rows = self._delete("delete from sessions where id = ? returning *", [sid])
        return rows[0] if rows else None

    def expired(self) -> list[Session]:
        now = time.time()
        if now - self._last_sweep < self.SWEEP_EVERY:
            return []
        self._last_sweep = now
        return self._delete("delete from sessions where last < ? returning *", [now - self.idle_seconds])

    def _delete(self, sql: str, args: list[Any]) -> list[Session]:
        db = self._table()
        with write(db):
            rows = list(db.query(sql, args))
        return [Session.from_state(r["id"], r["catalogue"], r["state"], r["last"]) for r in rows]
