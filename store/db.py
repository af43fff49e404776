"""A thin DB-API layer over SQLite and PostgreSQL: one SQL dialect for the store's queries.

Queries are written with ``?`` placeholders; the PostgreSQL connection rewrites them to
``%s``. A SQLite file locked by another writer (a bulk import) is waited for, within a bound
(``sqlite:///path?timeout=seconds``, default 15), then refused with ``Busy``. Timestamps are stored as UTC: ISO-8601 text in SQLite (sortable because the format is
fixed), TIMESTAMPTZ in PostgreSQL. JSON is TEXT in SQLite and JSONB in PostgreSQL."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from domain.clock import to_utc
from store.errors import Busy, StoreError, Unstorable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: how long a write waits for another writer's lock on a SQLite file before giving up
SQLITE_BUSY_SECONDS = 15.0
#: one attempt's wait inside SQLite; between attempts the wait is logged
_BUSY_SLICE = 0.25


class Database:
    """The database with the dialect's quirks hidden; safe to share between threads (a
    transaction belongs to the thread that opened it)."""

    dialect: str
    #: appended to a SELECT to lock its rows until the transaction ends (SQLite's
    #: ``BEGIN IMMEDIATE`` already holds the whole database)
    for_update = ""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def bulk_load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Load many rows fast (SQLite: one executemany; PostgreSQL: COPY). Values must already
        be in the database's form (``ts``, ``json``). Returns the number of rows loaded."""
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT and return the new row id."""
        raise NotImplementedError

    def insert_returning(
        self, sql: str, rows: Sequence[Sequence[Any]], returning: str
    ) -> list[dict[str, Any]]:
        """Run an INSERT once per row, with ``RETURNING returning``: the rows this statement
        really inserted (with ``ON CONFLICT DO NOTHING``, rows a concurrent writer stored
        first return nothing), in order."""
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def close(self) -> None:
        raise NotImplementedError

    # value conversion -------------------------------------------------------------------

    def ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        value = to_utc(value)
        return value.isoformat(timespec="seconds") if self.dialect == "sqlite" else value

    @staticmethod
    def read_ts(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return to_utc(value)
        return datetime.fromisoformat(value)

    def json(self, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False, default=str)

    @staticmethod
    def read_json(value: Any) -> Any:
        if value is None or not isinstance(value, str | bytes):
            return value
        return json.loads(value)


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path, busy_seconds: float = SQLITE_BUSY_SECONDS) -> None:
        self.path = path
        self.busy_seconds = busy_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(
                path,
                isolation_level=None,
                timeout=min(_BUSY_SLICE, busy_seconds),
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"无法打开 SQLite 数据库 {path}: {exc}") from exc
        self._depth = 0
        self._lock = threading.RLock()
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")
        self.execute("PRAGMA foreign_keys=ON")

    def _patiently(self, run: Callable[[], T]) -> T:
        """Run one statement; while another connection holds the write lock, wait and retry
        until ``busy_seconds`` have passed (a statement that failed on the lock changed
        nothing), then raise ``Busy``. Inside a transaction the lock is already ours."""
        deadline = time.monotonic() + self.busy_seconds
        waited = False
        while True:
            try:
                return run()
            except UnicodeEncodeError as exc:
                raise Unstorable(f"含有无法保存的字符：{exc.reason}") from exc
            except sqlite3.OperationalError as exc:
                message = str(exc)
                if "locked" not in message and "busy" not in message:
                    raise
                if self._depth > 0 or time.monotonic() >= deadline:
                    log.warning(
                        "SQLite %s is locked by another writer; gave up after %.1f s",
                        self.path,
                        self.busy_seconds,
                    )
                    raise Busy(
                        f"数据库正被其他写入（如批量导入）占用，等待 {self.busy_seconds:g} 秒后"
                        "仍未释放，本次未写入任何内容",
                        retry_after=max(1, math.ceil(self.busy_seconds / 3)),
                    ) from exc
                if not waited:
                    waited = True
                    log.warning(
                        "SQLite %s is locked by another writer; waiting up to %.1f s",
                        self.path,
                        self.busy_seconds,
                    )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._patiently(lambda: self.conn.execute(sql, tuple(params)))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        data = [tuple(r) for r in rows]
        with self._lock:
            self._patiently(lambda: self.conn.executemany(sql, data))

    def bulk_load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        marks = ", ".join("?" * len(columns))
        data = [tuple(r) for r in rows]
        with self.transaction():
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", data)
        return len(data)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        cur = self.execute(sql, params)
        return int(cur.lastrowid)

    def insert_returning(
        self, sql: str, rows: Sequence[Sequence[Any]], returning: str
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self.transaction():
            statement = f"{sql} RETURNING {returning}"
            for row in rows:
                values = tuple(row)
                cur = self._patiently(lambda: self.conn.execute(statement, values))  # noqa: B023
                names = [c[0] for c in cur.description]
                out.extend(dict(zip(names, r, strict=True)) for r in cur.fetchall())
        return out

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                try:
                    self._patiently(lambda: self.conn.execute("COMMIT"))
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        self.conn.close()


class Result:
    """What a statement answered, read whole while its connection was held (the connection
    goes back to the pool before the caller looks at it)."""

    def __init__(self, rowcount: int, description: Any, rows: list[tuple[Any, ...]]) -> None:
        self.rowcount = rowcount
        self.description = [(c.name,) for c in description] if description else None
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


class PostgresDatabase(Database):
    """Connections from a pool, checked before each use, so a restarted server is reconnected
    to without restarting the process. A transaction keeps one connection for its duration
    (per thread); a statement outside one borrows a connection for that statement only."""

    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str, pool_size: int = 8, timeout: float = 10.0) -> None:
        from psycopg_pool import ConnectionPool, PoolTimeout

        self.url = url
        self.pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            check=ConnectionPool.check_connection,
            timeout=timeout,
            name="sanji-store",
            open=False,
        )
        try:
            self.pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self.pool.close()
            raise StoreError(f"无法连接 PostgreSQL 数据库: {exc}") from exc
        self._local = threading.local()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """The thread's transaction connection, or one borrowed from the pool. A lost
        connection or an unreachable server is a StoreError (the pool drops the connection)."""
        import psycopg
        from psycopg_pool import PoolTimeout

        pinned = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreError(f"PostgreSQL 暂不可用: {exc}") from exc

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    @contextmanager
    def _storable(self) -> Iterator[None]:
        """Text PostgreSQL cannot store that no earlier check caught becomes ``Unstorable``."""
        import psycopg

        try:
            yield
        except UnicodeEncodeError as exc:
            raise Unstorable(f"含有无法保存的字符：{exc.reason}") from exc
        except psycopg.DataError as exc:  # UntranslatableCharacter is one
            if "NUL" not in str(exc) and "\\u0000" not in str(exc):
                raise
            raise Unstorable("含有无法保存的字符：空字符 U+0000") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        with self._storable(), self._connection() as conn, conn.cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            rows = cur.fetchall() if cur.description else []
            return Result(cur.rowcount, cur.description, rows)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._storable(), self._connection() as conn, conn.cursor() as cur:
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    def insert_returning(
        self, sql: str, rows: Sequence[Sequence[Any]], returning: str
    ) -> list[dict[str, Any]]:
        if not rows:
            return []
        out: list[dict[str, Any]] = []
        with self._storable(), self._connection() as conn, conn.cursor() as cur:
            cur.executemany(
                self._sql(f"{sql} RETURNING {returning}"), [tuple(r) for r in rows], returning=True
            )
            while True:
                names = [c.name for c in cur.description or ()]
                out.extend(dict(zip(names, row, strict=True)) for row in cur.fetchall())
                if not cur.nextset():
                    break
        return out

    def bulk_load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        n = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with (
            self.transaction(),
            self._connection() as conn,
            conn.cursor() as cur,
            cur.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row(row)
                n += 1
        return n

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = self.execute(sql + " RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._connection() as conn:
            outer = getattr(self._local, "conn", None) is None
            if outer:
                self._local.conn = conn
            try:
                with conn.transaction():  # a savepoint when nested
                    yield
            finally:
                if outer:
                    self._local.conn = None

    def json(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    def close(self) -> None:
        self.pool.close()


def connect(url: str, *, pool_size: int = 8) -> Database:
    """Open ``sqlite:///path`` or ``postgresql://…`` (at most ``pool_size`` connections)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        if not url.startswith("sqlite:///"):
            raise StoreError("SQLite 地址应为 sqlite:///相对路径 或 sqlite:////绝对路径")
        path, _, query = url.removeprefix("sqlite:///").partition("?")
        timeout = parse_qs(query).get("timeout", [str(SQLITE_BUSY_SECONDS)])[-1]
        try:
            busy = float(timeout)
        except ValueError:
            raise StoreError(f"SQLite 地址的 timeout 应为秒数，而不是 {timeout!r}") from None
        return SqliteDatabase(Path(path), busy_seconds=busy)
    if parsed.scheme in ("postgresql", "postgres"):
        return PostgresDatabase(url, pool_size)
    raise StoreError(f"不支持的数据库地址 unsupported database URL scheme: {parsed.scheme!r}")
