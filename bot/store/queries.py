"""Reads over the ledger beyond one proposal's own record, each returning typed rows: side tables, policy
events, a category's recent inputs, and the aggregates behind graduation, the report, metrics, replay
and export.

With `ledger.py`, `digests.py` and `category_stats.py` (the report's one pass) this module holds every
SQL statement handoff runs. What counts as labelled and as an override is defined once in
`scoring.labels`; LABELLED and OVERRIDE are derived from it (and a test checks them against
`scoring.labels.judge` on every combination).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from bot.store.engine import Dialect
from bot.store.ledger import Ledger
from bot.store.rows import (
    AppliedLevel,
    CategoryCounts,
    CategoryTotals,
    DayCount,
    EscalationStep,
    ExportRow,
    Flag,
    LabelCounts,
    MessageRef,
    PendingFacts,
    PolicyEvent,
    ReplayRow,
    SizeHistogram,
    TuneAction,
    WaitBuckets,
)
from scoring.labels import LOOKED_AT_LATER, NOT_A_LABEL, OVERRIDE_OUTCOMES
from scoring.models import POLICY_REVIEWER_PREFIX, STANDING_REVIEWER_PREFIX, AgentInput, Assessment

_BY_RULE = f"d.reviewer LIKE '{STANDING_REVIEWER_PREFIX}%'"  # a standing approval: ran with nobody looking
# An escalation a person was asked to decide: not one a standing approval took at once (its time to decide
# would be no wait at all; `handoff report` and /metrics count those apart).
ASKED = f"NOT {_BY_RULE}"
_HUMAN = f"(d.reviewer NOT LIKE '{POLICY_REVIEWER_PREFIX}%' AND NOT {_BY_RULE} AND d.outcome != '{NOT_A_LABEL.value}')"
_OVERRIDDEN = ", ".join(f"'{o.value}'" for o in OVERRIDE_OUTCOMES)
UNREVIEWED = f"(a.route = '{LOOKED_AT_LATER.value}' OR a.audit = 1)"  # ran before any person saw it
# A confirmation counts only on an action that ran before review, as `judge` says.
LABELLED = f"({_HUMAN} OR f.proposal_id IS NOT NULL OR (k.proposal_id IS NOT NULL AND ({UNREVIEWED} OR {_BY_RULE})))"
OVERRIDE = f"(({_HUMAN} AND d.outcome IN ({_OVERRIDDEN})) OR f.proposal_id IS NOT NULL)"
JOINS = (
    "FROM proposals p JOIN assessments a ON a.proposal_id = p.id LEFT JOIN decisions d ON d.proposal_id = p.id"
    " LEFT JOIN flags f ON f.proposal_id = p.id LEFT JOIN confirmations k ON k.proposal_id = p.id"
)
JOINS_ANY_ASSESSMENT = JOINS.replace("JOIN assessments", "LEFT JOIN assessments", 1)
SIZE_BUCKETS = tuple(2**k for k in range(6, 18))


def count_if(condition: str) -> str:
    """How many rows meet `condition` (SQL both engines speak: PostgreSQL does not sum booleans)."""
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def size_bucket(dialect: Dialect) -> str:
    """A proposal's size bucket; sizes in bytes (bodies are stored by json.dumps with ASCII escapes, so bytes
    are characters, and the engine knows a text's byte length without reading it through)."""
    size = dialect.byte_length("p.body")
    return (
        "CASE " + " ".join(f"WHEN {size} < {b} THEN '<{b}'" for b in SIZE_BUCKETS) + f" ELSE '>={SIZE_BUCKETS[-1]}' END"
    )


# Seconds from the card (or, without one, from storing the proposal) to the decision, for escalated proposals.
# CategoryCounts in field order, then the cost: the report's per-category counts over JOINS_ANY_ASSESSMENT.
COUNT_COLUMNS = f"""COUNT(*), {count_if("a.route = 'escalate'")}, {count_if("a.route = 'auto'")},
    {count_if("a.route = 'review_after'")}, {count_if("a.route = 'auto' AND a.audit = 0")}, SUM(a.audit),
    {count_if("a.route = 'escalate' AND d.proposal_id IS NULL")}, {count_if(LABELLED)}, {count_if(UNREVIEWED)},
    {count_if(f"{UNREVIEWED} AND NOT {LABELLED}")}, {count_if(f"{LABELLED} AND {OVERRIDE}")},
    {count_if("f.proposal_id IS NOT NULL")}, SUM(a.llm_calls), SUM(a.cost_usd)"""


def wait_seconds(dialect: Dialect) -> str:
    """Seconds from the card (or, without one, from storing the proposal) to the decision."""
    return dialect.seconds_between("COALESCE(c.posted_at, p.stored_at)", "d.decided_at")


_WAIT_FROM = (
    "FROM decisions d JOIN proposals p ON p.id = d.proposal_id JOIN assessments a ON a.proposal_id = d.proposal_id"
    f" LEFT JOIN cards c ON c.proposal_id = d.proposal_id WHERE a.route = 'escalate' AND {ASKED}"
)


def _waits(dialect: Dialect) -> str:
    """Seconds to decide each escalated proposal, with its category."""
    return f"SELECT p.category AS category, {wait_seconds(dialect)} AS s {_WAIT_FROM}"


def review_message(ledger: Ledger, pid: str) -> MessageRef | None:
    """The proposal's review-after message, if one was posted."""
    row = ledger.db.execute("SELECT channel, ts FROM review_messages WHERE proposal_id = ?", [pid]).fetchone()
    return MessageRef(str(row[0]), str(row[1])) if row else None


def flag_on(ledger: Ledger, pid: str) -> Flag | None:
    """The flag on an action that ran unreviewed, if anyone flagged it."""
    row = ledger.db.execute("SELECT flagger, flagged_at FROM flags WHERE proposal_id = ?", [pid]).fetchone()
    return Flag(str(row[0]), str(row[1])) if row else None


def escalation_path(ledger: Ledger, pid: str) -> list[EscalationStep]:
    """A review's escalation steps in order."""
    query = "SELECT kind, target, detail, at FROM escalation_steps WHERE proposal_id = ? ORDER BY seq"
    return [EscalationStep(*row) for row in ledger.db.execute(query, [pid]).fetchall()]


def recent_inputs(ledger: Ledger, category: str, *, limit: int) -> list[AgentInput]:
    """What the category's latest proposals saw, newest first."""
    seen = ledger.dialect.json_text("body", "input")
    rows = ledger.db.execute(
        f"SELECT {seen} FROM proposals WHERE category = ? ORDER BY stored_at DESC LIMIT ?",  # noqa: S608
        [category, limit],
    ).fetchall()
    return [AgentInput.model_validate(json.loads(row[0])) for row in rows if row[0]]


def policy_event(ledger: Ledger, seq: int) -> PolicyEvent | None:
    """One promotion or demotion, or None."""
    row = ledger.db.execute(
        "SELECT category, from_level, to_level, reason, status, decided_by, channel, ts FROM policy_events"
        " WHERE seq = ?",
        [seq],
    ).fetchone()
    if row is None:
        return None
    card = MessageRef(str(row[6]), str(row[7])) if row[6] and row[7] else None
    return PolicyEvent(seq, row[0], row[1], row[2], row[3], row[4], row[5], card)


def applied_level(ledger: Ledger, category: str, *, base_level: str) -> AppliedLevel | None:
    """The latest promotion or demotion applied while the policy file said `base_level`."""
    row = ledger.db.execute(
        "SELECT to_level, decided_at FROM policy_events WHERE category = ? AND status = 'applied'"
        " AND base_level = ? ORDER BY seq DESC LIMIT 1",
        [category, base_level],
    ).fetchone()
    return AppliedLevel(row[0], row[1]) if row else None


def open_promotion(ledger: Ledger, category: str, to_level: str) -> int | None:
    """The number of a still-proposed promotion of `category` to `to_level`, if one is waiting."""
    row = ledger.db.execute(
        "SELECT seq FROM policy_events WHERE category = ? AND to_level = ? AND status = 'proposed'"
        " ORDER BY seq DESC LIMIT 1",
        [category, to_level],
    ).fetchone()
    return int(row[0]) if row else None


def label_counts(ledger: Ledger, category: str, *, since: str) -> LabelCounts:
    """Labelled reviews, overrides and days (UTC) with labelled reviews of `category` stored since `since`,
    and the actions that ran before review that nobody answered."""
    row = ledger.db.execute(
        f"SELECT {count_if(LABELLED)}, {count_if(f'{LABELLED} AND {OVERRIDE}')},"
        f" COUNT(DISTINCT CASE WHEN {LABELLED} THEN substr(p.stored_at, 1, 10) END),"
        f" {count_if(f'{UNREVIEWED} AND NOT {LABELLED}')} {JOINS}"
        " WHERE p.category = :category AND p.stored_at >= :since",
        {"category": category, "since": since},
    ).fetchone()
    samples, overrides, active_days, unreviewed = row
    return LabelCounts(samples or 0, overrides or 0, active_days or 0, unreviewed or 0)


def watched_days(ledger: Ledger, category: str, *, since: str) -> list[DayCount]:
    """Per day (UTC, oldest first) since `since`: labelled actions of `category` that ran before review, and
    how many of them were flagged; what the demotion detector watches."""
    query = (
        f"SELECT substr(p.stored_at, 1, 10), COUNT(*), {count_if(OVERRIDE)} {JOINS}"
        f" WHERE p.category = ? AND p.stored_at >= ? AND {UNREVIEWED} AND {LABELLED} GROUP BY 1 ORDER BY 1"
    )
    return [DayCount(day, int(n), int(k or 0)) for day, n, k in ledger.db.execute(query, [category, since])]


def last_promotion(ledger: Ledger, category: str, *, base_level: str) -> str | None:
    """When the latest promotion applied while the policy file said `base_level` took effect."""
    row = ledger.db.execute(
        "SELECT decided_at FROM policy_events WHERE category = ? AND status = 'applied' AND kind = 'promote'"
        " AND base_level = ? ORDER BY seq DESC LIMIT 1",
        [category, base_level],
    ).fetchone()
    return str(row[0]) if row else None


def auto_run_count(ledger: Ledger, category: str, *, since: str) -> int:
    """How many actions of `category` stored since `since` ran automatically (audited or not)."""
    row = ledger.db.execute(
        "SELECT COUNT(*) FROM proposals p JOIN assessments a ON a.proposal_id = p.id"
        " WHERE p.category = ? AND p.stored_at >= ? AND a.route = 'auto'",
        [category, since],
    ).fetchone()
    return int(row[0])


def size_histogram(ledger: Ledger, category: str, *, start: str, split: str) -> SizeHistogram:
    """Proposal sizes of `category` per bucket: stored from `start` to `split`, and from `split` on."""
    rows = ledger.db.execute(
        f"SELECT p.stored_at >= ?, {size_bucket(ledger.dialect)}, COUNT(*) FROM proposals p"  # noqa: S608
        " WHERE p.category = ? AND p.stored_at >= ? GROUP BY 1, 2",
        [split, category, start],
    ).fetchall()
    reference = {bucket: n for is_recent, bucket, n in rows if not is_recent}
    recent = {bucket: n for is_recent, bucket, n in rows if is_recent}
    return SizeHistogram(reference, recent)


def category_counts(ledger: Ledger) -> dict[str, CategoryCounts]:
    """The report's counts per category that has proposals."""
    query = f"SELECT p.category, {COUNT_COLUMNS} {JOINS_ANY_ASSESSMENT} GROUP BY p.category"
    counts = {}
    for category, *numbers, cost in ledger.db.execute(query).fetchall():
        values = dict(zip(CategoryCounts().counts(), (int(n or 0) for n in numbers), strict=True))
        counts[category] = CategoryCounts(**values, cost_usd=float(cost or 0.0))
    return counts


def decision_mix(ledger: Ledger) -> dict[str, dict[str, int]]:
    """How many decisions of each outcome, per category."""
    query = "SELECT p.category, d.outcome, COUNT(*) FROM decisions d JOIN proposals p ON p.id = d.proposal_id"
    mix: dict[str, dict[str, int]] = defaultdict(dict)
    for category, outcome, n in ledger.db.execute(query + " GROUP BY 1, 2"):
        mix[category][outcome] = n
    return mix


def wait_histogram(ledger: Ledger) -> dict[str, dict[float, int]]:
    """Seconds to decide escalations per category, exact to the second under 10 minutes, to the minute
    under 10 hours, to the hour beyond: few groups, whatever the ledger's size."""
    whole = ledger.dialect.whole
    query = f"""
    SELECT category, CASE WHEN s < 600 THEN {whole("s")} WHEN s < 36000 THEN {whole("s / 60")} * 60
                          ELSE {whole("s / 3600")} * 3600 END AS bucket, COUNT(*)
    FROM ({_waits(ledger.dialect)}) AS waits GROUP BY 1, 2
    """  # noqa: S608 - constants only
    waits: dict[str, dict[float, int]] = defaultdict(dict)
    for category, bucket, n in ledger.db.execute(query):
        waits[category][float(bucket)] = n
    return waits


def wait_buckets(ledger: Ledger, buckets: tuple[int, ...]) -> list[WaitBuckets]:
    """Escalated decisions per category by time to decide, cumulative over `buckets` (seconds)."""
    sums = ", ".join(count_if(f"s <= {int(b)}") for b in buckets)
    query = f"SELECT category, {sums}, COUNT(*), SUM(s) FROM ({_waits(ledger.dialect)}) AS waits GROUP BY 1"  # noqa: S608
    return [
        WaitBuckets(row[0], tuple(row[1 : 1 + len(buckets)]), row[1 + len(buckets)], row[2 + len(buckets)])
        for row in ledger.db.execute(query).fetchall()
    ]


def escalation_step_counts(ledger: Ledger) -> dict[str, dict[str, int]]:
    """How many reminders, escalations, holds and expiries, per category and kind."""
    query = "SELECT p.category, s.kind, COUNT(*) FROM escalation_steps s JOIN proposals p ON p.id = s.proposal_id"
    steps: dict[str, dict[str, int]] = defaultdict(dict)
    for category, kind, n in ledger.db.execute(query + " GROUP BY 1, 2"):
        steps[category][kind] = n
    return steps


def category_totals(ledger: Ledger) -> list[CategoryTotals]:
    """The metrics' counters per category: escalations, overrides, flags, LLM calls, tokens and cost."""
    query = f"""
    SELECT p.category, {count_if("a.route = 'escalate'")}, {count_if(f"{LABELLED} AND {OVERRIDE}")},
           {count_if("f.proposal_id IS NOT NULL")}, SUM(a.llm_calls), SUM(a.tokens), SUM(a.cost_usd) {JOINS} GROUP BY 1
    """
    return [CategoryTotals(*row) for row in ledger.db.execute(query).fetchall()]


def replay_rows(ledger: Ledger, *, since: str) -> Iterator[ReplayRow]:
    """Every stored assessment since `since`, oldest first, with whether a person overrode it."""
    query = (
        f"SELECT p.category, a.body, ({LABELLED} AND {OVERRIDE}) {JOINS} WHERE p.stored_at >= ? ORDER BY p.stored_at"
    )
    for category, body, overridden in ledger.engine.stream(query, [since]):
        yield ReplayRow(category, Assessment.model_validate_json(body), bool(overridden))


def tune_actions(ledger: Ledger, category: str) -> list[TuneAction]:
    """Every action of `category` `tune` weighs: escalations a person decided (all labelled), and the actions
    that ran before review, labelled or not (only the audited and answered share of them is labelled)."""
    query = f"""
    SELECT a.score, {LABELLED}, ({LABELLED} AND {OVERRIDE}),
           {ledger.dialect.any_hard_signal_fired("a.body")}, a.route
    {JOINS} WHERE p.category = ? AND ({LABELLED} OR a.route != 'escalate')
    """
    return [
        TuneAction(float(score), bool(labelled), bool(bad), bool(hard), str(route))
        for score, labelled, bad, hard, route in ledger.db.execute(query, [category])
    ]


def export_rows(ledger: Ledger, *, category: str | None, since: str, until: str) -> Iterator[ExportRow]:
    """Every proposal stored in [since, until) (of `category`, if given), oldest first, with all it led to."""
    query = """
    SELECT p.id, p.category, p.stored_at, p.body, a.body, d.body, e.status, e.detail, e.executed_at, f.flagger,
           f.reason, f.flagged_at, c.posted_at, k.reviewer, k.source, k.confirmed_at
    FROM proposals p LEFT JOIN assessments a ON a.proposal_id = p.id LEFT JOIN decisions d ON d.proposal_id = p.id
    LEFT JOIN executions e ON e.proposal_id = p.id LEFT JOIN flags f ON f.proposal_id = p.id
    LEFT JOIN cards c ON c.proposal_id = p.id LEFT JOIN confirmations k ON k.proposal_id = p.id
    WHERE (CAST(:category AS TEXT) IS NULL OR p.category = :category) AND p.stored_at >= :since AND p.stored_at < :until
    ORDER BY p.stored_at, p.id
    """
    params = {"category": category, "since": since, "until": until}
    for pid, name, stored_at, body, assessment, decision, *rest in ledger.engine.stream(query, params):
        yield ExportRow(pid, name, stored_at, json.loads(body), _json(assessment), _json(decision), *rest)


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def pending_facts(ledger: Ledger, ids: list[str]) -> dict[str, PendingFacts]:
    """For each of `ids` the ledger holds: its body, whether it has a card, whether it has timers."""
    chosen = ledger.dialect.json_list("?", "chosen")
    query = (
        "SELECT p.id, p.body, EXISTS (SELECT 1 FROM cards c WHERE c.proposal_id = p.id),"  # noqa: S608 - constants
        f" EXISTS (SELECT 1 FROM timers t WHERE t.proposal_id = p.id) FROM {chosen}"
        " JOIN proposals p ON p.id = chosen.value"
    )
    rows = ledger.db.execute(query, [json.dumps(ids)])
    return {pid: PendingFacts(body, bool(carded), bool(chained)) for pid, body, carded, chained in rows}


def refusal_count(ledger: Ledger) -> int:
    """How many submissions were refused at intake."""
    return int(ledger.db.execute("SELECT COUNT(*) FROM refusals").fetchone()[0])


def quarantined(ledger: Ledger) -> list[dict[str, str]]:
    """Every quarantined record, oldest first: proposal_id, stage, error, at (for an operator)."""
    rows = ledger.db.execute("SELECT proposal_id, stage, error, at FROM quarantine ORDER BY at").fetchall()
    return [dict(zip(("proposal_id", "stage", "error", "at"), row, strict=True)) for row in rows]
