"""The store on PostgreSQL: the same surface the store functions use on SQLite.

The store's functions (``store/db.py`` and its siblings) are written against a
small part of sqlite-utils' ``Database``: ``query``, ``execute``, ``atomic()``
and ``db[table]`` with ``create``, ``create_index``, ``insert``,
``insert_all``, ``upsert``, ``get``, ``count``, ``count_where``. ``PgDatabase``
offers exactly that over psycopg 3 and a connection pool, so one code path
serves both engines and the SQL stays standard (``?`` placeholders are turned
into psycopg's ``%s`` outside string literals). PostgreSQL-compatible servers
(KingbaseES, openGauss, HighGo) speak the same protocol and SQL; they were not
tried here.

    >>> db = open_pg("postgresql://wenban@127.0.0.1:5433/wenban")   # doctest: +SKIP
    >>> db["t"].create({"id": int, "name": str}, pk="id", if_not_exists=True)  # doctest: +SKIP
    >>> db["t"].insert({"name": "户口登记"}).last_pk                   # doctest: +SKIP
    1
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from store.db import StoreUnavailable

_TYPES = {str: "TEXT", int: "BIGINT", float: "DOUBLE PRECISION", bytes: "BYTEA", bool: "BOOLEAN"}
# a ? outside quotes, or a quoted literal (kept as it is)
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")

_pools: dict[str, "PgDatabase"] = {}
_pools_lock = threading.Lock()


class NotFoundError(KeyError):
    """``db[table].get(pk)`` found no row (sqlite-utils raises its own NotFoundError)."""


def to_pg(sql: str) -> str:
    """``?`` → ``%s`` and a literal ``%`` → ``%%``, leaving quoted text alone."""
    def sub(m: re.Match) -> str:
        t = m.group(0)
        return "%s" if t == "?" else "%%" if t == "%" else t
    return _TOKENS.sub(sub, sql)


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a plain SQL name: {name!r}")
    return name


def open_pg(url: str, max_size: int = 8) -> "PgDatabase":
    """One pool per URL per process, shared by every thread."""
    with _pools_lock:
        db = _pools.get(url)
        if db is None:
            db = _pools[url] = PgDatabase(url, max_size=max_size)
        return db


class _Result:
    """What ``execute`` returns: the rows already fetched, like a finished cursor."""

    def __init__(self, rows: list[tuple], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return list(self._rows)


class PgDatabase:
    engine = "postgresql"

    def __init__(self, url: str, max_size: int = 8) -> None:
        self.url = url
        # open=False then open(wait=False): the app starts even while the server is down,
        # and the pool reconnects by itself when it comes back.
        # check: a connection the server dropped (restart) is replaced before use, not failed on
        self.pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False, timeout=2,
                                   check=ConnectionPool.check_connection,
                                   kwargs={"autocommit": True, "connect_timeout": 2})
        self.pool.open(wait=False)
        self._local = threading.local()
        self._meta: dict[tuple[str, str], Any] = {}  # (table, "pk"|"cols") → cached catalogue facts
        self._down_until = 0.0  # after a failure, fail fast for a moment instead of waiting each time

    # ------------------------------------------------------------ plumbing --
    DOWN_SECONDS = 2.0

    def _check_up(self) -> None:
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("PostgreSQL unavailable (retrying shortly)")

    def _failed(self, e: Exception) -> StoreUnavailable:
        self._down_until = time.monotonic() + self.DOWN_SECONDS
        return StoreUnavailable(f"PostgreSQL unavailable: {e}")

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        held = getattr(self._local, "conn", None)
        if held is not None:  # inside atomic(): the transaction's connection
            yield held
            return
        self._check_up()
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise self._failed(e) from e

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction on one connection for everything inside (nested: one savepoint)."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            with held.transaction():
                yield
            return
        self._check_up()
        try:
            with self.pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        yield
                finally:
                    self._local.conn = None
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise self._failed(e) from e

    def query(self, sql: str, params: Iterable[Any] | dict | None = None) -> Iterator[dict[str, Any]]:
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(to_pg(sql), params or None)
            rows = cur.fetchall() if cur.description else []
        yield from rows

    def execute(self, sql: str, params: Iterable[Any] | None = None) -> _Result:
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute(to_pg(sql), params or None)
            rows = cur.fetchall() if cur.description else []
            return _Result(rows, cur.rowcount)

    def __getitem__(self, name: str) -> "PgTable":
        return PgTable(self, _ident(name))

    def table_names(self) -> list[str]:
        return [r["table_name"] for r in self.query(
            "select table_name from information_schema.tables where table_schema = current_schema()")]

    def ping(self) -> bool:
        try:
            self.execute("select 1")
            return True
        except StoreUnavailable:
            return False

    def close(self) -> None:
        """A no-op: the pool is shared by every thread of the process (callers that
        close their SQLite connection must not close it); ``shutdown`` ends it."""

    def shutdown(self) -> None:
        self.pool.close()
        with _pools_lock:
            if _pools.get(self.url) is self:
                del _pools[self.url]


class PgTable:
    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db, self.name = db, name
        self.last_pk: Any = None

    def _pk(self) -> list[str]:
        key = (self.name, "pk")
        if key not in self.db._meta:
            self.db._meta[key] = self._read_pk()
        return self.db._meta[key]

    def _read_pk(self) -> list[str]:
        rows = self.db.query(
            "select a.attname as col from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
            "and a.attnum = any(i.indkey) where i.indrelid = ?::regclass and i.indisprimary", [self.name])
        return [r["col"] for r in rows]

    def create(self, columns: dict[str, type], pk: str | tuple[str, ...] | None = None,
               if_not_exists: bool = False, **_ignored: Any) -> "PgTable":
        pks = [pk] if isinstance(pk, str) else list(pk or [])
        cols = []
        for col, typ in columns.items():
            if pks == [col] and typ is int:  # sqlite's INTEGER PRIMARY KEY: a row id
                cols.append(f"{_ident(col)} BIGINT GENERATED BY DEFAULT AS IDENTITY")
            else:
                cols.append(f"{_ident(col)} {_TYPES.get(typ, 'TEXT')}")
        if pks:
            cols.append(f"PRIMARY KEY ({', '.join(_ident(p) for p in pks)})")
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.execute(f"CREATE TABLE {exists}{self.name} ({', '.join(cols)})")
        self.db._meta.pop((self.name, "cols"), None)
        self.db._meta.pop((self.name, "pk"), None)
        return self

    def create_index(self, columns: list[str], if_not_exists: bool = False, unique: bool = False,
                     index_name: str | None = None) -> "PgTable":
        name = _ident(index_name or f"idx_{self.name}_{'_'.join(columns)}")
        self.db.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {'IF NOT EXISTS ' if if_not_exists else ''}"
                        f"{name} ON {self.name} ({', '.join(_ident(c) for c in columns)})")
        return self

    def _insert_sql(self, cols: list[str], upsert_pk: list[str] | None = None,
                    ignore: bool = False) -> str:
        sql = (f"INSERT INTO {self.name} ({', '.join(_ident(c) for c in cols)}) "
               f"VALUES ({', '.join('%s' for _ in cols)})")
        if upsert_pk:
            rest = [c for c in cols if c not in upsert_pk]
            action = (f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in rest)}" if rest else "DO NOTHING")
            sql += f" ON CONFLICT ({', '.join(upsert_pk)}) {action}"
        elif ignore:
            sql += " ON CONFLICT DO NOTHING"
        return sql

    def insert(self, row: dict[str, Any], pk: Any = None, ignore: bool = False, **_ignored: Any) -> "PgTable":
        cols = list(row)
        sql = self._insert_sql(cols, ignore=ignore)
        has_id = "id" not in row and "id" in self._columns()
        with self.db._conn() as conn, conn.cursor() as cur:
            cur.execute(sql + (" RETURNING id" if has_id else ""), [row[c] for c in cols])
            got = cur.fetchone() if has_id else None
        self.last_pk = got[0] if got else row.get("id")
        return self

    def insert_all(self, rows: Iterable[dict[str, Any]], batch_size: int = 1000, **_ignored: Any) -> "PgTable":
        rows = list(rows)
        if not rows:
            return self
        cols = list(rows[0])
        sql = self._insert_sql(cols)
        with self.db._conn() as conn, conn.cursor() as cur:
            for start in range(0, len(rows), batch_size):
                cur.executemany(sql, [[r.get(c) for c in cols] for r in rows[start:start + batch_size]])
        return self

    def upsert(self, row: dict[str, Any], pk: str | tuple[str, ...] | None = None, **_ignored: Any) -> "PgTable":
        pks = [pk] if isinstance(pk, str) else list(pk or self._pk())
        cols = list(row)
        self.db.execute(self._insert_sql(cols, upsert_pk=pks).replace("%s", "?"), [row[c] for c in cols])
        return self

    def get(self, pk_value: Any) -> dict[str, Any]:
        pks = self._pk()
        values = list(pk_value) if isinstance(pk_value, (list, tuple)) else [pk_value]
        where = " and ".join(f"{p} = ?" for p in pks)
        rows = list(self.db.query(f"select * from {self.name} where {where}", values))
        if not rows:
            raise NotFoundError(f"{self.name}: no row {pk_value!r}")
        return rows[0]

    @property
    def count(self) -> int:
        return self.db.execute(f"select count(*) from {self.name}").fetchone()[0]

    def count_where(self, where: str | None = None, where_args: Iterable[Any] | None = None) -> int:
        sql = f"select count(*) from {self.name}" + (f" where {where}" if where else "")
        return self.db.execute(sql, list(where_args or [])).fetchone()[0]

    def _columns(self) -> set[str]:
        key = (self.name, "cols")
        if not self.db._meta.get(key):
            self.db._meta[key] = self._read_columns()
        return self.db._meta[key]

    def _read_columns(self) -> set[str]:
        return {r["column_name"] for r in self.db.query(
            "select column_name from information_schema.columns where table_name = ? "
            "and table_schema = current_schema()", [self.name])}

    def exists(self) -> bool:
        return bool(self._read_columns())
