"""Ledger schema migrations: small named functions applied in order, tracked by `PRAGMA user_version`."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _initial_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE proposals (id TEXT PRIMARY KEY, category TEXT NOT NULL, agent TEXT NOT NULL,"
        " summary TEXT NOT NULL, body TEXT NOT NULL, submitted_at TEXT NOT NULL, stored_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE assessments (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " score REAL NOT NULL, route TEXT NOT NULL, policy_version TEXT NOT NULL, body TEXT NOT NULL,"
        " assessed_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE cards (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " channel TEXT NOT NULL, ts TEXT NOT NULL, posted_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE decisions (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " outcome TEXT NOT NULL, reviewer TEXT NOT NULL, body TEXT NOT NULL, decided_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE executions (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " status TEXT NOT NULL, detail TEXT NOT NULL, executed_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, proposal_id TEXT NOT NULL,"
        " kind TEXT NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL, prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX events_by_proposal ON events (proposal_id)")
    db.execute("CREATE INDEX assessments_by_route ON assessments (route)")
    db.execute(
        "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events"
        " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events"
        " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_initial_tables]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this file has not seen yet; returns the schema version reached."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        step(db)
        db.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
