"""The ledger on PostgreSQL: psycopg 3 with a connection pool, behind the seam of `bot.store.engine`.

Every write transaction first takes one transaction-level advisory lock, so writers take turns as they
do on SQLite under `BEGIN IMMEDIATE`: the hash chain's appends are serialized, and a check-then-insert
(one decision per proposal) sees every transaction committed before it. Reads run on pooled connections
in autocommit. Statements arrive written for both engines (`?` and `:name` placeholders) and are
rewritten once to psycopg's. A lost connection (the server restarting) fails the statement at hand:
a write is then not recorded (the caller says so or the job is retried), a read is tried once more.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.adapt import Buffer, Loader
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.store.engine import POSTGRES, Dialect, Handle, LedgerUnreachableError, Params

log = logging.getLogger(__name__)

WRITE_LOCK = 0x68616E646F6666  # "handoff": the advisory lock every ledger write transaction holds
POOL_SIZE = 8
RECONNECT_GIVE_UP = 1.0
POOL_WAIT = 10.0  # seconds to wait for a connection (the server down) before the write is not recorded
_OPEN: weakref.WeakSet[PostgresEngine] = weakref.WeakSet()
_TOKEN = re.compile(r"'[^']*'|\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """`?` and `:name` placeholders as psycopg's `%s` and `%(name)s`; a literal `%` doubled."""

    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        if found.startswith("'"):
            return found.replace("%", "%%")
        if found == "?":
            return "%s"
        if found == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return _TOKEN.sub(one, sql)


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _NumberLoader(Loader):
    """NUMERIC (what SUM of integers and EXTRACT return) as int or float, the types SQLite gives."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode()
        return int(text) if text.lstrip("-").isdigit() else float(text)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumberLoader)


@dataclass
class _Result:
    """A statement's rows, fetched at once, so the connection goes back to the pool."""

    rows: list[Any] = field(default_factory=list)
    rowcount: int = 0

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


def _run(conn: psycopg.Connection[Any], sql: str, params: Params) -> _Result:
    cursor = conn.execute(to_psycopg(sql), _params(params))
    rows = cursor.fetchall() if cursor.description else []
    return _Result(rows, cursor.rowcount)


def _params(params: Params) -> Any:
    return dict(params) if isinstance(params, Mapping) else list(params)


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"


class _Transaction:
    """One transaction's connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = (), /) -> _Result:
        return _run(self.conn, sql, params)

    def table_names(self) -> list[str]:
        return [str(row[0]) for row in self.execute(_TABLES)]


class _Reader:
    """Reads on pooled connections in autocommit; a read that lost its connection is tried once more."""

    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine

    def execute(self, sql: str, params: Params = (), /) -> _Result:
        pool = self.engine.pool()
        try:
            with pool.connection() as conn:
                return _run(conn, sql, params)
        except psycopg.OperationalError:
            if not sql.lstrip().upper().startswith("SELECT"):
                raise
        pool.check()  # the server restarted: drop every connection it closed, then read once more
        with pool.connection() as conn:
            return _run(conn, sql, params)

    def table_names(self) -> list[str]:
        return [str(row[0]) for row in self.execute(_TABLES)]


class PostgresEngine:
    """A PostgreSQL database: a pool per process (a forked work horse opens its own)."""

    dialect: Dialect = POSTGRES
    errors: tuple[type[Exception], ...] = (psycopg.Error, PoolTimeout)

    def __init__(self, url: str, *, busy_timeout: float, read_only: bool) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pid = 0

    def describe(self) -> str:
        return redacted(self.url)

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        """One connection outside the pool (migrations, copying a ledger); says plainly when none can be had."""
        try:
            conn = psycopg.connect(self.url, autocommit=autocommit, connect_timeout=max(2, int(self.busy_timeout)))
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise LedgerUnreachableError(f"PostgreSQL at {self.describe()} did not answer: {reason}") from None
        _configure(conn)
        return conn

    def pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        """This process's pool, opened on first use."""
        pid = os.getpid()
        with self._lock:
            if self._pool is None or self._pid != pid:
                options = "-c default_transaction_read_only=on" if self.read_only else ""
                _OPEN.add(self)
                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=POOL_SIZE,
                    kwargs={"autocommit": True, "options": options},
                    configure=_configure,
                    timeout=min(self.busy_timeout, POOL_WAIT),
                    # A failed reconnection gives up within a second, so that the first request after the
                    # server is back starts a new attempt at once (the pool's own backoff grows to minutes).
                    reconnect_timeout=RECONNECT_GIVE_UP,
                    name="handoff-ledger",
                    open=True,
                )
                self._pid = pid
                # Closed with the engine (or at exit) from the thread that lets go of it, never by the
                # garbage collector inside one of the pool's own threads.
                weakref.finalize(self, _close_pool, self._pool, pid)
            return self._pool

    def reader(self) -> Handle:
        return _Reader(self)

    @contextmanager
    def transaction(self) -> Iterator[Handle]:
        pool = self.pool()
        conn = self._begin(pool)
        try:
            yield _Transaction(conn)
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            pool.putconn(conn)  # one the server dropped is discarded, not reused

    def _begin(self, pool: ConnectionPool[psycopg.Connection[Any]]) -> psycopg.Connection[Any]:
        """A pooled connection in a new transaction that holds the write lock, in one round trip; a connection
        the server closed (a restart) fails before anything ran, and is replaced once."""
        begin = (
            f"BEGIN; SELECT set_config('lock_timeout', '{int(self.busy_timeout * 1000)}ms', true),"
            f" pg_advisory_xact_lock({WRITE_LOCK})"
        )
        for attempt in (1, 2):
            conn = pool.getconn()
            try:
                conn.execute(begin)  # numbers only, no input
            except psycopg.OperationalError:
                pool.putconn(conn)
                if attempt == 2 or not conn.broken:  # the lock not had in time: no second wait
                    raise
                pool.check()
                continue
            except BaseException:
                pool.putconn(conn)
                raise
            return conn
        raise AssertionError("unreachable")

    @contextmanager
    def snapshot(self) -> Iterator[Handle]:
        """Reads that all see the ledger as of one moment: a read-only repeatable-read transaction."""
        with self.pool().connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _Transaction(conn)

    def stream(self, sql: str, params: Params = ()) -> Iterator[Any]:
        with self.pool().connection() as conn, conn.transaction(), conn.cursor(name="handoff_stream") as cursor:
            cursor.itersize = 2000
            cursor.execute(to_psycopg(sql), _params(params))
            yield from cursor

    def migrate(self) -> None:
        from bot.store.postgres_migrations import migrate

        with self.connect() as conn:
            migrate(conn)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()


def _close_pool(pool: ConnectionPool[psycopg.Connection[Any]], pid: int) -> None:
    if pid == os.getpid():
        pool.close()


def close_all() -> None:
    """Close the pool of every engine this process opened (the end of a process, or of a test)."""
    for engine in list(_OPEN):
        engine.close()
