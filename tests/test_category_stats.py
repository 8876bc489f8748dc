"""The report's one pass over the ledger agrees with the per-category reads graduation and routing use."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from bot.store import category_stats, queries
from bot.store.category_stats import Windows
from bot.store.ledger import Ledger
from scoring.models import Action, Outcome, Proposal, Route
from tests.ledger_history import add

CATEGORIES = ("tag_ticket", "customer_email", "issue_refund")


@pytest.fixture(scope="module")
def ledger(module_ledger_target: str) -> Iterator[Ledger]:
    """A varied history: every route, human and policy decisions of every outcome, pending reviews, audits,
    flags, confirmations, bodies of many sizes, and a proposal that was never assessed."""
    rng = random.Random(7)
    ledger = Ledger(module_ledger_target)
    for n in range(160):
        pid, category = f"p{n:03d}", rng.choice(CATEGORIES)
        route = rng.choice(list(Route))
        outcome = rng.choice([None, *Outcome]) if route is Route.ESCALATE else rng.choice([None, Outcome.AUTO])
        add(
            ledger,
            pid,
            category,
            route=route,
            outcome=outcome,
            audit=route is Route.AUTO and rng.random() < 0.5,
            args={"text": "x" * rng.choice([1, 40, 100, 300, 900, 5000])},
            cost=rng.random() / 100,
        )
        if route is not Route.ESCALATE and rng.random() < 0.3:
            ledger.record_flag(pid, flagger="U0BOB")
        if route is not Route.ESCALATE and rng.random() < 0.4:
            ledger.record_confirmation(pid, reviewer="U0CAROL")
    never = Proposal(category="customer_email", action=Action(name="act", args={}), summary="s", input={})
    ledger.record_proposal("unassessed", never, submitted_at="2026-01-01T00:00:00.000+00:00")
    yield ledger
    ledger.close()


def cut(ledger: Ledger, share: float) -> str:
    """The stored_at time that `share` of the proposals precede."""
    times = sorted(row[0] for row in ledger.db.execute("SELECT stored_at FROM proposals"))
    return str(times[int(share * (len(times) - 1))])


@pytest.mark.parametrize("shares", [(0.0, 0.0, 0.0, 0.5), (0.3, 0.6, 0.2, 0.7), (0.9, 0.1, 0.5, 0.95)])
def test_one_pass_agrees_with_the_per_category_reads(ledger: Ledger, shares: tuple[float, ...]) -> None:
    labels, watch, start, split = (cut(ledger, s) if s else "" for s in shares)
    windows = {name: Windows(labels, watch, start, split) for name in CATEGORIES[:2]}  # issue_refund: none
    found = category_stats.scan(ledger, windows)
    plain = queries.category_counts(ledger)
    assert {name: f.counts.counts() for name, f in found.items()} == {n: c.counts() for n, c in plain.items()}
    # the cost is a sum of floats, added in another order (PostgreSQL sums per day first, then per category)
    assert {name: f.counts.cost_usd for name, f in found.items()} == pytest.approx(
        {n: c.cost_usd for n, c in plain.items()}
    )
    assert {name: f.decisions for name, f in found.items() if f.decisions} == queries.decision_mix(ledger)
    for name in CATEGORIES[:2]:
        assert found[name].labels == queries.label_counts(ledger, name, since=labels)
        assert found[name].watched == queries.watched_days(ledger, name, since=watch)
        assert found[name].sizes == queries.size_histogram(ledger, name, start=start, split=split)
    assert sum(found["customer_email"].sizes.recent.values()) > 0
    assert found["issue_refund"].labels == (0, 0, 0, 0)
    assert found["issue_refund"].sizes == ({}, {})


def test_the_evidence_is_not_empty(ledger: Ledger) -> None:
    """The history above exercises what the comparison checks: labels, watched days, both size windows."""
    since = ""
    counts = [queries.label_counts(ledger, name, since=since) for name in CATEGORIES]
    assert all(c.samples and c.overrides and c.unreviewed for c in counts[:2])
    assert any(queries.watched_days(ledger, name, since=since) for name in CATEGORIES)
    sizes = queries.size_histogram(ledger, "tag_ticket", start="", split=cut(ledger, 0.5))
    assert len(sizes.reference) > 2
    assert len(sizes.recent) > 2


def test_no_categories_in_the_policy(ledger_target: str) -> None:
    ledger = Ledger(ledger_target)
    add(ledger, "p1", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    found = category_stats.scan(ledger, {})
    assert found["tag_ticket"].counts.volume == 1
    assert found["tag_ticket"].decisions == {"auto": 1}
    ledger.close()
