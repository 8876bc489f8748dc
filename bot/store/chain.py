"""The ledger's hash chain: every event links to the one before, and every record that matters is sealed
into it by the digest of its stored row.

`append` adds an event (with `seal`, the digest of a row just written in the same transaction);
`verify` walks the chain, recomputes each sealed row's digest, and checks the chain against a head
saved elsewhere (Redis, `/metrics`, `handoff report`), which is what catches a truncated log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.store.engine import Handle

GENESIS = "0" * 64
# Each sealed table: (its key expression, the columns its digest covers, in order).
SEALED: dict[str, tuple[str, tuple[str, ...]]] = {
    "proposals": ("id", ("id", "category", "agent", "summary", "body", "submitted_at")),
    "assessments": ("proposal_id", ("proposal_id", "score", "route", "policy_version", "body")),
    "decisions": ("proposal_id", ("proposal_id", "outcome", "reviewer", "body", "decided_at")),
    "executions": ("proposal_id", ("proposal_id", "status", "detail", "executed_at")),
    "escalation_steps": ("seq", ("seq", "proposal_id", "kind", "target", "detail", "at")),
    "approvals": ("proposal_id || ':' || fingerprint || ':' || reviewer", ("proposal_id", "reviewer", "fingerprint")),
    "refusals": ("proposal_id", ("proposal_id", "reason", "category", "agent", "at")),
    "standing_rules": (
        "id",
        (
            "id",
            "category",
            "agent",
            "action",
            "fields",
            "author",
            "source_proposal_id",
            "created_at",
            "expires_at",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
        ),
    ),
}


def link_hash(prev: str, proposal_id: str, kind: str, body: str, at: str) -> str:
    """The hash of one event, chained to its predecessor's."""
    return hashlib.sha256(json.dumps([prev, proposal_id, kind, body, at]).encode()).hexdigest()


def row_digest(db: Handle, table: str, key: str) -> str | None:
    """The digest of a sealed table's row as stored now, or None when there is no such row."""
    key_sql, columns = SEALED[table]
    query = f"SELECT {', '.join(columns)} FROM {table} WHERE {key_sql} = ?"  # noqa: S608 - constants only
    row = db.execute(query, [key]).fetchone()
    if row is None:
        return None
    return hashlib.sha256(json.dumps([table, list(row)], default=str).encode()).hexdigest()


def append(
    db: Handle,
    proposal_id: str,
    kind: str,
    body: dict[str, Any],
    *,
    at: str,
    seal: tuple[str, str] | None = None,
) -> None:
    """Append an event; `seal` = (table, key) adds the digest of that row, written in this transaction."""
    if seal is not None:
        table, key = seal
        body = {**body, "record": table, "key": str(key), "digest": row_digest(db, table, str(key))}
    row = db.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    prev = row[0] if row else GENESIS
    payload = json.dumps(body, sort_keys=True, default=str)
    db.execute(
        "INSERT INTO events (proposal_id, kind, body, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
        [proposal_id, kind, payload, at, prev, link_hash(prev, proposal_id, kind, payload, at)],
    )


def seal_all(db: Handle, *, at: str) -> int:
    """Seal every row of the sealed tables (a ledger written before rows were sealed); returns how many."""
    count = 0
    for table, (key_sql, _columns) in _present(db):
        for (key,) in db.execute(f"SELECT {key_sql} FROM {table}").fetchall():  # noqa: S608 - constants only
            append(db, "", "sealed", {}, at=at, seal=(table, str(key)))
            count += 1
    return count


def head(db: Handle) -> str:
    """The chain's head as `SEQ:HASH` (`0:` and the genesis hash for an empty ledger)."""
    row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return f"{row[0]}:{row[1]}" if row else f"0:{GENESIS}"


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: `problem` names the first bad record ("" when the ledger is intact)."""

    problem: str
    head: str
    events: int

    @property
    def ok(self) -> bool:
        return not self.problem


def verify(db: Handle, *, saved_head: str | None = None) -> Verdict:
    """Check every link, every sealed row, and (given one) a head saved outside the file."""
    prev, count, sealed = GENESIS, 0, {}
    for seq, pid, kind, body, at, prev_hash, digest in db.execute(
        "SELECT seq, proposal_id, kind, body, at, prev_hash, hash FROM events ORDER BY seq"
    ):
        count += 1
        if prev_hash != prev:
            return Verdict(f"event #{seq} ({kind} {pid}): does not link to the event before it", head(db), count)
        if digest != link_hash(prev, pid, kind, body, at):
            return Verdict(f"event #{seq} ({kind} {pid}): its hash does not match its content", head(db), count)
        prev = digest
        data = json.loads(body)
        if isinstance(data, dict) and "record" in data:
            sealed[(data["record"], data["key"])] = (seq, data["digest"])
    problem = (_check_head(db, saved_head) if saved_head else "") or _check_rows(db, sealed)
    return Verdict(problem, head(db), count)


def _present(db: Handle) -> list[tuple[str, tuple[str, tuple[str, ...]]]]:
    """The sealed tables this ledger has (one written before a table existed lacks it, until migrated)."""
    tables = set(db.table_names())
    return [(table, spec) for table, spec in SEALED.items() if table in tables]


def _check_rows(db: Handle, sealed: dict[tuple[str, str], tuple[int, str]]) -> str:
    for table, (key_sql, _columns) in _present(db):
        for key in _keys(db, table, key_sql):
            entry = sealed.get((table, str(key)))
            if entry is None:
                return f"{table} row {key}: not in the hash chain (added outside handoff, or its event was removed)"
            if row_digest(db, table, str(key)) != entry[1]:
                return f"{table} row {key}: changed since event #{entry[0]} sealed it"
    for (table, key), (seq, _digest) in sealed.items():
        if row_digest(db, table, key) is None:
            return f"{table} row {key}: sealed by event #{seq} but missing from the table"
    return ""


def _keys(db: Handle, table: str, key_sql: str) -> Iterator[Any]:
    """A sealed table's keys in the order written, a page at a time, up to the last row there when the walk
    began: a row found outside the chain early reads no further (PostgreSQL hands over a statement's rows
    all at once, so one statement would read a million keys to report the first)."""
    last = db.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()  # noqa: S608 - constants only
    after, page, until = None, 256, last[0] if last else None
    while until is not None:
        where = "rowid <= ?" if after is None else "rowid > ? AND rowid <= ?"
        params = [until] if after is None else [after, until]
        query = f"SELECT rowid, {key_sql} FROM {table} WHERE {where} ORDER BY rowid LIMIT {page}"  # noqa: S608
        rows = db.execute(query, params).fetchall()
        yield from (key for _rowid, key in rows)
        if len(rows) < page:
            return
        after, page = rows[-1][0], min(page * 4, 16384)


def _check_head(db: Handle, saved: str) -> str:
    seq_text, _, digest = saved.partition(":")
    if not seq_text.isdigit() or len(digest) != 64:
        return f"--head {saved!r} is not SEQ:HASH as `handoff report` prints it"
    row = db.execute("SELECT hash FROM events WHERE seq = ?", [int(seq_text)]).fetchone()
    if row is None:
        return f"event #{seq_text} of the saved head is missing: the log was truncated (now ends at {head(db)})"
    if row[0] != digest:
        return f"event #{seq_text}: its hash differs from the saved head (the log was rewritten from there)"
    return ""
