"""Standing approvals in the ledger: a reviewer's "allow the same action from this agent for N hours".

A rule is scoped to a category, an agent, an action name and the exact values of the argument fields its
author picked. It is created once per approving decision (its source proposal), so a replayed modal
submission finds the rule already there. Rules are never deleted: revoking one stamps who, when and
why. Each creation and revocation is an event in the hash chain, and the row is sealed again each time.

Whether a rule may allow an action is decided here, in SQL, from the durable record: not revoked, not
expired at `now` (a flag on an action it allowed revokes it in the flag's own transaction: `revoking`).
`guard` checks the same inside the transaction that takes the decision, so a rule revoked while an
action is being assessed never allows it.
"""

from __future__ import annotations

import json
from typing import Any

from bot.store import chain
from bot.store.clock import utcnow
from bot.store.engine import Handle
from bot.store.ledger import Guard, Ledger, Step
from bot.store.rows import StandingRule, canonical
from scoring.models import STANDING_REVIEWER_PREFIX

_COLUMNS = (
    "id, category, agent, action, fields, author, source_proposal_id, created_at, expires_at, revoked_at,"
    " revoked_by, revoke_reason"
)
_ACTIVE = "r.revoked_at IS NULL AND r.expires_at > ?"  # a flag revokes in its own transaction (`revoking`)


def _row(row: Any) -> StandingRule:
    values = list(row)
    values[4] = json.loads(values[4])
    return StandingRule(*values)


def create(
    ledger: Ledger,
    *,
    source_proposal_id: str,
    scope: tuple[str, str, str],
    fields: dict[str, Any],
    author: str,
    expires_at: str,
    max_active: int,
    now: str,
) -> tuple[StandingRule | None, bool]:
    """Create the rule of one approving decision once: (the rule, True) when created now; (the existing rule,
    False) when this decision already made one; (None, False) when the category has `max_active` rules
    active at `now` already. `scope` is (category, agent, action name)."""
    category, agent, action = scope
    with ledger._transaction() as db:
        existing = db.execute(
            f"SELECT {_COLUMNS} FROM standing_rules WHERE source_proposal_id = ?",  # noqa: S608 - constants
            [source_proposal_id],
        ).fetchone()
        if existing is not None:
            return _row(existing), False
        active = db.execute(
            f"SELECT COUNT(*) FROM standing_rules r WHERE r.category = ? AND {_ACTIVE}",  # noqa: S608 - constants
            [category, now],
        ).fetchone()[0]
        if int(active) >= max_active:
            return None, False
        cursor = db.execute(
            "INSERT INTO standing_rules (category, agent, action, fields, author, source_proposal_id, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [category, agent, action, canonical(fields), author, source_proposal_id, utcnow(), expires_at],
        )
        rule_id = int(cursor.fetchone()[0])
        body = {"id": rule_id, "category": category, "agent": agent, "action": action, "author": author}
        _event(db, rule_id, "standing_created", {**body, "fields": sorted(fields), "expires_at": expires_at})
        created = db.execute(f"SELECT {_COLUMNS} FROM standing_rules WHERE id = ?", [rule_id]).fetchone()  # noqa: S608
        return _row(created), True


def revoke(ledger: Ledger, rule_id: int, *, by: str, reason: str) -> bool:
    """Revoke a rule once (`by` a person, or `flag:<proposal>`); False when it was revoked already or unknown."""
    with ledger._transaction() as db:
        return _revoke(db, rule_id, by=by, reason=reason)


def _revoke(db: Handle, rule_id: int, *, by: str, reason: str) -> bool:
    cursor = db.execute(
        "UPDATE standing_rules SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?"
        " AND revoked_at IS NULL",
        [utcnow(), by, reason[:500], rule_id],
    )
    if not cursor.rowcount:
        return False
    _event(db, rule_id, "standing_revoked", {"id": rule_id, "by": by, "reason": reason[:500]})
    return True


def revoking(rule_id: int, *, pid: str, flagger: str) -> Step:
    """The step `Ledger.record_flag` runs in the flag's transaction: revoke the rule that allowed `pid`."""

    def step(db: Handle) -> None:
        _revoke(db, rule_id, by=f"flag:{pid}", reason=f"{flagger} flagged {pid}, which it allowed")

    return step


def _event(db: Handle, rule_id: int, kind: str, body: dict[str, Any]) -> None:
    chain.append(db, f"standing:{rule_id}", kind, body, at=utcnow(), seal=("standing_rules", str(rule_id)))


def rule(ledger: Ledger, rule_id: int) -> StandingRule | None:
    """One rule, whatever its state, or None."""
    row = ledger.db.execute(f"SELECT {_COLUMNS} FROM standing_rules WHERE id = ?", [rule_id]).fetchone()  # noqa: S608
    return _row(row) if row else None


def active(ledger: Ledger, *, now: str, category: str | None = None) -> list[StandingRule]:
    """Rules that may allow an action at `now` (of one category, or all), oldest first."""
    where, params = (" AND r.category = ?", [now, category]) if category else ("", [now])
    rows = ledger.db.execute(
        f"SELECT {_COLUMNS} FROM standing_rules r WHERE {_ACTIVE}{where} ORDER BY r.id",  # noqa: S608 - constants
        params,
    ).fetchall()
    return [_row(row) for row in rows]


def match(ledger: Ledger, *, scope: tuple[str, str, str], args: dict[str, Any], now: str) -> StandingRule | None:
    """The oldest rule active at `now` whose scope is (category, agent, action name) and whose fields `args`
    hold exactly, or None."""
    rows = ledger.db.execute(
        f"SELECT {_COLUMNS} FROM standing_rules r WHERE r.category = ? AND r.agent = ? AND r.action = ?"  # noqa: S608
        f" AND {_ACTIVE} ORDER BY r.id",
        [*scope, now],
    ).fetchall()
    return next((found for found in map(_row, rows) if found.allows(args)), None)


def guard(rule_id: int, *, now: str) -> Guard:
    """The check `Ledger.decide` runs in its transaction: why rule `rule_id` may not decide now ("" if it may)."""

    def refusal(db: Handle) -> str:
        row = db.execute("SELECT r.revoked_at, r.expires_at > ? FROM standing_rules r WHERE r.id = ?", [now, rule_id])
        found = row.fetchone()
        if found is None:
            return f"standing rule {rule_id} does not exist"
        if found[0] is not None:
            return f"standing rule {rule_id} was revoked at {found[0]}"
        return "" if found[1] else f"standing rule {rule_id} has expired"

    return refusal


def flagged_but_active(ledger: Ledger) -> list[tuple[int, str, str]]:
    """(rule id, flagged proposal, flagger) for each unrevoked rule an allowed action of which was flagged:
    what a flag should have revoked (recorded without its revocation, e.g. by an older version), oldest first."""
    rows = ledger.db.execute(
        "SELECT r.id, f.proposal_id, f.flagger FROM flags f JOIN decisions d ON d.proposal_id = f.proposal_id"
        " JOIN standing_rules r ON d.reviewer = 'standing:' || r.id"
        " WHERE r.revoked_at IS NULL ORDER BY r.id"
    ).fetchall()
    return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]


def counts_by_category(ledger: Ledger, *, now: str) -> dict[str, tuple[int, int]]:
    """Per category: (decisions taken by standing rules, rules active at `now`), for /metrics."""
    decided = ledger.db.execute(
        "SELECT p.category, COUNT(*) FROM decisions d JOIN proposals p ON p.id = d.proposal_id"
        " WHERE d.reviewer >= ? AND d.reviewer < ? GROUP BY p.category",  # the prefix, by the reviewer index
        [STANDING_REVIEWER_PREFIX, STANDING_REVIEWER_PREFIX[:-1] + chr(ord(STANDING_REVIEWER_PREFIX[-1]) + 1)],
    ).fetchall()
    live = ledger.db.execute(
        f"SELECT r.category, COUNT(*) FROM standing_rules r WHERE {_ACTIVE} GROUP BY r.category",  # noqa: S608
        [now],
    ).fetchall()
    out: dict[str, tuple[int, int]] = {str(c): (int(n), 0) for c, n in decided}
    for category, n in live:
        out[str(category)] = (out.get(str(category), (0, 0))[0], int(n))
    return out
