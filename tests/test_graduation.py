"""Graduation: the policy's guarantee as a sequential test, days with data, a review_after stage, drift,
a change detector for demotion, never_graduate, and the policy keys of earlier versions."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from scoring.graduation import Evidence, Recommendation, State, Watch, evaluate
from scoring.policy import Category, GraduationPolicy, Level, PolicyError, parse_policy

RULES = GraduationPolicy()
OPEN = Category(level=Level.ON_UNCERTAINTY)


def clean(samples: int, *, days: int = 30, overrides: int = 0, **fields: object) -> Evidence:
    return replace(Evidence(samples=samples, overrides=overrides, active_days=days), **fields)


def test_never_graduate_categories_never_move() -> None:
    """However clean its record, a never_graduate category holds at approve_before."""
    refund = Category(level=Level.APPROVE_BEFORE, never_graduate=True)
    verdict = evaluate("refund", refund, Level.APPROVE_BEFORE, clean(10_000), RULES)
    assert (verdict.state, verdict.recommendation, verdict.target) == (State.NEVER, Recommendation.HOLD, None)


def test_clean_record_promotes_one_level_with_the_reason() -> None:
    """Enough clean reviews over enough days promote on_uncertainty to review_after, saying why."""
    verdict = evaluate("email", OPEN, Level.ON_UNCERTAINTY, clean(1000), RULES)
    assert verdict.recommendation is Recommendation.PROMOTE
    assert verdict.target is Level.REVIEW_AFTER
    assert "sequential test passed" in verdict.reason
    huge = evaluate("email", OPEN, Level.ON_UNCERTAINTY, clean(1_000_000), RULES)
    assert huge.recommendation is Recommendation.PROMOTE


@pytest.mark.parametrize(
    ("evidence", "words"),
    [
        (clean(150), "150 of 200 labelled reviews"),
        (clean(1000, days=3), "3 of 7 days with labelled reviews"),
        (clean(400, overrides=3), "sequential test not passed"),
        (clean(150, unreviewed=40), "40 actions ran with nobody saying they looked right"),
    ],
)
def test_promotion_waits_for_samples_days_and_the_test(evidence: Evidence, words: str) -> None:
    """Too few reviews, too few days with data or too many overrides hold the category, each named in the reason;
    unanswered actions are named and not counted."""
    verdict = evaluate("email", OPEN, Level.ON_UNCERTAINTY, evidence, RULES)
    assert verdict.recommendation is Recommendation.HOLD
    assert verdict.state is State.COLLECTING
    assert words in verdict.reason


def test_review_after_stage_binds_with_the_defaults() -> None:
    """At review_after, autonomy waits for `review_after_samples` (400 by default, above the 200 floor)."""
    ra = Category(level=Level.REVIEW_AFTER)
    assert RULES.review_after_samples > RULES.min_samples
    verdict = evaluate("tag", ra, Level.REVIEW_AFTER, clean(300), RULES)
    assert verdict.state is State.REVIEW_AFTER_STAGE
    assert evaluate("tag", Category(level=Level.ON_UNCERTAINTY), Level.ON_UNCERTAINTY, clean(300), RULES).target
    assert evaluate("tag", ra, Level.REVIEW_AFTER, clean(400), RULES).recommendation is Recommendation.PROMOTE


def test_drifted_inputs_block_a_promotion() -> None:
    """A stability index above `max_drift` holds an otherwise eligible category."""
    verdict = evaluate("email", OPEN, Level.ON_UNCERTAINTY, clean(1000, drift=0.6), RULES)
    assert verdict.state is State.DRIFTING
    assert "drifted" in verdict.reason


def flagged_days(days: int, *, per_day: int = 20, overrides: int = 2) -> Watch:
    watch = Watch()
    for _ in range(days):
        watch = watch.add(per_day, overrides, RULES)
    return watch


def test_change_detector_demotes_one_level() -> None:
    """Days of actions flagged well above the tolerated rate demote autonomous to review_after, saying why."""
    evidence = clean(1000, watch=flagged_days(5))
    verdict = evaluate("tag", Category(level=Level.REVIEW_AFTER), Level.AUTONOMOUS, evidence, RULES)
    assert (verdict.recommendation, verdict.target) == (Recommendation.DEMOTE, Level.REVIEW_AFTER)
    assert "change detector reached" in verdict.reason
    calm = evaluate(
        "tag", Category(level=Level.REVIEW_AFTER), Level.AUTONOMOUS, clean(1000, watch=flagged_days(2)), RULES
    )
    assert calm.recommendation is Recommendation.HOLD


def test_regression_at_approve_before_is_reported_not_ignored() -> None:
    """With nothing stricter to go to, a regressed approve_before category is held and its state says so."""
    verdict = evaluate(
        "c", Category(level=Level.APPROVE_BEFORE), Level.APPROVE_BEFORE, clean(1000, watch=flagged_days(9)), RULES
    )
    assert (verdict.state, verdict.recommendation, verdict.target) == (State.REGRESSED, Recommendation.HOLD, None)
    assert "already at approve_before" in verdict.reason


def test_policy_states_the_guarantee_and_derives_the_test() -> None:
    """`bad_rate` and `false_graduation` set the test; the defaults are 2% and 5%, the good rate a fifth."""
    assert (RULES.bad_rate, RULES.false_graduation, RULES.good, RULES.tolerated) == (0.02, 0.05, 0.004, 0.01)
    strict = GraduationPolicy(bad_rate=0.01, false_graduation=0.01)
    evidence = clean(400)
    assert evaluate("c", OPEN, Level.ON_UNCERTAINTY, evidence, RULES).recommendation is Recommendation.PROMOTE
    assert evaluate("c", OPEN, Level.ON_UNCERTAINTY, evidence, strict).recommendation is Recommendation.HOLD


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("graduation: {confidence: 0.9}", ("false_graduation", 0.1)),
        ("graduation: {alternative_rate: 0.001}", ("good_rate", 0.001)),
        ("graduation: {min_days: 10}", ("min_active_days", 10)),
    ],
)
def test_old_graduation_keys_keep_working(yaml_text: str, expected: tuple[str, float]) -> None:
    """Keys of earlier versions whose meaning carries over are read under their new names."""
    policy = parse_policy(yaml_text + "\ncategories: {a: {level: review_after}}\n")
    key, value = expected
    assert getattr(policy.graduation, key) == pytest.approx(value)


@pytest.mark.parametrize("key", ["target_override_rate: 0.01", "demote_window_days: 30"])
def test_old_graduation_keys_with_a_new_meaning_are_refused_by_name(key: str) -> None:
    """Keys whose meaning changed stop the policy with an error naming the key and what to write instead."""
    with pytest.raises(PolicyError, match=rf"graduation: {key.split(':')[0]} is no longer a graduation key"):
        parse_policy(f"graduation: {{{key}}}\ncategories: {{a: {{level: review_after}}}}\n")


def test_category_graduation_keys_override_the_top_level_ones() -> None:
    """A category's `graduation:` keys replace the top-level ones; the rest are inherited; typos are refused."""
    policy = parse_policy(
        "graduation: {min_active_days: 30, min_samples: 500}\n"
        "categories:\n  a: {level: on_uncertainty, graduation: {min_active_days: 7}}\n  b: {level: review_after}\n"
    )
    assert (policy.graduation_for("a").min_active_days, policy.graduation_for("a").min_samples) == (7, 500)
    assert policy.graduation_for("b").min_active_days == 30
    with pytest.raises(PolicyError, match=r"graduation.min_dayz: extra inputs are not permitted"):
        parse_policy("graduation: {min_dayz: 3}\ncategories: {a: {level: review_after}}\n")


def test_graduation_core_is_pure() -> None:
    """scoring/graduation.py, stats.py and tuning.py import nothing that does I/O or reads the clock."""
    allowed = {"__future__", "math", "dataclasses", "datetime", "enum", "typing", "collections", "scoring", "re"}
    allowed |= {"functools", "json"}  # a cache of pure results; parsing text handed in
    for name in ("graduation", "stats", "tuning", "diff", "redact", "rerouting", "histories"):
        tree = ast.parse((Path(__file__).parents[1] / "scoring" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for module in modules:
                    assert module.split(".")[0] in allowed, f"scoring/{name}.py imports {module}"
        assert "now()" not in (Path(__file__).parents[1] / "scoring" / f"{name}.py").read_text()
