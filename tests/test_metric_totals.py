"""`/metrics`' ledger counters, read incrementally, say exactly what a full count says after any writes."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from bot.insights.metrics import BUCKETS
from bot.store.clock import utcnow
from bot.store.ledger import Ledger
from bot.store.metric_totals import LedgerTotals, Totals
from scoring.models import Decision, Outcome, Route
from tests.ledger_history import add

CATEGORIES = ("tag_ticket", "customer_email", "issue_refund")


def figures(totals: Totals) -> tuple[object, ...]:
    """Every figure, floats rounded as /metrics prints them."""
    rows = [(*row[:6], round(row.llm_cost_usd, 6)) for row in totals.category_totals()]
    waits = [(*w[:3], round(w.total_seconds, 6)) for w in totals.wait_buckets()]
    steps = {c: dict(k) for c, k in totals.steps.items() if k}
    return rows, waits, dict(+totals.outcomes), steps, totals.pending


def write_some(ledger: Ledger, rng: random.Random, start: int, n: int) -> None:
    """Proposals at every stage, and later events on older ones: decisions, flags, confirmations, steps."""
    for i in range(start, start + n):
        pid, route = f"p{i:04d}", rng.choice(list(Route))
        outcome = rng.choice([None, *Outcome]) if route is Route.ESCALATE else rng.choice([None, Outcome.AUTO])
        add(ledger, pid, rng.choice(CATEGORIES), route=route, outcome=outcome, wait_s=rng.choice([5, 90, 5000]))
        older = f"p{rng.randrange(0, i + 1):04d}"
        if rng.random() < 0.2:
            ledger.record_flag(older, flagger="U0BOB")
        if rng.random() < 0.2:
            ledger.record_confirmation(older, reviewer="U0CAROL")
        ledger.record_escalation_step(older, rng.choice(["reminded", "escalated"]), "U0ALICE")
        if rng.random() < 0.1:
            ledger.quarantine(older, stage="assess", error="bad")
        if rng.random() < 0.2 and ledger.decision(older) is None and ledger.assessment(older) is not None:
            ledger.record_card(older, channel="C2", ts="9.9")  # a card posted (or re-posted) late
            add_decision(ledger, older, rng)


def add_decision(ledger: Ledger, pid: str, rng: random.Random) -> None:
    outcome = rng.choice([Outcome.APPROVE, Outcome.EDIT, Outcome.TIMEOUT])
    reviewer = "policy:timeout" if outcome is Outcome.TIMEOUT else "U0DAVE"
    ledger.record_decision(
        Decision(proposal_id=pid, outcome=outcome, reviewer=reviewer, action=None, decided_at=utcnow())
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_reads_equal_a_full_count(ledger_target: str, seed: int) -> None:
    rng = random.Random(seed)
    ledger = Ledger(ledger_target)
    kept = LedgerTotals(BUCKETS)
    assert figures(kept.read(ledger)) == figures(LedgerTotals(BUCKETS).read(ledger))  # empty
    written = 0
    for batch in (5, 1, 0, 12, 3, 20):
        write_some(ledger, rng, written, batch)
        written += batch
        assert figures(kept.read(ledger)) == figures(LedgerTotals(BUCKETS).read(ledger)), f"after {written}"
    assert kept.full_counts == 1  # only the first read counted everything
    assert kept.read(ledger).pending > 0
    ledger.close()


@pytest.mark.sqlite_only("a backup file copied back over the ledger file")
def test_a_replaced_ledger_is_counted_again(tmp_path: Path) -> None:
    """A restored backup (fewer rows, other events) is noticed and counted in full, not mixed with the past."""
    rng = random.Random(4)
    ledger = Ledger(tmp_path / "ledger.db")
    write_some(ledger, rng, 0, 6)
    ledger.close()
    shutil.copy(tmp_path / "ledger.db", tmp_path / "backup.db")
    kept = LedgerTotals(BUCKETS)
    write_some(ledger, rng, 6, 6)
    kept.read(ledger)
    ledger.close()
    shutil.copy(tmp_path / "backup.db", tmp_path / "ledger.db")
    restored = Ledger(tmp_path / "ledger.db")
    write_some(restored, random.Random(5), 6, 2)  # the same rowids again, different rows
    assert figures(kept.read(restored)) == figures(LedgerTotals(BUCKETS).read(restored))
    assert kept.full_counts == 2
    restored.close()


def test_a_decision_by_another_process_between_reads_is_counted(ledger_target: str) -> None:
    ledger = Ledger(ledger_target)
    add(ledger, "e1", "customer_email", outcome=None)
    kept = LedgerTotals(BUCKETS)
    assert kept.read(ledger).pending == 1
    other = Ledger(ledger_target)  # its own connection, as the worker's
    add_decision(other, "e1", random.Random(1))
    totals = kept.read(ledger)
    assert totals.pending == 0
    assert sum(totals.outcomes.values()) == 1
    other.close()
    ledger.close()


def test_a_card_posted_after_the_decision_moves_the_wait(ledger_target: str) -> None:
    """The wait runs from the card when there is one: a card recorded late changes an old decision's wait."""
    ledger = Ledger(ledger_target)
    add(ledger, "e0", "customer_email", outcome=None)
    ledger.db.execute("DELETE FROM cards")  # escalated, decided before any card was recorded
    ledger.db.execute("UPDATE proposals SET stored_at = '2026-01-01T00:00:00.000+00:00'")  # stored long ago
    add_decision(ledger, "e0", random.Random(2))
    kept = LedgerTotals(BUCKETS)
    before = figures(kept.read(ledger))
    ledger.record_card("e0", channel="C1", ts="1.1")
    after = figures(kept.read(ledger))
    assert after == figures(LedgerTotals(BUCKETS).read(ledger))
    assert after != before
    ledger.close()
