"""The ledger's two engines in the tests: `--ledger-backend=sqlite` (the default: a file under the test's
tmp_path) or `--ledger-backend=postgres` (a fresh database per ledger, created from a migrated template on
the server at HANDOFF_TEST_POSTGRES_URL, or the local one, and dropped after the test).

What a test must do below the ledger's own interface (tamper with a record, hold the write lock from
another connection) goes through the helpers here, one implementation per engine.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bot.store.engine import is_postgres
from bot.store.ledger import Ledger
from bot.store.postgres import WRITE_LOCK, to_psycopg

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The PostgreSQL server the tests use (its maintenance database)."""
    return os.environ.get("HANDOFF_TEST_POSTGRES_URL") or DEFAULT_POSTGRES


def database_url(server: str, name: str) -> str:
    """The URL of database `name` on the server of `server`."""
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


class PostgresDatabases:
    """Fresh databases for one test session: each a copy of a template migrated once; all dropped at the end."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.prefix = f"handoff_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.counter = itertools.count(1)
        self.admin = psycopg.connect(server, autocommit=True)
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.template}"')
        self.admin.execute(f'CREATE DATABASE "{self.template}"')
        Ledger(database_url(server, self.template)).close()  # migrations, once

    def create(self) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return database_url(self.server, name)

    def drop(self, url: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')

    def close(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.admin.close()


def raw_execute(ledger: Ledger, sql: str, params: Any = ()) -> None:
    """Run `sql` on the ledger's database from outside handoff, triggers and all checks off (tampering)."""
    if not is_postgres(ledger.target):
        with sqlite3.connect(ledger.path) as db:
            db.execute("DROP TRIGGER IF EXISTS events_append_only_update")
            db.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
            db.execute(sql, params)
        db.close()
        return
    with psycopg.connect(ledger.target, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no triggers, no foreign keys
        conn.execute(to_psycopg(sql), list(params))  # type: ignore[arg-type]


def drop_append_only(ledger: Ledger) -> None:
    """Remove the triggers that keep the event log append-only (what an attacker with the file could do)."""
    if not is_postgres(ledger.target):
        raw_execute(ledger, "SELECT 1")  # which drops them first, as an attacker would
        return
    raw_execute(ledger, "DROP TRIGGER events_append_only_update ON events")


@contextmanager
def writer_holding(ledger: Ledger) -> Iterator[None]:
    """Another process's writer holding the ledger's write lock until the block ends."""
    if not is_postgres(ledger.target):
        holder = sqlite3.connect(Path(ledger.path), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with psycopg.connect(ledger.target) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        yield


def schema_version(ledger: Ledger) -> int:
    """How many migrations the ledger's database has applied."""
    if not is_postgres(ledger.target):
        return int(ledger.db.execute("PRAGMA user_version").fetchone()[0])
    return int(ledger.db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0])


class _Scratch:
    """A bare connection to the engine of `target` for statements outside any ledger (temporary tables)."""

    def __init__(self, target: str) -> None:
        self.postgres = is_postgres(target)
        self.conn: Any = psycopg.connect(target, autocommit=True) if self.postgres else sqlite3.connect(":memory:")

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(to_psycopg(sql) if self.postgres else sql, list(params))

    def close(self) -> None:
        self.conn.close()


def scratch(target: str) -> _Scratch:
    """A connection on the engine of `target`: an in-memory SQLite database, or the PostgreSQL database."""
    return _Scratch(target)


def rewind_schema(ledger: Ledger, *, to: int) -> None:
    """Make the ledger look as if only the first `to` migrations had run (an old ledger to upgrade)."""
    if not is_postgres(ledger.target):
        raw_execute(ledger, f"PRAGMA user_version = {int(to)}")
        return
    raw_execute(ledger, "DELETE FROM schema_migrations WHERE version > ?", [to])


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (initdb, pg_ctl), the newest installed; None without them."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


class PrivateServer:
    """A PostgreSQL server of the test's own (a fresh cluster on a free port, trust auth), to stop and start
    at will; never the shared one. As root, its programs run as the postgres user, as initdb requires."""

    def __init__(self, bindir: Path, port: int) -> None:
        self.bindir = bindir
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def uses_index_without_sort(ledger: Ledger, sql: str, params: Any, index: str) -> tuple[bool, str]:
    """Whether the engine's plan for `sql` reads through `index` and sorts nothing (and the plan, to show).
    PostgreSQL is asked with sequential scans off: a test's tiny table would otherwise be read whole."""
    if not is_postgres(ledger.target):
        plan = "\n".join(str(row[-1]) for row in ledger.db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        return f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan
    with psycopg.connect(ledger.target, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        explained = conn.execute(to_psycopg(f"EXPLAIN {sql}"), list(params)).fetchall()  # type: ignore[arg-type]
    plan = "\n".join(str(row[0]) for row in explained)
    return f"using {index}" in plan and "Sort" not in plan, plan
