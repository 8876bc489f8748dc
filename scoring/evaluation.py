"""How well the score separates good actions from bad ones: AUROC, escalation, escapes, risk-coverage.

Pure functions over (assessment, is_bad) pairs; `handoff eval` prints them for a labelled file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scoring.models import Assessment, Route

THRESHOLDS = tuple(round(i / 20, 2) for i in range(21))


@dataclass(frozen=True)
class CoveragePoint:
    """At one threshold: the share of actions that would run unreviewed, and the share of those that are bad.

    `risk` is P(bad | runs unreviewed); `handoff tune`'s target is a different figure, P(escape | bad).
    """

    threshold: float
    coverage: float
    risk: float | None


@dataclass(frozen=True)
class Report:
    """The evaluation of a labelled set under one policy."""

    total: int
    bad: int
    escalation_rate: float
    escape_rate: float | None
    unreviewed_escape_rate: float | None
    auroc: float | None
    risk_coverage: list[CoveragePoint] = field(default_factory=list)
    by_category: dict[str, dict[str, float | int | None]] = field(default_factory=dict)


def auroc(scores: Sequence[float], bad: Sequence[bool]) -> float | None:
    """The chance a good action scores above a bad one (ties count half); None without both kinds."""
    good_scores = [s for s, b in zip(scores, bad, strict=True) if not b]
    bad_scores = [s for s, b in zip(scores, bad, strict=True) if b]
    if not good_scores or not bad_scores:
        return None
    ranks = _mid_ranks(list(scores))
    good_rank_sum = sum(r for r, b in zip(ranks, bad, strict=True) if not b)
    n_good, n_bad = len(good_scores), len(bad_scores)
    return (good_rank_sum - n_good * (n_good + 1) / 2) / (n_good * n_bad)


def risk_coverage(
    scores: Sequence[float], bad: Sequence[bool], thresholds: Sequence[float] = THRESHOLDS
) -> list[CoveragePoint]:
    """For each threshold, coverage (share with score >= threshold) and risk (share of those that are bad)."""
    points = []
    for threshold in thresholds:
        covered = [b for s, b in zip(scores, bad, strict=True) if s >= threshold]
        coverage = len(covered) / len(scores) if scores else 0.0
        risk = sum(covered) / len(covered) if covered else None
        points.append(CoveragePoint(threshold=threshold, coverage=coverage, risk=risk))
    return points


def escalation_rate(assessments: Sequence[Assessment]) -> float:
    """The share of actions sent to a human before they run."""
    return _share([a.route is Route.ESCALATE for a in assessments])


def escape_rate(assessments: Sequence[Assessment], bad: Sequence[bool]) -> float | None:
    """The share of bad actions that would have run before any human saw them (auto or review_after)."""
    ran = [a.route is not Route.ESCALATE for a, b in zip(assessments, bad, strict=True) if b]
    return _share(ran) if ran else None


def unreviewed_escape_rate(assessments: Sequence[Assessment], bad: Sequence[bool]) -> float | None:
    """The share of bad actions no human would ever see: run automatically and not drawn for audit."""
    unseen = [a.route is Route.AUTO and not a.audit for a, b in zip(assessments, bad, strict=True) if b]
    return _share(unseen) if unseen else None


def evaluate(assessments: Sequence[Assessment], bad: Sequence[bool], categories: Sequence[str]) -> Report:
    """Every figure of `handoff eval`, overall and per category."""
    scores = [a.score for a in assessments]
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(categories):
        groups.setdefault(name, []).append(index)
    by_category: dict[str, dict[str, float | int | None]] = {}
    for name, indexes in sorted(groups.items()):
        subset, labels = [assessments[i] for i in indexes], [bad[i] for i in indexes]
        by_category[name] = {
            "total": len(indexes),
            "bad": sum(labels),
            "escalation_rate": escalation_rate(subset),
            "escape_rate": escape_rate(subset, labels),
        }
    return Report(
        total=len(assessments),
        bad=sum(bad),
        escalation_rate=escalation_rate(assessments),
        escape_rate=escape_rate(assessments, bad),
        unreviewed_escape_rate=unreviewed_escape_rate(assessments, bad),
        auroc=auroc(scores, bad),
        risk_coverage=risk_coverage(scores, bad),
        by_category=by_category,
    )


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _mid_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks
