"""Graduation: whether a category has earned one more level of autonomy, or must give one back.

Pure: the shell counts the evidence in the ledger and passes it in with `now`. A promotion needs an
anytime-valid sequential test on the override rate (so checking every day does not inflate the
error), a floor of labelled reviews, a minimum calendar time at the current level, a further stage
at `review_after` before autonomy, and no drift in the inputs. A confident regression demotes.
`never_graduate` categories never move. docs/graduation.md explains each rule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from scoring.policy import Category, GraduationPolicy, Level
from scoring.stats import sprt_log_evidence, wilson_bounds, wilson_upper


class State(StrEnum):
    """Where a category stands on its way to autonomy."""

    NEVER = "never_graduate"
    DISABLED = "disabled"
    AUTONOMOUS = "autonomous"
    COLLECTING = "collecting"
    REVIEW_AFTER_STAGE = "review_after_stage"
    DRIFTING = "drifting"
    ELIGIBLE = "eligible"
    REGRESSED = "regressed"


class Recommendation(StrEnum):
    PROMOTE = "promote"
    DEMOTE = "demote"
    HOLD = "hold"


@dataclass(frozen=True)
class Evidence:
    """A category's record since its current level began (`since`; None: since its first proposal).

    `samples` are labelled reviews (human decisions other than timeouts, review-after and audited
    actions); `overrides` are those a human changed or flagged. `recent_*` cover the demotion window;
    `drift` is the population stability index of recent inputs against the reference window.
    """

    samples: int = 0
    overrides: int = 0
    since: datetime | None = None
    first_sample_at: datetime | None = None
    recent_samples: int = 0
    recent_overrides: int = 0
    drift: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What graduation says about one category now, and why."""

    category: str
    level: Level
    state: State
    recommendation: Recommendation
    target: Level | None
    reason: str
    evidence: float
    upper_bound: float

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        data = asdict(self)
        data.update(level=self.level.value, state=self.state.value, recommendation=self.recommendation.value)
        data["target"] = self.target.value if self.target else None
        data["evidence"] = round(self.evidence, 4)
        data["upper_bound"] = round(self.upper_bound, 6)
        return data


def looser(level: Level) -> Level | None:
    """The next level with more autonomy, or None at autonomous."""
    return list(Level)[level.strictness - 1] if level.strictness > 0 else None


def stricter(level: Level) -> Level | None:
    """The next level with less autonomy, or None at approve_before."""
    levels = list(Level)
    return levels[level.strictness + 1] if level.strictness < len(levels) - 1 else None


def evaluate(
    name: str, category: Category, level: Level, evidence: Evidence, rules: GraduationPolicy, *, now: datetime
) -> Verdict:
    """The graduation verdict for category `name`, currently at `level`, given its `evidence` at `now`."""
    alpha = 1 - rules.confidence
    log_e = sprt_log_evidence(
        evidence.overrides, evidence.samples, null=rules.target_override_rate, alternative=rules.alternative
    )
    upper = wilson_upper(evidence.overrides, evidence.samples, confidence=rules.confidence)

    def verdict(state: State, recommendation: Recommendation, target: Level | None, reason: str) -> Verdict:
        return Verdict(name, level, state, recommendation, target, reason, math.exp(min(log_e, 700.0)), upper)

    if category.never_graduate:
        return verdict(
            State.NEVER, Recommendation.HOLD, None, "stays at approve_before: the policy marks it never_graduate"
        )
    if not rules.enabled:
        return verdict(State.DISABLED, Recommendation.HOLD, None, "graduation is disabled in the policy")
    regression = _regression(evidence, rules)
    if regression and stricter(level) is not None:
        return verdict(State.REGRESSED, Recommendation.DEMOTE, stricter(level), regression)
    target = looser(level)
    if target is None:
        return verdict(State.AUTONOMOUS, Recommendation.HOLD, None, "autonomous; audits keep sampling its actions")
    missing = _unmet(evidence, rules, log_e=log_e, alpha=alpha, now=now)
    if missing:
        return verdict(State.COLLECTING, Recommendation.HOLD, target, "; ".join(missing))
    if level is Level.REVIEW_AFTER and evidence.samples < rules.review_after_samples:
        reason = f"review_after stage: {evidence.samples} of {rules.review_after_samples} reviews before autonomy"
        return verdict(State.REVIEW_AFTER_STAGE, Recommendation.HOLD, target, reason)
    if evidence.drift is not None and evidence.drift > rules.max_drift:
        reason = f"inputs drifted: stability index {evidence.drift:.2f} above {rules.max_drift:g}"
        return verdict(State.DRIFTING, Recommendation.HOLD, target, reason)
    reason = (
        f"{evidence.overrides} overrides in {evidence.samples} reviews; sequential test passed "
        f"(evidence {_evidence(log_e)} ≥ {1 / alpha:.0f}); upper bound {upper:.2%} "
        f"vs target {rules.target_override_rate:.2%}"
    )
    return verdict(State.ELIGIBLE, Recommendation.PROMOTE, target, reason)


def _unmet(evidence: Evidence, rules: GraduationPolicy, *, log_e: float, alpha: float, now: datetime) -> list[str]:
    """The promotion conditions not met yet, each said in words."""
    missing = []
    if evidence.samples < rules.min_samples:
        missing.append(f"{evidence.samples} of {rules.min_samples} labelled reviews")
    if log_e < math.log(1 / alpha):
        missing.append(
            f"sequential test not passed: {evidence.overrides} overrides in {evidence.samples} reviews "
            f"(evidence {_evidence(log_e)}, needs {1 / alpha:.0f})"
        )
    start = evidence.since or evidence.first_sample_at
    days = (now - start).total_seconds() / 86400 if start else 0.0
    if days < rules.min_days:
        missing.append(f"{days:.1f} of {rules.min_days:g} days at this level")
    return missing


def _regression(evidence: Evidence, rules: GraduationPolicy) -> str | None:
    """Why the recent override rate is confidently above target, or None when it is not."""
    lower, _ = wilson_bounds(evidence.recent_overrides, evidence.recent_samples, confidence=rules.confidence)
    if lower <= rules.target_override_rate:
        return None
    return (
        f"override rate regressed: {evidence.recent_overrides} of {evidence.recent_samples} in the last "
        f"{rules.demote_window_days} days; lower bound {lower:.2%} above target {rules.target_override_rate:.2%}"
    )


def _evidence(log_e: float) -> str:
    """The likelihood ratio in words: a number while it is readable, a power of ten beyond."""
    return f"{math.exp(log_e):.3g}" if log_e < 46 else f"10^{log_e / math.log(10):.0f}"
