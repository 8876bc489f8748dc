"""Bounds, tails, quantiles and drift: the arithmetic every figure of the report rests on."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.stats import (
    binomial_cdf,
    population_stability,
    quantile_from_histogram,
    sprt_log_evidence,
    wilson_bounds,
    wilson_upper,
)


@pytest.mark.parametrize(
    ("k", "n", "upper"),
    [(0, 0, 1.0), (0, 100, 0.02634), (1, 100, 0.04358), (10, 100, 0.16036), (0, 1000, 0.002698)],
)
def test_wilson_upper_bound_matches_reference_values(k: int, n: int, upper: float) -> None:
    """The one-sided 95% Wilson bound agrees with the closed form worked by hand."""
    assert wilson_upper(k, n) == pytest.approx(upper, rel=1e-3)


@given(st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_bounds_bracket_the_observed_rate(counts: tuple[int, int]) -> None:
    """Lower ≤ k/n ≤ upper, all within [0, 1]."""
    k, n = counts
    lower, upper = wilson_bounds(k, n)
    rate = k / n if n else 0.5
    assert 0 <= lower <= rate + 1e-12 <= upper + 2e-12 <= 1 + 2e-12


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.1), (3, 20, 0.2), (5, 5, 0.5), (2, 30, 0.01), (-1, 4, 0.3)])
def test_binomial_cdf_matches_the_direct_sum(k: int, n: int, p: float) -> None:
    """The log-space tail equals the textbook sum of probabilities."""
    direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k + 1, 0)))
    assert binomial_cdf(k, n, p) == pytest.approx(direct, abs=1e-12)


def test_sequential_evidence_grows_with_clean_reviews_and_falls_with_overrides() -> None:
    """Each clean review adds evidence for a low rate; an override takes much of it away."""
    clean = sprt_log_evidence(0, 500, null=0.01, alternative=0.0025)
    assert clean > sprt_log_evidence(0, 400, null=0.01, alternative=0.0025) > 0
    assert sprt_log_evidence(1, 500, null=0.01, alternative=0.0025) < clean - 1


def test_quantiles_come_from_the_histogram() -> None:
    """Median and p90 of {value: count} are values of the data; empty data has none."""
    histogram = {1.0: 5, 2.0: 4, 10.0: 1}
    assert quantile_from_histogram(histogram, 0.5) == 1.0
    assert quantile_from_histogram(histogram, 0.9) == 2.0
    assert quantile_from_histogram(histogram, 1.0) == 10.0
    assert quantile_from_histogram({}, 0.5) is None


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 1000), min_size=1))
def test_population_stability_is_zero_for_identical_and_positive_for_shifted(counts: dict[str, int]) -> None:
    """The same distribution scores 0; moving mass to a new bucket scores above 0."""
    assert population_stability(counts, counts) == pytest.approx(0, abs=1e-9)
    shifted = {**counts, "z": sum(counts.values())}
    assert population_stability(counts, shifted) > 0.05
