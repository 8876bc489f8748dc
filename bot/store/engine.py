"""The ledger's engines: the one seam every ledger statement goes through.

SQLite (through sqlite-utils, one file, the embedded default) and PostgreSQL (psycopg 3 with a
connection pool, `HANDOFF_DB=postgresql://...`) implement the same small interface: `reader()` for
reads, `transaction()` for a serialized write transaction, `stream()` for long scans, `migrate()` at
start. Statements are written once, with `?` or `:name` placeholders and SQL both engines speak; what
differs between the dialects (JSON, date arithmetic) is a fragment of `Dialect`. Nothing outside
`bot/store/` knows which engine holds the ledger.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from bot.settings import POSTGRES_SCHEMES

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]


class Rows(Protocol):
    """What a statement returns: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Handle(Protocol):
    """Where statements run: a connection, or one transaction on it."""

    def execute(self, sql: str, params: Any = ..., /) -> Rows: ...

    def table_names(self) -> list[str]: ...


class LedgerUnreachableError(ConnectionError):
    """The ledger's database server did not answer (PostgreSQL down, wrong host or credentials)."""


class Dialect:
    """SQL fragments that differ between the engines; SQLite's here."""

    name = "sqlite"

    def json_text(self, column: str, *path: str) -> str:
        """The JSON value at `path` inside a text column, as text (an object or array as JSON text)."""
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    def seconds_between(self, start: str, end: str) -> str:
        """Seconds from ISO-8601 text `start` to `end`, never below zero, to the millisecond the times carry
        (julianday's floating point would make three minutes 179.99999 s)."""
        return f"MAX(0, ROUND((julianday({end}) - julianday({start})) * 86400.0, 3))"

    def whole(self, expr: str) -> str:
        """A non-negative number cut down to a whole number."""
        return f"CAST({expr} AS INTEGER)"

    def byte_length(self, text: str) -> str:
        """A text's length in bytes, read without going through the text."""
        return f"LENGTH(CAST({text} AS BLOB))"

    def sized_proposals(self) -> tuple[str, str]:
        """(a FROM item `p` of the proposals for a scan over all of them, the size of `p.body` in bytes)."""
        return "proposals p", self.byte_length("p.body")

    def json_list(self, param: str, alias: str) -> str:
        """A FROM item: the strings of the JSON array bound at `param`, as `alias.value`."""
        return f"json_each({param}) AS {alias}"

    def concat(self, text: str) -> str:
        """The aggregate of `text` over a group, joined without a separator (in no given order)."""
        return f"group_concat({text}, '')"

    def char(self, code: str) -> str:
        """The character of a code point."""
        return f"char({code})"

    def any_hard_signal_fired(self, body: str) -> str:
        """Whether an assessment's JSON body holds a fired hard signal."""
        return (
            f"EXISTS (SELECT 1 FROM json_each({body}, '$.signals') s"  # noqa: S608 - constants only
            " WHERE json_extract(s.value, '$.kind') = 'hard' AND json_extract(s.value, '$.fired'))"
        )


class PostgresDialect(Dialect):
    """PostgreSQL's fragments: the JSON bodies are text columns read as jsonb."""

    name = "postgresql"

    def json_text(self, column: str, *path: str) -> str:
        return f"({column}::jsonb #>> '{{{','.join(path)}}}')"

    def seconds_between(self, start: str, end: str) -> str:
        return f"GREATEST(0, ROUND(EXTRACT(EPOCH FROM ({end}::timestamptz - {start}::timestamptz)), 3)::float8)"

    def whole(self, expr: str) -> str:
        return f"TRUNC({expr})::bigint"

    def byte_length(self, text: str) -> str:
        return f"OCTET_LENGTH({text})"

    def sized_proposals(self) -> tuple[str, str]:
        # The size taken before the scan groups and sorts, so the bodies are not carried through the sort.
        return "(SELECT id, category, stored_at, OCTET_LENGTH(body) AS body_bytes FROM proposals) p", "p.body_bytes"

    def json_list(self, param: str, alias: str) -> str:
        return f"jsonb_array_elements_text(CAST({param} AS jsonb)) AS {alias}(value)"

    def concat(self, text: str) -> str:
        return f"string_agg({text}, '')"

    def char(self, code: str) -> str:
        return f"chr({code})"

    def any_hard_signal_fired(self, body: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE({body}::jsonb -> 'signals', '[]'::jsonb)) s"  # noqa: S608
            " WHERE s ->> 'kind' = 'hard' AND s -> 'fired' = 'true'::jsonb)"
        )


SQLITE = Dialect()
POSTGRES = PostgresDialect()


class Engine(Protocol):
    """What the ledger needs of a database."""

    dialect: Dialect
    errors: tuple[type[Exception], ...]

    def reader(self) -> Handle: ...

    def transaction(self) -> AbstractContextManager[Handle]: ...

    def stream(self, sql: str, params: Params = ()) -> Iterator[Any]: ...

    def snapshot(self) -> AbstractContextManager[Handle]: ...

    def migrate(self) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


def is_postgres(target: Path | str) -> bool:
    """Whether a HANDOFF_DB value names a PostgreSQL database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_engine(target: Path | str, *, busy_timeout: float, read_only: bool) -> Engine:
    """The engine for `target`: a `postgresql://` URL, or the path of a SQLite file."""
    if is_postgres(target):
        from bot.store.postgres import PostgresEngine

        return PostgresEngine(str(target), busy_timeout=busy_timeout, read_only=read_only)
    return SQLiteEngine(Path(target), busy_timeout=busy_timeout, read_only=read_only)


class SQLiteEngine:
    """One SQLite file: a connection per process and thread (they must not cross a fork or a thread), WAL,
    and `BEGIN IMMEDIATE` so that writers take turns."""

    dialect: Dialect = SQLITE
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, *, busy_timeout: float, read_only: bool) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (reopened after a fork)."""
        pid = os.getpid()
        if getattr(self._local, "pid", None) != pid:
            target = f"file:{self.path}?mode=ro" if self.read_only else str(self.path)
            conn = sqlite3.connect(
                target, uri=self.read_only, isolation_level=None, timeout=self.busy_timeout, check_same_thread=False
            )
            self._opened.append(conn)
            if not self.read_only:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.db = sqlite_utils.Database(conn)
            self._local.pid = pid
        db: sqlite_utils.Database = self._local.db
        return db

    def reader(self) -> Handle:
        handle: Handle = self.db
        return handle

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def stream(self, sql: str, params: Params = ()) -> Iterator[Any]:
        yield from self.reader().execute(sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[Handle]:
        """Reads that all see the ledger as of one moment (a deferred read transaction)."""
        db = self.db
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def migrate(self) -> None:
        from bot.store.migrations import migrate

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as db:
            migrate(db)
        self._report_dangling()

    def _report_dangling(self) -> None:
        """Rows written while foreign keys were not enforced that point nowhere: said once, never fatal."""
        dangling: dict[str, int] = {}
        for table, *_rest in self.db.execute("PRAGMA foreign_key_check").fetchall():
            dangling[table] = dangling.get(table, 0) + 1
        if dangling:
            found = ", ".join(f"{table} ({count})" for table, count in sorted(dangling.items()))
            log.warning(
                "%s: rows point at proposals the ledger does not hold (foreign key check): %s", self.path, found
            )

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
