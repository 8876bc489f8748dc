"""Graduation: whether a category has earned one more level of autonomy, or must give one back.

Pure: the shell counts the evidence in the ledger and passes it in. A promotion needs a sequential
test derived from the policy's guarantee (a category at `bad_rate` graduates with chance at most
`false_graduation`, however often it is checked), a floor of labelled reviews, a number of days with
labelled reviews, a longer stage at `review_after` before autonomy, and no drift in the inputs. A
CUSUM change detector over the labels of actions that ran before review demotes, with a stated
false-alarm rate. `never_graduate` categories never move. docs/graduation.md explains each rule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from scoring.policy import Category, GraduationPolicy, Level
from scoring.stats import cusum_step, cusum_threshold, sprt_log_evidence, wilson_upper


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
class Watch:
    """The demotion detector's state: its CUSUM statistic and the labelled days and reviews it has seen."""

    statistic: float = 0.0
    days: int = 0
    reviews: int = 0

    def add(self, reviews: int, overrides: int, rules: GraduationPolicy) -> Watch:
        """The detector after one more day with `reviews` labelled reviews, `overrides` of them overrides."""
        if reviews == 0:
            return self
        statistic = cusum_step(self.statistic, reviews, overrides, base=rules.tolerated, alarm=rules.alarm)
        return Watch(statistic, self.days + 1, self.reviews + reviews)

    def threshold(self, rules: GraduationPolicy) -> float:
        """The statistic that demotes: calibrated for this category's labelled reviews per day with data."""
        per_day = round(self.reviews / self.days) if self.days else 1
        return cusum_threshold(rules.tolerated, rules.alarm, per_day, rules.false_demotion_days, rules.false_demotion)


@dataclass(frozen=True)
class Evidence:
    """A category's record: for promotion since its last promotion, for demotion since its level began.

    `samples` are labelled reviews (a person decided, confirmed or flagged the action); `overrides`
    are those a person changed or flagged; `active_days` are days with at least one labelled review.
    `unreviewed` actions ran before review and nobody labelled them: they are reported, never counted.
    `watch` is the demotion detector over labelled actions that ran before review; `drift` is the
    population stability index of recent inputs against the reference window.
    """

    samples: int = 0
    overrides: int = 0
    active_days: int = 0
    unreviewed: int = 0
    watch: Watch = field(default_factory=Watch)
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


_LEVELS = tuple(Level)
_LOOSER = {level: _LEVELS[i - 1] if i > 0 else None for i, level in enumerate(_LEVELS)}
_STRICTER = {level: _LEVELS[i + 1] if i + 1 < len(_LEVELS) else None for i, level in enumerate(_LEVELS)}


def looser(level: Level) -> Level | None:
    """The next level with more autonomy, or None at autonomous."""
    return _LOOSER[level]


def stricter(level: Level) -> Level | None:
    """The next level with less autonomy, or None at approve_before."""
    return _STRICTER[level]


def promotion_log_evidence(evidence: Evidence, rules: GraduationPolicy) -> float:
    """Log likelihood ratio of `good_rate` against `bad_rate` for the labelled reviews at this level."""
    return sprt_log_evidence(evidence.overrides, evidence.samples, null=rules.bad_rate, alternative=rules.good)


def evaluate(name: str, category: Category, level: Level, evidence: Evidence, rules: GraduationPolicy) -> Verdict:
    """The graduation verdict for category `name`, currently at `level`, given its `evidence`."""
    log_e = promotion_log_evidence(evidence, rules)

    def verdict(state: State, recommendation: Recommendation, target: Level | None, reason: str) -> Verdict:
        upper = wilson_upper(evidence.overrides, evidence.samples, confidence=1 - rules.false_graduation)
        return Verdict(name, level, state, recommendation, target, reason, math.exp(min(log_e, 700.0)), upper)

    if category.never_graduate:
        return verdict(
            State.NEVER, Recommendation.HOLD, None, "stays at approve_before: the policy marks it never_graduate"
        )
    if not rules.enabled:
        return verdict(State.DISABLED, Recommendation.HOLD, None, "graduation is disabled in the policy")
    regression = _regression(evidence.watch, rules)
    if regression:
        demote_to = stricter(level)
        if demote_to is None:
            return verdict(State.REGRESSED, Recommendation.HOLD, None, f"{regression}; already at approve_before")
        return verdict(State.REGRESSED, Recommendation.DEMOTE, demote_to, regression)
    target = looser(level)
    if target is None:
        return verdict(State.AUTONOMOUS, Recommendation.HOLD, None, "autonomous; audits keep sampling its actions")
    missing = _unmet(evidence, rules, log_e=log_e)
    if missing:
        return verdict(State.COLLECTING, Recommendation.HOLD, target, "; ".join(missing) + _unlabelled(evidence))
    if level is Level.REVIEW_AFTER and evidence.samples < rules.review_after_samples:
        reason = f"review_after stage: {evidence.samples} of {rules.review_after_samples} reviews before autonomy"
        return verdict(State.REVIEW_AFTER_STAGE, Recommendation.HOLD, target, reason)
    if evidence.drift is not None and evidence.drift > rules.max_drift:
        reason = f"inputs drifted: stability index {evidence.drift:.2f} above {rules.max_drift:g}"
        return verdict(State.DRIFTING, Recommendation.HOLD, target, reason)
    reason = (
        f"{evidence.overrides} overrides in {evidence.samples} labelled reviews over {evidence.active_days} days; "
        f"sequential test passed (evidence {_evidence(log_e)} ≥ {1 / rules.false_graduation:.0f}): a category "
        f"at {rules.bad_rate:.1%} or worse gets this far with chance at most {rules.false_graduation:.0%}"
    )
    return verdict(State.ELIGIBLE, Recommendation.PROMOTE, target, reason)


def _unmet(evidence: Evidence, rules: GraduationPolicy, *, log_e: float) -> list[str]:
    """The promotion conditions not met yet, each said in words."""
    missing = []
    if evidence.samples < rules.min_samples:
        missing.append(f"{evidence.samples} of {rules.min_samples} labelled reviews")
    if log_e < math.log(1 / rules.false_graduation):
        missing.append(
            f"sequential test not passed: {evidence.overrides} overrides in {evidence.samples} labelled reviews "
            f"(evidence {_evidence(log_e)}, needs {1 / rules.false_graduation:.0f})"
        )
    if evidence.active_days < rules.min_active_days:
        missing.append(f"{evidence.active_days} of {rules.min_active_days} days with labelled reviews")
    return missing


def _regression(watch: Watch, rules: GraduationPolicy) -> str | None:
    """Why the detector says the override rate rose, or None when it does not."""
    if watch.statistic <= 0:
        return None
    threshold = watch.threshold(rules)
    if watch.statistic < threshold:
        return None
    return (
        f"override rate rose: the change detector reached {watch.statistic:.1f} (demotes at {threshold:.1f}) "
        f"over {watch.reviews} labelled reviews of actions that ran before review; at {rules.tolerated:.1%} it "
        f"would do so with chance at most {rules.false_demotion:.0%} in {rules.false_demotion_days} days"
    )


def _unlabelled(evidence: Evidence) -> str:
    if not evidence.unreviewed:
        return ""
    return f" ({evidence.unreviewed} actions ran with nobody saying they looked right; they do not count)"


def _evidence(log_e: float) -> str:
    """The likelihood ratio in words: a number while it is readable, a power of ten beyond."""
    return f"{math.exp(log_e):.3g}" if log_e < 46 else f"10^{log_e / math.log(10):.0f}"
