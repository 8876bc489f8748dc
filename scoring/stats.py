"""Small, exact statistics for override rates: bounds, binomial tails, quantiles, drift.

Everything here is pure arithmetic on counts, so the report, graduation and tuning share one
definition of "the 95% upper bound" and of "how many more reviews would certify this".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

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


def hypergeometric_cdf(k: int, population: int, marked: int, drawn: int) -> float:
    """P(X <= k) when `drawn` items are taken without replacement from `population` holding `marked` ones."""
    if not 0 <= marked <= population or not 0 <= drawn <= population:
        raise ValueError(f"counts {marked} and {drawn} must lie between 0 and the population {population}")
    low, high = max(0, drawn - (population - marked)), min(marked, drawn)
    if k < low:
        return 0.0
    if k >= high:
        return 1.0
    total = _log_choose(population, drawn)
    terms = [_log_choose(marked, i) + _log_choose(population - marked, drawn - i) - total for i in range(low, k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def hypergeometric_upper(seen: int, population: int, drawn: int, *, delta: float) -> int:
    """An upper confidence bound on how many of `population` items are marked, when a uniform sample of
    `drawn` of them holds `seen` marked ones: exceeded with chance at most `delta`."""
    if not 0 <= seen <= drawn <= population or not 0 < delta < 1:
        raise ValueError(f"expected 0 <= seen ({seen}) <= drawn ({drawn}) <= population ({population})")
    low, high = seen, population - (drawn - seen)  # invariant: cdf(low) > delta; answer in [low, high]
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if hypergeometric_cdf(seen, population, mid, drawn) > delta else (low, mid - 1)
    return low


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def cusum_step(statistic: float, reviews: int, overrides: int, *, base: float, alarm: float) -> float:
    """One day of a Bernoulli CUSUM: the log likelihood ratio of rate `alarm` against `base`, floored at 0.

    The statistic is the strongest evidence, over every start day, that the rate rose from `base` to
    `alarm` since then (Page's CUSUM on daily counts).
    """
    _check_counts(overrides, reviews)
    gain = overrides * math.log(alarm / base) + (reviews - overrides) * (math.log1p(-alarm) - math.log1p(-base))
    return max(0.0, statistic + gain)


@lru_cache(maxsize=512)
def cusum_threshold(base: float, alarm: float, per_day: int, days: int, false_alarm: float) -> float:
    """The CUSUM threshold that alarms with chance at most `false_alarm` within `days` at rate `base`.

    Computed exactly (a Markov chain over the statistic, with override steps rounded up, so the
    real chance is lower) for `per_day` reviews every day; daily counts make the chance jump with
    the volume, so it is computed for the volume itself. It never exceeds log(days / false_alarm), a
    bound that holds at any volume (Ville's inequality for each start day, summed over the days).
    """
    ceiling = math.log(days / false_alarm)
    if per_day < 1 or per_day > MAX_EXACT_PER_DAY:
        return ceiling
    low, high = 0.0, ceiling
    for _ in range(12):
        mid = (low + high) / 2
        low, high = (low, mid) if _cusum_false_alarm(mid, base, alarm, per_day, days) <= false_alarm else (mid, high)
    return high


MAX_EXACT_PER_DAY = 500


def _cusum_false_alarm(threshold: float, base: float, alarm: float, per_day: int, days: int) -> float:
    """P(the daily CUSUM reaches `threshold` within `days`) at rate `base`, on a grid that overstates it."""
    unit = math.log1p(-base) - math.log1p(-alarm)  # what one clean review takes off, in nats
    up = math.ceil(math.log(alarm / base) / unit)  # what one override adds, rounded up to whole units
    top = max(1, math.ceil(threshold / unit))
    pmf = _binomial_pmf(per_day, base)
    tail = max(0.0, 1.0 - sum(pmf))  # override counts beyond the table are counted as alarms
    mass, alarmed = [1.0] + [0.0] * (top - 1), 0.0
    for _ in range(days):
        new = [0.0] * top
        for k, p in enumerate(pmf):
            shift = k * up - (per_day - k)
            if shift >= 0:
                keep = max(0, top - shift)
                alarmed += p * sum(mass[keep:])
                new[shift:] = [a + p * b for a, b in zip(new[shift:], mass[:keep], strict=True)]
            else:
                new[0] += p * sum(mass[: 1 - shift])
                rest = mass[1 - shift :]
                new[1 : 1 + len(rest)] = [a + p * b for a, b in zip(new[1 : 1 + len(rest)], rest, strict=True)]
        alarmed += tail * sum(mass)
        mass = new
    return min(1.0, alarmed)


def _binomial_pmf(n: int, p: float) -> list[float]:
    """P(X = k) for X ~ Binomial(n, p), for k up to where the rest is below 1e-13."""
    log_p, log_q = math.log(p), math.log1p(-p)
    out, total = [], 0.0
    for k in range(n + 1):
        term = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
        out.append(term)
        total += term
        if k > n * p and 1 - total < 1e-13:
            break
    return out


def raised_audit_rate(base: float, *, auto_per_day: float, audits_per_day: float) -> float:
    """The audit rate that draws about `audits_per_day` of `auto_per_day` actions, never below `base` nor above 1."""
    if auto_per_day <= 0:
        return base
    return max(base, min(1.0, audits_per_day / auto_per_day))


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
