"""Small, exact statistics for override rates: bounds, binomial tails, quantiles, drift.

Everything here is pure arithmetic on counts, so the report, graduation and tuning share one
definition of "the 95% upper bound" and of "how many more reviews would certify this".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

_Z_CACHE: dict[float, float] = {}


def normal_quantile(p: float) -> float:
    """The standard normal quantile (inverse CDF) of `p` in (0, 1), by bisection on `erf`."""
    if not 0 < p < 1:
        raise ValueError(f"p is {p}; expected a probability strictly between 0 and 1")
    if p in _Z_CACHE:
        return _Z_CACHE[p]
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            low = mid
        else:
            high = mid
    _Z_CACHE[p] = (low + high) / 2
    return _Z_CACHE[p]


def wilson_bounds(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """One-sided Wilson score bounds (lower, upper) on a rate of `k` events in `n` trials.

    Each bound holds alone at `confidence` (a one-sided bound: "the rate is at most `upper`").
    With no trials the bounds are (0, 1).
    """
    _check_counts(k, n)
    if n == 0:
        return 0.0, 1.0
    z = normal_quantile(confidence)
    phat = k / n
    denominator = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denominator
    spread = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def wilson_upper(k: int, n: int, *, confidence: float = 0.95) -> float:
    """The one-sided upper confidence bound on a rate of `k` events in `n` trials."""
    return wilson_bounds(k, n, confidence=confidence)[1]


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def sprt_log_evidence(k: int, n: int, *, null: float, alternative: float) -> float:
    """Log likelihood ratio of rate `alternative` against `null` after `k` events in `n` trials.

    When the true rate is `null` or above and `alternative < null`, its exponential is a nonnegative
    supermartingale: by Ville's inequality it ever reaches 1/alpha with probability at most alpha,
    however often it is checked (an anytime-valid sequential test).
    """
    _check_counts(k, n)
    return k * math.log(alternative / null) + (n - k) * (math.log1p(-alternative) - math.log1p(-null))


def quantile_from_histogram(histogram: Mapping[float, int], q: float) -> float | None:
    """The `q`-quantile of values given as {value: count} (lower value at ties); None when empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def population_stability(reference: Mapping[str, int], recent: Mapping[str, int]) -> float:
    """Population stability index between two bucketed distributions (0: identical; > 0.25: shifted).

    Buckets missing on one side count as half an observation, so the index stays finite.
    """
    buckets = set(reference) | set(recent)
    ref_total = sum(reference.values()) + 0.5 * len(buckets)
    new_total = sum(recent.values()) + 0.5 * len(buckets)
    index = 0.0
    for bucket in buckets:
        a = (reference.get(bucket, 0) + 0.5) / ref_total
        b = (recent.get(bucket, 0) + 0.5) / new_total
        index += (b - a) * math.log(b / a)
    return index


def _check_counts(k: int, n: int) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"counts are {k} of {n}; expected 0 <= k <= n")
