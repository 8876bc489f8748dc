"""Ledger schema migrations: small named functions applied in order, tracked by `PRAGMA user_version`."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils
from pydantic import ValidationError

from bot.store import chain
from bot.store.clock import utcnow
from bot.store.engine import Handle
from scoring.models import Decision, Proposal
from scoring.precedents import HUMAN_OUTCOMES, record_of


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


def _telemetry_tables(db: sqlite_utils.Database) -> None:
    """Escalation paths, flags, review-after messages, policy events; usage columns filled by a trigger."""
    db.execute(
        "CREATE TABLE escalation_steps (seq INTEGER PRIMARY KEY AUTOINCREMENT, proposal_id TEXT NOT NULL,"
        " kind TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX escalation_steps_by_proposal ON escalation_steps (proposal_id)")
    db.execute(
        "CREATE TABLE flags (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id), flagger TEXT NOT NULL,"
        " reason TEXT NOT NULL, flagged_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE review_messages (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " channel TEXT NOT NULL, ts TEXT NOT NULL, posted_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE policy_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, category TEXT NOT NULL,"
        " kind TEXT NOT NULL, from_level TEXT NOT NULL, to_level TEXT NOT NULL, reason TEXT NOT NULL,"
        " base_level TEXT NOT NULL, status TEXT NOT NULL, proposed_at TEXT NOT NULL, decided_by TEXT,"
        " decided_at TEXT, channel TEXT, ts TEXT)"
    )
    db.execute("CREATE INDEX policy_events_by_category ON policy_events (category, status)")
    for column in ("audit INTEGER", "llm_calls INTEGER", "tokens INTEGER", "cost_usd REAL"):
        db.execute(f"ALTER TABLE assessments ADD COLUMN {column} NOT NULL DEFAULT 0")
    usage = ", ".join(
        f"{c} = COALESCE(json_extract(body, '$.{c}'), 0)" for c in ("audit", "llm_calls", "tokens", "cost_usd")
    )
    db.execute(f"UPDATE assessments SET {usage}")  # noqa: S608 - constants, no input
    trigger = f"UPDATE assessments SET {usage} WHERE proposal_id = NEW.proposal_id;"  # noqa: S608 - constants
    db.execute(f"CREATE TRIGGER assessments_usage AFTER INSERT ON assessments BEGIN {trigger} END")
    db.execute("CREATE INDEX proposals_by_category ON proposals (category, stored_at)")
    db.execute("CREATE INDEX decisions_by_time ON decisions (decided_at)")


def _review_chain_tables(db: sqlite_utils.Database) -> None:
    """Durable timers of each review's remind/escalate/expire chain, and approvals toward a quorum."""
    db.execute(
        "CREATE TABLE timers (proposal_id TEXT NOT NULL REFERENCES proposals(id), generation INTEGER NOT NULL,"
        " step TEXT NOT NULL, due_at TEXT NOT NULL, assignee TEXT NOT NULL, state TEXT NOT NULL,"
        " fired_at TEXT, PRIMARY KEY (proposal_id, generation, step))"
    )
    db.execute("CREATE INDEX timers_by_state ON timers (state, due_at)")
    db.execute(
        "CREATE TABLE approvals (proposal_id TEXT NOT NULL REFERENCES proposals(id), reviewer TEXT NOT NULL,"
        " fingerprint TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (proposal_id, fingerprint, reviewer))"
    )


def _confirmation_table(db: sqlite_utils.Database) -> None:
    # A person said an action that ran before review looks right ("Looks right", later a digest's
    # "Looked at all — fine"); only then does it count as a clean labelled review.
    db.execute(
        "CREATE TABLE confirmations (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " reviewer TEXT NOT NULL, source TEXT NOT NULL, confirmed_at TEXT NOT NULL)"
    )


def _agent_tables(db: sqlite_utils.Database) -> None:
    """Agents of the HTTP API (a hash of each token, never the token) and every webhook delivery attempt."""
    db.execute(
        "CREATE TABLE agents (name TEXT PRIMARY KEY, owner TEXT, key_id TEXT NOT NULL UNIQUE,"
        " token_hash TEXT NOT NULL, webhook_url TEXT, webhook_secret TEXT, created_at TEXT NOT NULL,"
        " revoked_at TEXT)"
    )
    db.execute(
        "CREATE TABLE webhook_deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL,"
        " proposal_id TEXT NOT NULL, agent TEXT NOT NULL, attempt INTEGER NOT NULL, status_code INTEGER,"
        " outcome TEXT NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX webhook_deliveries_by_proposal ON webhook_deliveries (proposal_id)")


def _intake_tables(db: sqlite_utils.Database) -> None:
    """Proposals refused at intake (never stored as proposals) and records quarantined by a pass."""
    db.execute(
        "CREATE TABLE refusals (proposal_id TEXT PRIMARY KEY, reason TEXT NOT NULL, category TEXT NOT NULL,"
        " agent TEXT NOT NULL, at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE quarantine (proposal_id TEXT PRIMARY KEY, stage TEXT NOT NULL, error TEXT NOT NULL,"
        " at TEXT NOT NULL)"
    )


def _seal_records(db: sqlite_utils.Database) -> None:
    """Seal the rows written before records were sealed into the hash chain (trusted as they are now)."""
    chain.seal_all(db, at=utcnow())


def _digest_tables(db: sqlite_utils.Database) -> None:
    """Digests: one Slack message per channel, category and window listing the actions that ran before
    review; each item belongs to exactly one digest, in the order it arrived. Safe to run again."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS digests (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,"
        " category TEXT NOT NULL, opened_at TEXT NOT NULL, closes_at TEXT NOT NULL, max_items INTEGER NOT NULL,"
        " ts TEXT, rendered INTEGER NOT NULL DEFAULT 0, looked_by TEXT, looked_at TEXT, posted_channel TEXT)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS digests_open ON digests (channel, category, closes_at)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS digest_items (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " digest_id INTEGER NOT NULL REFERENCES digests(id), position INTEGER NOT NULL, added_at TEXT NOT NULL)"
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS digest_items_by_digest ON digest_items (digest_id, position)")


PRECEDENT_COLUMNS = (
    "proposal_id",
    "category",
    "action",
    "outcome",
    "reviewer",
    "decided_at",
    "features",
    "changes",
    "reason",
)
PRECEDENT_INSERT = (
    "INSERT INTO precedents (proposal_id, category, action, outcome, reviewer, decided_at, features, changes,"
    " reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (proposal_id) DO NOTHING"
)


def _precedent_table(db: sqlite_utils.Database) -> None:
    """Precedents: each proposal a person decided, with the fields its similarity is computed on, listed
    by category, action and time so a card finds its category's recent cases by index (docs/precedents.md).
    Filled for the decisions already in the ledger. Safe to run again."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS precedents (proposal_id TEXT PRIMARY KEY REFERENCES proposals(id),"
        " category TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, reviewer TEXT NOT NULL,"
        " decided_at TEXT NOT NULL, features TEXT NOT NULL, changes TEXT NOT NULL, reason TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS precedents_by_action ON precedents (category, action, decided_at)")
    backfill_precedents(db)


def backfill_precedents(db: Handle) -> None:
    """List the decisions already in the ledger among the precedents (either engine)."""
    outcomes = ", ".join(f"'{o.value}'" for o in sorted(HUMAN_OUTCOMES))
    rows = db.execute(
        "SELECT p.body, d.body FROM decisions d JOIN proposals p ON p.id = d.proposal_id"  # noqa: S608 - constants
        f" WHERE d.outcome IN ({outcomes}) AND d.reviewer NOT LIKE '%:%'"
    )
    for proposal_body, decision_body in rows.fetchall():
        try:
            record = record_of(Proposal.model_validate_json(proposal_body), Decision.model_validate_json(decision_body))
        except ValidationError:  # a record quarantine set aside: it is no precedent
            continue
        if record is not None:
            db.execute(PRECEDENT_INSERT, [record[c] for c in PRECEDENT_COLUMNS])


def _standing_tables(db: sqlite_utils.Database) -> None:
    """Standing approvals: a reviewer's "allow the same action from this agent for N hours", one per
    approving decision (`source_proposal_id`), matched on exact argument values (`fields`, a JSON object).
    Revoking sets `revoked_at`; rows are never deleted. Safe to run again."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS standing_rules (id INTEGER PRIMARY KEY AUTOINCREMENT, category TEXT NOT NULL,"
        " agent TEXT NOT NULL, action TEXT NOT NULL, fields TEXT NOT NULL, author TEXT NOT NULL,"
        " source_proposal_id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,"
        " revoked_at TEXT, revoked_by TEXT, revoke_reason TEXT)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS standing_rules_scope ON standing_rules (category, agent, action)")
    db.execute("CREATE INDEX IF NOT EXISTS decisions_by_reviewer ON decisions (reviewer)")  # a rule's decisions


def _slack_post_table(db: sqlite_utils.Database) -> None:
    """Every Slack message handoff posts, by category and kind (`bot.store.review_load`), filled with the
    cards, review-after messages and digests recorded before; and the reviewer index that finds the
    decisions of standing rules. Safe to run again."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS slack_posts (seq INTEGER PRIMARY KEY AUTOINCREMENT, category TEXT NOT NULL,"
        " kind TEXT NOT NULL, proposal_id TEXT, channel TEXT NOT NULL, ts TEXT NOT NULL, posted_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS slack_posts_by_category ON slack_posts (category, kind)")
    db.execute("CREATE INDEX IF NOT EXISTS decisions_by_reviewer ON decisions (reviewer)")
    backfill_slack_posts(db)


def backfill_slack_posts(db: Handle) -> None:
    """List the cards, review-after messages and digests recorded before `slack_posts` (either engine)."""
    if db.execute("SELECT 1 FROM slack_posts LIMIT 1").fetchone() is not None:
        return
    insert = "INSERT INTO slack_posts (category, kind, proposal_id, channel, ts, posted_at) "
    for kind, table in (("card", "cards"), ("review_after", "review_messages")):
        db.execute(
            f"{insert}SELECT p.category, '{kind}', m.proposal_id, m.channel, m.ts, m.posted_at FROM {table} m"  # noqa: S608
            " JOIN proposals p ON p.id = m.proposal_id"
        )
    db.execute(
        f"{insert}SELECT category, 'digest', NULL, COALESCE(posted_channel, channel), ts, opened_at FROM digests"  # noqa: S608
        " WHERE ts IS NOT NULL"
    )


def _report_reads(db: sqlite_utils.Database) -> None:
    """Nothing on SQLite: its scan for the report groups by category in the index's order, and its tables are
    kept in rowid order. PostgreSQL's step of this name gives its planner statistics and rowid indexes."""


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _initial_tables,
    _telemetry_tables,
    _review_chain_tables,
    _confirmation_table,
    _agent_tables,
    _intake_tables,
    _seal_records,
    _digest_tables,
    _precedent_table,
    _standing_tables,
    _slack_post_table,
    _report_reads,
]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this file has not seen yet; returns the schema version reached."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        step(db)
        db.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
