"""Evaluation figures: AUROC, escalation and escape rates, the risk-coverage curve."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.evaluation import auroc, escalation_rate, escape_rate, evaluate, risk_coverage, unreviewed_escape_rate
from scoring.models import Assessment, Route


def assessment(score: float, route: Route = Route.ESCALATE, *, audit: bool = False) -> Assessment:
    return Assessment(
        proposal_id="p", score=score, route=route, level="on_uncertainty", policy_version="v", audit=audit
    )


@pytest.mark.parametrize(
    ("scores", "bad", "expected"),
    [
        ([0.9, 0.8, 0.2, 0.1], [False, False, True, True], 1.0),
        ([0.1, 0.2, 0.8, 0.9], [False, False, True, True], 0.0),
        ([0.5, 0.5, 0.5], [False, True, True], 0.5),
        ([0.9, 0.3, 0.6, 0.3], [False, True, False, False], 5 / 6),
        ([0.9, 0.8], [False, False], None),
        ([], [], None),
    ],
)
def test_auroc_is_the_chance_a_good_action_outscores_a_bad_one(
    scores: list[float], bad: list[bool], expected: float | None
) -> None:
    """Perfect, inverted, tied and one-class cases."""
    assert auroc(scores, bad) == (None if expected is None else pytest.approx(expected))


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=40))
def test_auroc_matches_counting_every_pair(rows: list[tuple[float, bool]]) -> None:
    """The rank formula equals the definition over all good/bad pairs, ties counting half."""
    scores, bad = [s for s, _ in rows], [b for _, b in rows]
    good_scores, bad_scores = [s for s, b in rows if not b], [s for s, b in rows if b]
    found = auroc(scores, bad)
    if not good_scores or not bad_scores:
        assert found is None
        return
    wins = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g in good_scores for b in bad_scores)
    assert found == pytest.approx(wins / (len(good_scores) * len(bad_scores)))


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=40))
def test_coverage_never_grows_with_the_threshold(rows: list[tuple[float, bool]]) -> None:
    """A higher threshold never covers more actions; risk is a share or None when nothing is covered."""
    points = risk_coverage([s for s, _ in rows], [b for _, b in rows])
    coverages = [p.coverage for p in points]
    assert coverages == sorted(coverages, reverse=True)
    assert all((p.risk is None) == (p.coverage == 0) for p in points)
    assert all(p.risk is None or 0 <= p.risk <= 1 for p in points)


def test_risk_coverage_at_chosen_thresholds() -> None:
    """Coverage counts scores at or above the threshold; risk is the bad share among them."""
    points = risk_coverage([0.9, 0.7, 0.4], [False, True, False], thresholds=[0.0, 0.5, 0.95])
    assert [(p.coverage, p.risk) for p in points] == [
        (1.0, pytest.approx(1 / 3)),
        (pytest.approx(2 / 3), 0.5),
        (0.0, None),
    ]


def test_escape_rates_count_bad_actions_that_would_run() -> None:
    """review_after runs before review; auto runs unreviewed unless audited."""
    items = [
        assessment(0.9, Route.AUTO),
        assessment(0.9, Route.AUTO, audit=True),
        assessment(0.5, Route.REVIEW_AFTER),
        assessment(0.1, Route.ESCALATE),
        assessment(0.95, Route.AUTO),
    ]
    bad = [True, True, True, True, False]
    assert escalation_rate(items) == pytest.approx(0.2)
    assert escape_rate(items, bad) == pytest.approx(0.75)
    assert unreviewed_escape_rate(items, bad) == pytest.approx(0.25)
    assert escape_rate(items, [False] * 5) is None


def test_evaluate_breaks_figures_down_by_category() -> None:
    """The report has overall figures and one row per category."""
    report = evaluate(
        [assessment(0.9, Route.AUTO), assessment(0.2), assessment(0.8, Route.REVIEW_AFTER)],
        [False, True, True],
        ["email", "email", "tag"],
    )
    assert (report.total, report.bad, report.auroc) == (3, 2, 1.0)
    assert report.by_category == {
        "email": {"total": 2, "bad": 1, "escalation_rate": 0.5, "escape_rate": 0.0},
        "tag": {"total": 1, "bad": 1, "escalation_rate": 0.0, "escape_rate": 1.0},
    }
