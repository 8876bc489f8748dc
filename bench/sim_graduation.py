"""Graduation and demotion, simulated: the figures in docs/graduation.md, reproducible by anyone.

Every history is replayed through `scoring.histories.replay`, the code `handoff graduate --histories`
runs (and the worker's `evaluate`). Daily counts are drawn with numpy from a fixed seed.

    python bench/sim_graduation.py                 # 1,000 histories per row, about a minute
    python bench/sim_graduation.py --histories 200 --seed 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.histories import Day, Replayed, replay
from scoring.policy import Category, GraduationPolicy, Level

RULES = GraduationPolicy()


def histories(
    rng: np.random.Generator, rates: Sequence[float], *, count: int, per_day: int
) -> list[list[tuple[int, int]]]:
    """`count` histories of (reviews, overrides) per day, the override rate on day d being `rates[d]`."""
    drawn = rng.binomial(per_day, np.asarray(rates)[None, :], size=(count, len(rates)))
    return [[(per_day, int(k)) for k in row] for row in drawn]


def replayed(days: list[list[tuple[int, int]]], level: Level, rules: GraduationPolicy = RULES) -> list[Replayed]:
    """Each history replayed from `level` through graduation."""
    category = Category(level=level)
    return [
        replay(
            "h", [Day("h", d, n, k) for d, (n, k) in enumerate(history)], category=category, level=level, rules=rules
        )
        for history in days
    ]


def seed_rule(days: list[list[tuple[int, int]]]) -> list[int | None]:
    """The seed's floor rule, checked daily: under 1% over at least 200 reviews in the last 30 days."""
    out: list[int | None] = []
    for history in days:
        found = None
        for day in range(len(history)):
            window = history[max(0, day - 29) : day + 1]
            n, k = sum(r for r, _ in window), sum(o for _, o in window)
            if n >= 200 and k / n < 0.01:
                found = sum(r for r, _ in history[: day + 1])
                break
        out.append(found)
    return out


def quantiles(values: Sequence[float]) -> str:
    if len(values) < 2:
        return "-"
    deciles = statistics.quantiles(values, n=10)
    return f"{statistics.median(values):.0f} (p10 {deciles[0]:.0f}, p90 {deciles[-1]:.0f})"


def promotion_table(rng: np.random.Generator, count: int) -> None:
    print("Promotion from on_uncertainty, 90 days, checked daily")
    print(f"{'reviews/day':>11} {'true rate':>9} {'graduated':>9} {'reviews to graduate':>30} {'seed rule':>9}")
    for per_day in (5, 20, 100):
        for rate in (0.002, 0.005, 0.01, 0.02, 0.03):
            days = histories(rng, [rate] * 90, count=count, per_day=per_day)
            results = replayed(days, Level.ON_UNCERTAINTY)
            reviews = [r.promoted_after_reviews for r in results if r.promoted_after_reviews is not None]
            seed = [s for s in seed_rule(days) if s is not None]
            print(
                f"{per_day:>11} {rate:>9.1%} {len(reviews) / count:>9.1%} {quantiles(reviews):>30}"
                f" {len(seed) / count:>9.1%}"
            )


def demotion_table(rng: np.random.Generator, count: int) -> None:
    print("\nFalse demotion within 120 days (no change in the rate)")
    print(f"{'reviews/day':>11} {'level':>14} {'true rate':>9} {'demoted':>8}")
    for per_day in (5, 20, 100):
        for rate in (0.002, 0.01):
            for level in (Level.AUTONOMOUS, Level.REVIEW_AFTER):
                days = histories(rng, [rate] * 120, count=count, per_day=per_day)
                demoted = sum(r.demoted_day is not None for r in replayed(days, level))
                print(f"{per_day:>11} {level.value:>14} {rate:>9.1%} {demoted / count:>8.1%}")


def jump_table(rng: np.random.Generator, count: int) -> None:
    print("\nDays to demotion after the rate jumps from 0.2% to 5% on day 30 (day 30 counts as day 1)")
    print(f"{'reviews/day':>11} {'level':>14} {'median':>6} {'p90':>5} {'never':>6} {'before':>6}")
    for per_day in (5, 20, 100):
        for level in (Level.AUTONOMOUS, Level.REVIEW_AFTER, Level.ON_UNCERTAINTY):
            days = histories(rng, [0.002] * 30 + [0.05] * 90, count=count, per_day=per_day)
            results = replayed(days, level)
            delays = [r.demoted_day - 29 for r in results if r.demoted_day is not None and r.demoted_day >= 30]
            early = sum(r.demoted_day is not None and r.demoted_day < 30 for r in results)
            never = sum(r.demoted_day is None for r in results)
            deciles = statistics.quantiles(delays, n=10) if len(delays) > 1 else [float("nan")] * 9
            print(
                f"{per_day:>11} {level.value:>14} {statistics.median(delays):>6.0f} {deciles[-1]:>5.0f}"
                f" {never / count:>6.1%} {early / count:>6.1%}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--histories", type=int, default=1000, help="histories per row (default 1000)")
    parser.add_argument("--seed", type=int, default=16, help="random seed (default 16)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(
        f"policy defaults: bad_rate {RULES.bad_rate:.1%}, false_graduation {RULES.false_graduation:.0%}, "
        f"good_rate {RULES.good:.2%}, min_samples {RULES.min_samples}, min_active_days {RULES.min_active_days}, "
        f"tolerated_rate {RULES.tolerated:.1%}, false_demotion {RULES.false_demotion:.0%} in "
        f"{RULES.false_demotion_days} days; {args.histories} histories per row, seed {args.seed}\n"
    )
    promotion_table(rng, args.histories)
    demotion_table(rng, args.histories)
    jump_table(rng, args.histories)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
