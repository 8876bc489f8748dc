"""Learn-then-test: the loosest threshold the logged labels certify for a target escape rate.

An escape is a bad action (a human overrode or flagged it) that would have run before review at a
threshold: no hard signal fired and its score is at or above it. The target is P(escape | bad), the
share of bad actions that run before review; `handoff eval`'s "risk" is a different figure,
P(bad | runs unreviewed). For each threshold, from strict to loose, the null hypothesis "the escape
rate among bad actions exceeds the target" is tested with an exact binomial tail; fixed-sequence
testing stops at the first threshold it cannot reject, so the certified threshold holds with the
requested confidence without any correction for the grid.

Labels are not a uniform sample: every escalation is decided, but of the actions that ran before
review only the audited and answered ones are labelled, and those are the high-score ones. So the
escapes among actions that ran are not counted from the labels alone: the labelled ones are a random
sample of all of them (whose scores are stored), and an exact hypergeometric upper confidence bound
on how many of all of them escape enters the test (half the error budget goes to that bound). Each
labelled row thereby stands for the unlabelled ones it was drawn with, and the guarantee holds on the
labels the ledger actually collects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scoring.stats import binomial_cdf, hypergeometric_upper

GRID = tuple(round(1 - step / 100, 2) for step in range(101))


@dataclass(frozen=True)
class Example:
    """One action: its stored score, whether a hard signal fired, whether a human said bad.

    `stratum` names a group of actions that ran before review of which only a random share is
    labelled (e.g. "audit": audited and answered; "review_after": answered); empty for actions that
    are all labelled. `labelled` is False for those nobody labelled, whose `bad` is unknown and unused.
    """

    score: float
    bad: bool
    hard: bool = False
    stratum: str = ""
    labelled: bool = True


@dataclass(frozen=True)
class Certification:
    """The outcome of `certify`: a threshold, or how many more labelled reviews would make one."""

    threshold: float | None
    labelled: int
    bad: int
    escapes: int
    p_value: float | None
    more_reviews: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


GUIDE_POWER = 0.8  # the "more reviews" figure certifies with about this chance if the escape rate holds


def certify(examples: Sequence[Example], *, target: float, confidence: float) -> Certification:
    """The loosest threshold whose escape rate is at most `target` with probability `confidence`."""
    if not 0 < target < 1 or not 0 < confidence < 1:
        raise ValueError(f"target {target} and confidence {confidence} must both be between 0 and 1")
    delta = 1 - confidence
    strata = _Strata.of(examples)
    test_delta = delta / 2 if strata.samples else delta
    certified: tuple[float, int, int, float] | None = None
    strictest = strata.counts(GRID[0], delta=delta - test_delta)
    for threshold in GRID:
        escapes, n = strata.counts(threshold, delta=delta - test_delta)
        p_value = binomial_cdf(escapes, n, target) if n else 1.0
        if p_value > test_delta:
            break
        certified = (threshold, escapes, n, p_value)
    labelled = [e for e in examples if e.labelled]
    if certified is not None:
        threshold, escapes, n, p_value = certified
        reason = (
            f"threshold {threshold:.2f}: {escapes} of {n} bad actions would have escaped (counting a bound "
            f"for unlabelled actions that ran); the escape rate (the share of bad actions that run before "
            f"review) is at most {target:.2%} with {confidence:.0%} confidence (p = {p_value:.3g})"
        )
        return Certification(threshold, len(labelled), sum(e.bad for e in labelled), escapes, p_value, None, reason)
    return _not_yet(labelled, *strictest, target=target, delta=test_delta)


@dataclass(frozen=True)
class _Sample:
    """Sorted scores of one sampled stratum: all its actions, the labelled ones, the labelled bad ones."""

    everyone: list[float]
    labelled: list[float]
    bad: list[float]

    def bound(self, threshold: float, *, delta: float) -> int:
        """An upper bound on how many of this stratum's actions at or above `threshold` are bad."""
        population = _at_or_above(self.everyone, threshold)
        if not population:
            return 0
        drawn, seen = _at_or_above(self.labelled, threshold), _at_or_above(self.bad, threshold)
        return hypergeometric_upper(seen, population, drawn, delta=delta)


@dataclass(frozen=True)
class _Strata:
    """The bad fully labelled actions' scores, and each sampled stratum."""

    full_bad: list[float]
    n_full: int
    samples: list[_Sample]

    @classmethod
    def of(cls, examples: Sequence[Example]) -> _Strata:
        full = [e for e in examples if not e.stratum and e.labelled]
        names = sorted({e.stratum for e in examples if e.stratum})
        samples = []
        for name in names:
            members = [e for e in examples if e.stratum == name and not e.hard]  # a fired hard signal never escapes
            samples.append(
                _Sample(
                    everyone=sorted(e.score for e in members),
                    labelled=sorted(e.score for e in members if e.labelled),
                    bad=sorted(e.score for e in members if e.labelled and e.bad),
                )
            )
        return cls(sorted(e.score for e in full if e.bad and not e.hard), sum(e.bad for e in full), samples)

    def counts(self, threshold: float, *, delta: float) -> tuple[int, int]:
        """(escapes, bad) for the test at `threshold`: exact where all are labelled, a bound where sampled.

        Counting the bounds as escapes among the bad only raises the tested rate, so the test stays valid.
        """
        share = delta / len(self.samples) if self.samples else delta
        bound = sum(sample.bound(threshold, delta=share) for sample in self.samples)
        return _at_or_above(self.full_bad, threshold) + bound, self.n_full + bound


def bad_needed(escapes: int, n: int, *, target: float, delta: float, power: float = GUIDE_POWER) -> int | None:
    """The fewest bad examples that certify with chance `power` if the escape rate stays escapes / n.

    A guide, not a promise: the true rate may differ from the observed one. None if the rate is too high.
    """
    rate = escapes / n if n else 0.0
    if rate >= target:
        return None

    def certifies(m: int) -> bool:
        return binomial_cdf(_most_escapes(m, target=target, delta=delta), m, rate) >= power

    low, high = max(n, 1), max(n, 1)
    while not certifies(high):
        low, high = high, high * 2
        if high > 10_000_000:
            return None
    while low < high:  # the smallest m that certifies, between the last failure and the first success
        mid = (low + high) // 2
        low, high = (low, mid) if certifies(mid) else (mid + 1, high)
    return high


def _most_escapes(m: int, *, target: float, delta: float) -> int:
    """The most escapes among `m` bad examples that still certify (-1 when none do)."""
    low, high = -1, m
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if binomial_cdf(mid, m, target) <= delta else (low, mid - 1)
    return low


def _not_yet(examples: Sequence[Example], strictest: int, n: int, *, target: float, delta: float) -> Certification:
    needed = bad_needed(strictest, n, target=target, delta=delta)
    bad_total = sum(e.bad for e in examples)
    if needed is None:
        reason = (
            f"not certifiable: {strictest} of {n} bad actions escape even at threshold 1.00, above the "
            f"target {target:.2%}; only escalating more (a hard check, a stricter level) can meet it"
        )
        return Certification(None, len(examples), bad_total, strictest, None, None, reason)
    share = (bad_total + 1) / (len(examples) + 2)  # rule of succession: the bad share of future reviews
    more = max(1, math.ceil((needed - n) / share))
    reason = (
        f"not certifiable yet: about {more} more labelled reviews needed, as a guide ({needed} bad examples "
        f"would certify with about {GUIDE_POWER:.0%} chance if the escape rate stays as observed; {n} counted; "
        f"{share:.1%} of reviews are bad)"
    )
    return Certification(None, len(examples), bad_total, strictest, None, more, reason)


def _at_or_above(sorted_scores: Sequence[float], threshold: float) -> int:
    return len(sorted_scores) - _below(sorted_scores, threshold)


def _below(sorted_scores: Sequence[float], threshold: float) -> int:
    """How many scores are strictly below `threshold` (binary search on a sorted list)."""
    low, high = 0, len(sorted_scores)
    while low < high:
        mid = (low + high) // 2
        if sorted_scores[mid] < threshold:
            low = mid + 1
        else:
            high = mid
    return low
