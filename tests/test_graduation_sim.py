"""The guarantees of docs/graduation.md, checked on simulated histories replayed through `scoring.histories`.

Each test draws its histories from a fixed seed (numpy) and replays them with the code that
`handoff graduate --histories` and the worker run. `python bench/sim_graduation.py` prints the full table.
"""

from __future__ import annotations

import statistics

import numpy as np

from scoring.histories import Day, Replayed, replay
from scoring.policy import Category, GraduationPolicy, Level

RULES = GraduationPolicy()


def simulate(rates: list[float], *, level: Level, count: int, seed: int, per_day: int = 20) -> list[Replayed]:
    """`count` histories with the override rate of day d at `rates[d]`, replayed from `level`."""
    drawn = np.random.default_rng(seed).binomial(per_day, np.asarray(rates)[None, :], size=(count, len(rates)))
    category = Category(level=level)
    return [
        replay(
            "h", [Day("h", d, per_day, int(k)) for d, k in enumerate(row)], category=category, level=level, rules=RULES
        )
        for row in drawn
    ]


def test_a_category_at_the_bad_rate_rarely_graduates() -> None:
    """At the stated bad rate (2%), at most 5% of 1,000 90-day histories at 20 reviews a day graduate."""
    results = simulate([RULES.bad_rate] * 90, level=Level.ON_UNCERTAINTY, count=1000, seed=161)
    assert sum(r.promoted_day is not None for r in results) <= 50


def test_a_clean_category_graduates_within_230_reviews() -> None:
    """At 0.2%, all graduate within 45 days: a median of at most 230 labelled reviews, p90 at most 450."""
    results = simulate([0.002] * 45, level=Level.ON_UNCERTAINTY, count=1000, seed=162)
    reviews = [r.promoted_after_reviews for r in results if r.promoted_after_reviews is not None]
    assert len(reviews) >= 990
    assert statistics.median(reviews) <= 230
    assert statistics.quantiles(reviews, n=10)[-1] <= 450


def test_a_category_at_the_tolerated_rate_is_rarely_demoted() -> None:
    """At the tolerated rate (1%), at most 5% of autonomous categories are demoted within 120 days."""
    results = simulate([RULES.tolerated] * 120, level=Level.AUTONOMOUS, count=1000, seed=163)
    assert sum(r.demoted_day is not None for r in results) <= 50


def test_a_jump_to_5_percent_is_demoted_within_a_week() -> None:
    """A jump from 0.2% to 5% on day 30 demotes within a median of 7 days, at autonomous and review_after."""
    for level, seed in ((Level.AUTONOMOUS, 164), (Level.REVIEW_AFTER, 165)):
        results = simulate([0.002] * 30 + [0.05] * 30, level=level, count=500, seed=seed)
        delays = [r.demoted_day - 29 for r in results if r.demoted_day is not None and r.demoted_day >= 30]
        assert len(delays) >= 490, level
        assert statistics.median(delays) <= 7, level
