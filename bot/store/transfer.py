"""Copy a SQLite ledger into an empty PostgreSQL database (`handoff migrate-ledger`).

The source's hash chain is verified first, every table is copied in one PostgreSQL transaction (in the
order rows were written, so the identity columns and the event numbers stay as they were), and the copy
is verified again on PostgreSQL: the same chain head, the same row count in every table. A target that
holds any ledger row is refused; nothing is ever overwritten.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.store.engine import is_postgres
from bot.store.ledger import Ledger
from bot.store.postgres import WRITE_LOCK, PostgresEngine


class TransferError(ValueError):
    """A ledger that cannot be copied as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Transferred:
    """What was copied: rows per table, and the chain head both sides share."""

    rows: dict[str, int]
    head: str
    events: int


def migrate_ledger(source: Path, target: str) -> Transferred:
    """Copy the SQLite ledger at `source` into the empty PostgreSQL database `target`, verifying both chains."""
    if not is_postgres(target):
        raise TransferError(f"{target!r} is not a PostgreSQL URL; pass postgresql://USER@HOST:PORT/DATABASE")
    if not source.is_file():
        raise TransferError(f"{source}: no SQLite ledger there; pass the path of the ledger file (HANDOFF_DB)")
    destination = Ledger(target)  # PostgreSQL unreachable: said before anything else happens
    sqlite_ledger = Ledger(source)  # brings an older file up to the current schema first, as any command would
    assert isinstance(destination.engine, PostgresEngine)
    try:
        verdict = sqlite_ledger.verify()
        if not verdict.ok:
            raise TransferError(f"{source}: the hash chain does not verify ({verdict.problem}); nothing was copied")
        tables = _tables_in_order(source)
        rows = _copy(source, destination.engine, tables)
        copied = destination.verify()
        if not copied.ok or copied.head != verdict.head:
            raise TransferError(f"the copy does not verify on PostgreSQL: {copied.problem or 'another chain head'}")
        counts = _counts(destination, tables)
        if counts != rows:
            raise TransferError(f"row counts differ after the copy: {rows} in SQLite, {counts} in PostgreSQL")
        return Transferred(rows, copied.head, copied.events)
    finally:
        sqlite_ledger.close()
        destination.close()


def _tables_in_order(source: Path) -> list[str]:
    """The ledger's tables, each after the tables its foreign keys point at."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as db:
        names = [
            str(row[0])
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        needs = {name: {str(fk[2]) for fk in db.execute(f"PRAGMA foreign_key_list('{name}')")} for name in names}
    db.close()
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and needs[n] <= {*ordered, n}]
        if not ready:
            raise TransferError(f"{source}: its foreign keys form a cycle; it is not a handoff ledger")
        ordered.extend(ready)
    return ordered


def _copy(source: Path, engine: PostgresEngine, tables: list[str]) -> dict[str, int]:
    rows: dict[str, int] = {}
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        with engine.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            _refuse_non_empty(conn, tables, engine.describe())
            for table in tables:
                columns = [str(c[1]) for c in src.execute(f"PRAGMA table_info('{table}')")]
                names = ", ".join(columns)
                cursor = src.execute(f"SELECT {names} FROM {table} ORDER BY rowid")  # noqa: S608 - schema names
                count = 0
                with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in cursor:
                        copy.write_row(row)
                        count += 1
                rows[table] = count
                _continue_identity(conn, table, columns)
    finally:
        src.close()
    return rows


def _refuse_non_empty(conn: Any, tables: list[str], where: str) -> None:
    for table in tables:
        exists = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]
        if exists is None:
            raise TransferError(f"{where} has no table {table}: this handoff does not know it on PostgreSQL")
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:  # noqa: S608 - schema names
            raise TransferError(
                f"{where} already holds a ledger (table {table} has rows); nothing was copied."
                " Copy into a new, empty database"
            )


def _continue_identity(conn: Any, table: str, columns: list[str]) -> None:
    """After copying explicit numbers into an identity column, new rows continue after the highest."""
    for column in columns:
        sequence = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column]).fetchone()[0]
        if sequence is not None:
            query = f"SELECT setval(%s, COALESCE(MAX({column}), 0) + 1, false) FROM {table}"  # noqa: S608
            conn.execute(query, [sequence])


def _counts(ledger: Ledger, tables: list[str]) -> dict[str, int]:
    return {t: int(ledger.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}  # noqa: S608
