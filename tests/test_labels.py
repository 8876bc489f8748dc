"""What counts as labelled and as an override has one definition (scoring.labels); the ledger's SQL agrees."""

from __future__ import annotations

import itertools

import pytest

from bot.store.queries import JOINS, LABELLED, OVERRIDE
from scoring.labels import judge
from scoring.models import Outcome, Route
from tests.ledger_backends import scratch

REVIEWERS = ("U0ALICE", "policy:timeout", "policy:review_after", "standing:7")
DECISIONS = [None, *itertools.product([o.value for o in Outcome], REVIEWERS)]
CASES = list(
    itertools.product(DECISIONS, [r.value for r in Route], (False, True), (False, True), (None, "looks_right"))
)


def test_the_ledgers_sql_agrees_with_judge_on_every_combination(ledger_target: str) -> None:
    """For every outcome, reviewer, route, audit, flag and confirmation, LABELLED and OVERRIDE say what judge says
    (on the engine under test: temporary tables of the same names)."""
    db = scratch(ledger_target)
    for table in (
        "proposals (id TEXT)",
        "assessments (proposal_id TEXT, route TEXT, audit INTEGER)",
        "decisions (proposal_id TEXT, outcome TEXT, reviewer TEXT)",
        "flags (proposal_id TEXT)",
        "confirmations (proposal_id TEXT)",
    ):
        db.execute(f"CREATE TEMP TABLE {table}")
    for n, (decision, route, audit, flagged, confirmed) in enumerate(CASES):
        db.execute("INSERT INTO proposals VALUES (?)", [str(n)])
        db.execute("INSERT INTO assessments VALUES (?, ?, ?)", [str(n), route, int(audit)])
        if decision is not None:
            db.execute("INSERT INTO decisions VALUES (?, ?, ?)", [str(n), *decision])
        if flagged:
            db.execute("INSERT INTO flags VALUES (?)", [str(n)])
        if confirmed:
            db.execute("INSERT INTO confirmations VALUES (?)", [str(n)])
    query = (
        f"SELECT CAST(p.id AS INTEGER), COALESCE({LABELLED}, FALSE), COALESCE({LABELLED} AND {OVERRIDE}, FALSE) {JOINS}"
    )
    rows = db.execute(query).fetchall()
    db.close()
    assert len(rows) == len(CASES)
    for n, labelled, overridden in rows:
        decision, route, audit, flagged, confirmed = CASES[n]
        outcome, reviewer = decision or (None, None)
        judged = judge(
            outcome=outcome, reviewer=reviewer, route=route, audit=audit, flagged=flagged, confirmed=confirmed
        )
        assert (bool(labelled), bool(overridden)) == (judged is not None, bool(judged and judged.is_override)), CASES[n]


@pytest.mark.parametrize(
    ("outcome", "reviewer", "route", "flagged", "confirmed", "expected"),
    [
        ("approve", "U0ALICE", "escalate", False, None, ("ok", "approve")),
        ("redirect", "U0ALICE", "escalate", False, None, ("bad", "redirect")),
        ("edit", "U0ALICE", "escalate", False, None, ("bad", "edit")),
        ("timeout", "policy:timeout", "escalate", False, None, None),
        ("auto", "policy:review_after", "review_after", False, None, None),
        ("auto", "policy:review_after", "review_after", False, "looks_right", ("ok", "looks_right")),
        ("auto", "policy:review_after", "review_after", True, "looks_right", ("bad", "flag")),
        ("auto", "policy:review_after", "review_after", True, None, ("bad", "flag")),
        ("auto", "policy:auto", "auto", False, "looks_right", None),
        (None, None, "escalate", False, None, None),
        ("approve", "standing:7", "escalate", False, None, None),
        ("approve", "standing:7", "escalate", False, "digest", ("ok", "digest")),
        ("approve", "standing:7", "escalate", True, None, ("bad", "flag")),
    ],
)
def test_judge_labels_what_a_person_judged(
    outcome: str | None,
    reviewer: str | None,
    route: str,
    flagged: bool,
    confirmed: str | None,
    expected: tuple[str, str] | None,
) -> None:
    """A person's approval is ok, their change or redirect is an override, a flag is bad, "Looks right" on an
    action that ran before review is ok; a timeout and silence are nothing."""
    judged = judge(outcome=outcome, reviewer=reviewer, route=route, audit=False, flagged=flagged, confirmed=confirmed)
    got = (judged.label, judged.source) if judged else None
    assert got == expected
