"""`handoff replay` and `handoff tune`: history under another policy, and thresholds the labels certify."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.insights.replay import replay, tune
from bot.store.ledger import Ledger
from scoring.models import Assessment, Outcome, Route, Signal, SignalKind
from scoring.rerouting import reroute
from scoring.tuning import Example, certify
from tests.ledger_history import add, policy

LOOSE = "categories:\n  customer_email: {level: on_uncertainty, threshold: 0.3}\n  tag_ticket: {level: autonomous}\n"
STRICT = "categories:\n  customer_email: {level: approve_before}\n  tag_ticket: {level: approve_before}\n"


@pytest.fixture
def ledger(ledger_target: str) -> Ledger:
    ledger = Ledger(ledger_target)
    add(ledger, "hi-ok", "customer_email", score=0.9, route=Route.AUTO, outcome=Outcome.AUTO)
    add(ledger, "mid-bad", "customer_email", score=0.5, outcome=Outcome.REJECT)
    add(ledger, "low-bad", "customer_email", score=0.2, outcome=Outcome.EDIT, edited={"n": 9})
    add(ledger, "hard-bad", "customer_email", score=0.95, hard=True, outcome=Outcome.REJECT)
    add(ledger, "tag", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    return ledger


def test_looser_policy_lets_past_overrides_run_before_review(ledger: Ledger) -> None:
    """At threshold 0.3 the 0.5 rejection would have run; hard-signal and low-score ones still escalate."""
    result = replay(ledger, policy(LOOSE))
    email = result["categories"]["customer_email"]
    assert (email["escalated_before"], email["escalated_after"]) == (3, 2)
    assert (email["overrides"], email["overrides_run_before_review"]) == (3, 1)
    assert result["total"]["no_longer_escalated"] == 1


def test_stricter_policy_escalates_everything(ledger: Ledger) -> None:
    """Under approve_before everywhere, every proposal escalates and no override runs unreviewed."""
    total = replay(ledger, policy(STRICT))["total"]
    assert total["escalated_after"] == total["proposals"] == 5
    assert total["overrides_run_before_review"] == 0


@settings(max_examples=50, deadline=None)
@given(score=st.floats(0, 1), threshold=st.floats(0, 1), fired=st.booleans())
def test_a_higher_threshold_never_routes_more_to_auto(score: float, threshold: float, fired: bool) -> None:
    """Re-routing is monotone: raising the threshold never turns an escalation into an auto action."""
    signal = Signal(name="ensemble", kind=SignalKind.SOFT, value=score, weight=1, reason="r", fired=fired)
    assessment = Assessment(
        proposal_id="p", score=score, route=Route.ESCALATE, signals=[signal], level="x", policy_version="v"
    )
    loose = policy(f"categories: {{c: {{level: on_uncertainty, threshold: {threshold / 2}}}}}")
    strict = policy(f"categories: {{c: {{level: on_uncertainty, threshold: {threshold}}}}}")
    if reroute(assessment, "c", strict)[0] is Route.AUTO:
        assert reroute(assessment, "c", loose)[0] is Route.AUTO


def test_tune_certifies_the_loosest_threshold_the_labels_support() -> None:
    """With 600 bad actions all scored below 0.4, a threshold at 0.4 or just above is certified."""
    rng = random.Random(7)
    examples = [Example(rng.uniform(0, 0.39), True) for _ in range(600)]
    examples += [Example(rng.uniform(0.3, 1), False) for _ in range(3000)]
    result = certify(examples, target=0.01, confidence=0.95)
    assert result.threshold is not None
    assert 0.39 <= result.threshold <= 0.45
    assert result.escapes <= 2


def sampled_population(rng: np.random.Generator, *, size: int = 3000) -> list[tuple[float, bool, bool, bool]]:
    """(score, bad, ran, audited) per action: bad actions score low, the ones at or above 0.7 run and 5% are audited."""
    scores = rng.random(size)
    bad = rng.random(size) < 0.02 + 0.4 * (1 - scores) ** 2
    ran = scores >= 0.7
    audited = ran & (rng.random(size) < 0.05)
    return list(zip(scores.tolist(), bad.tolist(), ran.tolist(), audited.tolist(), strict=True))


def true_escape_rate(threshold: float) -> float:
    """P(score >= threshold | bad) for the population above: the integral of 0.02 + 0.4 (1 - s)^2."""

    def mass(t: float) -> float:
        return 0.02 * (1 - t) + 0.4 * (1 - t) ** 3 / 3

    return mass(threshold) / mass(0.0)


def test_tune_keeps_its_guarantee_on_audit_sampled_labels() -> None:
    """On ledger-like labels (every escalation, 5% of what ran), certifying as if labels were uniform breaks
    the bound almost always; treating the audited rows as a sample of what ran keeps it (at most 5%)."""
    rng = np.random.default_rng(16)
    naive_broken = sampled_broken = sampled_certified = 0
    for _ in range(100):
        actions = sampled_population(rng)
        naive = [Example(s, b) for s, b, ran, audited in actions if not ran or audited]
        sampled = [
            Example(s, b, stratum="auto" if ran else "", labelled=not ran or audited) for s, b, ran, audited in actions
        ]
        loose = certify(naive, target=0.1, confidence=0.95).threshold
        honest = certify(sampled, target=0.1, confidence=0.95).threshold
        naive_broken += loose is not None and true_escape_rate(loose) > 0.1
        sampled_broken += honest is not None and true_escape_rate(honest) > 0.1
        sampled_certified += honest is not None
    assert naive_broken >= 90
    assert sampled_broken <= 5
    assert sampled_certified >= 90


def test_tune_says_how_many_more_reviews_are_needed() -> None:
    """Too few bad examples: not certifiable yet, with an estimate of the reviews still needed."""
    examples = [Example(0.1, True) for _ in range(20)] + [Example(0.9, False) for _ in range(200)]
    result = certify(examples, target=0.01, confidence=0.95)
    assert result.threshold is None
    assert result.more_reviews is not None
    assert result.more_reviews > 279
    assert result.reason.startswith("not certifiable yet: about")
    assert "as a guide" in result.reason
    assert "80% chance" in result.reason


def test_tune_command_prints_json(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`handoff tune` answers from the ledger; an unknown category exits 2 with the known ones listed."""
    monkeypatch.setenv("HANDOFF_DB", ledger.target)
    assert main(["tune", "customer_email", "--target-escape", "0.01", "--confidence", "0.95", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bad"] == 3
    assert data["threshold"] is None
    assert "not certifiable yet" in data["reason"]
    assert tune(ledger, "customer_email", target=0.5, confidence=0.5).bad == 3
    assert main(["tune", "nope"]) == 2
    assert "not a category" in capsys.readouterr().err


def test_replay_command_reads_another_policy(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`handoff replay --policy NEW.yaml` prints the counts; a missing file exits 2."""
    monkeypatch.setenv("HANDOFF_DB", ledger.target)
    new = tmp_path / "new.yaml"
    new.write_text(LOOSE)
    assert main(["replay", "--policy", str(new), "--since", "2020-01-01"]) == 0
    assert "would have run before review" in capsys.readouterr().out
    assert main(["replay", "--policy", str(tmp_path / "missing.yaml")]) == 2
