"""Learn-then-test: the loosest threshold the logged labels certify for a target escape rate.

An escape is a bad action (a human overrode or flagged it) that would have run before review at a
threshold: no hard signal fired and its score is at or above it. For each threshold, from strict to
loose, the null hypothesis "the escape rate among bad actions exceeds the target" is tested with an
exact binomial tail; fixed-sequence testing stops at the first threshold it cannot reject, so the
certified threshold holds with the requested confidence without any correction for the grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scoring.stats import binomial_cdf

GRID = tuple(round(1 - step / 100, 2) for step in range(101))


@dataclass(frozen=True)
class Example:
    """One labelled review: the stored score, whether a hard signal fired, whether a human said bad."""

    score: float
    bad: bool
    hard: bool = False


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


def certify(examples: Sequence[Example], *, target: float, confidence: float) -> Certification:
    """The loosest threshold whose escape rate is at most `target` with probability `confidence`."""
    if not 0 < target < 1 or not 0 < confidence < 1:
        raise ValueError(f"target {target} and confidence {confidence} must both be between 0 and 1")
    delta = 1 - confidence
    bad = sorted(e.score for e in examples if e.bad and not e.hard)
    n = sum(e.bad for e in examples)
    certified: tuple[float, int, float] | None = None
    for threshold in GRID:
        escapes = len(bad) - _below(bad, threshold)
        p_value = binomial_cdf(escapes, n, target) if n else 1.0
        if p_value > delta:
            break
        certified = (threshold, escapes, p_value)
    if certified is not None:
        threshold, escapes, p_value = certified
        reason = (
            f"threshold {threshold:.2f}: {escapes} of {n} bad actions would have escaped; the escape rate is "
            f"at most {target:.2%} with {confidence:.0%} confidence (p = {p_value:.3g})"
        )
        return Certification(threshold, len(examples), n, escapes, p_value, None, reason)
    return _not_yet(examples, n, strictest=len(bad) - _below(bad, GRID[0]), target=target, delta=delta)


def bad_needed(escapes: int, n: int, *, target: float, delta: float) -> int | None:
    """The fewest bad examples, at the observed escape rate, that would certify; None if the rate is too high."""
    rate = escapes / n if n else 0.0
    if rate >= target:
        return None

    def certifies(m: int) -> bool:
        return binomial_cdf(math.floor(rate * m), m, target) <= delta

    low, high = max(n, 1), max(n, 1)
    while not certifies(high):
        low, high = high, high * 2
        if high > 10_000_000:
            return None
    while low < high:  # the smallest m that certifies, between the last failure and the first success
        mid = (low + high) // 2
        low, high = (low, mid) if certifies(mid) else (mid + 1, high)
    return high


def _not_yet(examples: Sequence[Example], n: int, *, strictest: int, target: float, delta: float) -> Certification:
    needed = bad_needed(strictest, n, target=target, delta=delta)
    if needed is None:
        reason = (
            f"not certifiable: {strictest} of {n} bad actions escape even at threshold 1.00, above the "
            f"target {target:.2%}; only escalating more (a hard check, a stricter level) can meet it"
        )
        return Certification(None, len(examples), n, strictest, None, None, reason)
    share = (n + 1) / (len(examples) + 2)  # rule of succession: the bad share of future reviews
    more = max(1, math.ceil((needed - n) / share))
    reason = (
        f"not certifiable yet: about {more} more labelled reviews needed "
        f"({needed} bad examples are needed, {n} logged; {share:.1%} of reviews are bad)"
    )
    return Certification(None, len(examples), n, strictest, None, more, reason)


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
