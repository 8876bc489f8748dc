"""`handoff migrate-ledger`: move an existing SQLite ledger onto PostgreSQL (docs/deploy.md, "Several hosts")."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MIGRATE_HELP = (
    "Copy the SQLite ledger at SQLITE_PATH into the empty PostgreSQL database POSTGRES_URL, verifying the hash "
    "chain on both sides; a database that already holds a ledger is refused. Exit status 4 when PostgreSQL "
    "does not answer. Stop handoff web and worker first, then point HANDOFF_DB at the URL."
)


def add_arguments(sub: Any) -> None:
    """Attach `migrate-ledger` to the `handoff` parser."""
    migrate = sub.add_parser("migrate-ledger", help="copy a SQLite ledger into PostgreSQL", description=MIGRATE_HELP)
    migrate.add_argument("sqlite_path", type=Path, metavar="SQLITE_PATH", help="the SQLite ledger file")
    migrate.add_argument("postgres_url", metavar="POSTGRES_URL", help="postgresql://USER@HOST:PORT/DATABASE")
    migrate.set_defaults(func=run_migrate_ledger)


def run_migrate_ledger(args: argparse.Namespace) -> int:
    from bot.store.postgres import redacted
    from bot.store.transfer import migrate_ledger

    done = migrate_ledger(args.sqlite_path, args.postgres_url)
    rows = sum(done.rows.values())
    print(  # noqa: T201 - the command's answer
        f"{args.sqlite_path} -> {redacted(args.postgres_url)}: {rows} rows in {len(done.rows)} tables,"
        f" {done.events} events, head {done.head}; both chains verify"
    )
    return 0
