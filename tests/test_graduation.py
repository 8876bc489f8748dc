"""Graduation: an anytime-valid test, a calendar floor, a review_after stage, drift, demotion, never_graduate."""

from __future__ import annotations

import ast
import logging
import random
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scoring.graduation import Evidence, Recommendation, State, evaluate
from scoring.policy import Category, GraduationPolicy, Level, PolicyError, parse_policy

NOW = datetime(2025, 6, 1, tzinfo=UTC)
RULES = GraduationPolicy()
OPEN = Category(level=Level.ON_UNCERTAINTY)
log = logging.getLogger(__name__)


def clean(samples: int, *, days: float = 30, overrides: int = 0, **fields: float) -> Evidence:
    start = NOW - timedelta(days=days)
    return replace(Evidence(samples=samples, overrides=overrides, first_sample_at=start), **fields)


def test_never_graduate_categories_never_move() -> None:
    """However clean its record, a never_graduate category holds at approve_before."""
    refund = Category(level=Level.APPROVE_BEFORE, never_graduate=True)
    verdict = evaluate("refund", refund, Level.APPROVE_BEFORE, clean(10_000), RULES, now=NOW)
    assert (verdict.state, verdict.recommendation, verdict.target) == (State.NEVER, Recommendation.HOLD, None)


def test_clean_record_promotes_one_level_with_the_reason() -> None:
    """Enough clean reviews over enough days promote on_uncertainty to review_after, saying why."""
    verdict = evaluate("email", OPEN, Level.ON_UNCERTAINTY, clean(1000), RULES, now=NOW)
    assert verdict.recommendation is Recommendation.PROMOTE
    assert verdict.target is Level.REVIEW_AFTER
    assert "sequential test passed" in verdict.reason
    huge = evaluate("email", OPEN, Level.ON_UNCERTAINTY, clean(1_000_000), RULES, now=NOW)
    assert huge.recommendation is Recommendation.PROMOTE


@pytest.mark.parametrize(
    ("evidence", "words"),
    [
        (clean(150), "150 of 200 labelled reviews"),
        (clean(1000, days=3), "3.0 of 14 days"),
        (clean(400, overrides=3), "sequential test not passed"),
    ],
)
def test_promotion_waits_for_samples_days_and_the_test(evidence: Evidence, words: str) -> None:
    """Too few reviews, too few days or too many overrides hold the category, each named in the reason."""
    verdict = evaluate("email", OPEN, Level.ON_UNCERTAINTY, evidence, RULES, now=NOW)
    assert verdict.recommendation is Recommendation.HOLD
    assert verdict.state is State.COLLECTING
    assert words in verdict.reason


def test_review_after_stage_needs_its_own_samples_before_autonomy() -> None:
    """At review_after, autonomy waits for `review_after_samples` reviews at that level."""
    rules = GraduationPolicy(review_after_samples=2000)
    ra = Category(level=Level.REVIEW_AFTER)
    verdict = evaluate("tag", ra, Level.REVIEW_AFTER, clean(1000), rules, now=NOW)
    assert verdict.state is State.REVIEW_AFTER_STAGE
    assert evaluate("tag", ra, Level.REVIEW_AFTER, clean(2500), rules, now=NOW).target is Level.AUTONOMOUS


def test_drifted_inputs_block_a_promotion() -> None:
    """A stability index above `max_drift` holds an otherwise eligible category."""
    verdict = evaluate("email", OPEN, Level.ON_UNCERTAINTY, clean(1000, drift=0.6), RULES, now=NOW)
    assert verdict.state is State.DRIFTING
    assert "drifted" in verdict.reason


def test_confident_regression_demotes_one_level() -> None:
    """Recent unreviewed actions flagged well above target demote autonomous to review_after."""
    evidence = clean(1000, recent_samples=200, recent_overrides=12)
    verdict = evaluate("tag", Category(level=Level.REVIEW_AFTER), Level.AUTONOMOUS, evidence, RULES, now=NOW)
    assert (verdict.recommendation, verdict.target) == (Recommendation.DEMOTE, Level.REVIEW_AFTER)


def test_category_graduation_keys_override_the_top_level_ones() -> None:
    """A category's `graduation:` keys replace the top-level ones; the rest are inherited; typos are refused."""
    policy = parse_policy(
        "graduation: {min_days: 30, min_samples: 500}\n"
        "categories:\n  a: {level: on_uncertainty, graduation: {min_days: 7}}\n  b: {level: review_after}\n"
    )
    assert (policy.graduation_for("a").min_days, policy.graduation_for("a").min_samples) == (7, 500)
    assert policy.graduation_for("b").min_days == 30
    with pytest.raises(PolicyError, match=r"graduation.min_dayz: extra inputs are not permitted"):
        parse_policy("graduation: {min_dayz: 3}\ncategories: {a: {level: review_after}}\n")


def test_graduation_core_is_pure() -> None:
    """scoring/graduation.py, stats.py and tuning.py import nothing that does I/O or reads the clock."""
    allowed = {"__future__", "math", "dataclasses", "datetime", "enum", "typing", "collections", "scoring", "re"}
    for name in ("graduation", "stats", "tuning", "diff", "redact", "rerouting"):
        tree = ast.parse((Path(__file__).parents[1] / "scoring" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for module in modules:
                    assert module.split(".")[0] in allowed, f"scoring/{name}.py imports {module}"
        assert "now()" not in (Path(__file__).parents[1] / "scoring" / f"{name}.py").read_text()


def simulate(rate: float, *, histories: int, seed: int, per_day: int = 20, days: int = 90) -> tuple[int, list[int]]:
    """Daily checks over `histories` 90-day histories; returns how many graduated and the reviews each took."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=days)
    graduated, reviews = 0, []
    for _ in range(histories):
        samples = overrides = 0
        for day in range(1, days + 1):
            samples += per_day
            overrides += sum(rng.random() < rate for _ in range(per_day))
            evidence = Evidence(samples=samples, overrides=overrides, first_sample_at=start)
            verdict = evaluate("c", OPEN, Level.ON_UNCERTAINTY, evidence, RULES, now=start + timedelta(days=day))
            if verdict.recommendation is Recommendation.PROMOTE:
                graduated += 1
                reviews.append(samples)
                break
    return graduated, reviews


def seed_rule(rate: float, *, histories: int, seed: int, per_day: int = 20, days: int = 90) -> int:
    """The seed's floor rule (under 1% over ≥ 200 reviews in a rolling 30 days), checked daily."""
    rng = random.Random(seed)
    passed = 0
    for _ in range(histories):
        daily = [sum(rng.random() < rate for _ in range(per_day)) for _ in range(days)]
        for day in range(30, days + 1):
            window = daily[day - 30 : day]
            if 30 * per_day >= 200 and sum(window) / (30 * per_day) < 0.01:
                passed += 1
                break
    return passed


def test_simulated_histories_graduate_the_good_and_hold_the_bad(capsys: pytest.CaptureFixture[str]) -> None:
    """Over 1,000 simulated 90-day histories: 2% graduates in ≤ 5%, 0.2% graduates; prints reviews needed."""
    bad, _ = simulate(0.02, histories=1000, seed=1)
    at_target, _ = simulate(0.01, histories=1000, seed=2)
    good, reviews = simulate(0.002, histories=1000, seed=3)
    naive = seed_rule(0.02, histories=1000, seed=4)
    summary = (
        f"graduation simulation (1,000 histories x 90 days, 20 labelled reviews a day, daily checks): "
        f"true rate 2%: {bad / 10:.1f}% graduated (the seed's floor rule: {naive / 10:.1f}%); "
        f"1%: {at_target / 10:.1f}%; 0.2%: {good / 10:.1f}% graduated after a median of "
        f"{statistics.median(reviews):.0f} reviews (p10 {statistics.quantiles(reviews, n=10)[0]:.0f}, "
        f"p90 {statistics.quantiles(reviews, n=10)[-1]:.0f})"
    )
    with capsys.disabled():
        print("\n" + summary)
    log.warning(summary)
    assert bad <= 50
    assert at_target <= 50
    assert good >= 900
