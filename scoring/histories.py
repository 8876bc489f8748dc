"""Replaying day-by-day histories through graduation: what it would have decided, and when.

`handoff graduate --histories FILE.jsonl` reads lines `{"history": "h1", "day": 0, "reviews": 20,
"overrides": 0}` and replays each history through `scoring.graduation.evaluate`, the function the
worker's graduation calls, applying each promotion or demotion on the day it is recommended.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace

from scoring.graduation import Evidence, Recommendation, Watch, evaluate
from scoring.policy import Category, GraduationPolicy, Level

MAX_DAY = 100_000
MAX_REVIEWS = 10_000_000
MAX_NAME = 200


class HistoryError(ValueError):
    """A history line that cannot be used; the message names the line and the field."""


@dataclass(frozen=True)
class Day:
    """One day of one history: how many labelled reviews, and how many of them were overrides."""

    history: str
    day: int
    reviews: int
    overrides: int


@dataclass(frozen=True)
class Replayed:
    """What graduation decided on one history: the first promotion and the first demotion, if any."""

    history: str
    promoted_day: int | None = None
    promoted_after_reviews: int | None = None
    demoted_day: int | None = None

    def as_dict(self) -> dict[str, str | int | None]:
        """The JSON line `handoff graduate --histories` prints."""
        return asdict(self)


@dataclass
class _Track:
    """A history being replayed: its level and the evidence gathered since that level began."""

    level: Level
    evidence: Evidence = field(default_factory=Evidence)


def parse_day(text: str, *, line: int) -> Day:
    """One history line; raises HistoryError naming the line and the field to fix."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryError(f"line {line}: not valid JSON ({exc.msg}); expected one object per line") from exc
    if not isinstance(data, dict):
        raise HistoryError(f'line {line}: expected an object like {{"history": "h1", "day": 0, ...}}')
    unknown = sorted(set(data) - {"history", "day", "reviews", "overrides"})
    if unknown:
        raise HistoryError(f"line {line}: {unknown[0]}: unknown field; expected history, day, reviews, overrides")
    history = data.get("history")
    if not isinstance(history, str) or not 0 < len(history) <= MAX_NAME:
        raise HistoryError(f"line {line}: history: expected a name of 1 to {MAX_NAME} characters")
    day = _count(data, "day", line, MAX_DAY)
    reviews = _count(data, "reviews", line, MAX_REVIEWS)
    overrides = _count(data, "overrides", line, MAX_REVIEWS)
    if overrides > reviews:
        raise HistoryError(f"line {line}: overrides: {overrides} is more than reviews ({reviews})")
    return Day(history, day, reviews, overrides)


def parse_days(lines: Iterable[str]) -> list[Day]:
    """Every history line of a file (blank lines skipped); a history may not repeat a day."""
    days, seen = [], set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        day = parse_day(text, line=number)
        if (day.history, day.day) in seen:
            raise HistoryError(f"line {number}: day: day {day.day} of history {day.history!r} appears twice")
        seen.add((day.history, day.day))
        days.append(day)
    return days


def replay_all(days: Iterable[Day], *, category: Category, level: Level, rules: GraduationPolicy) -> Iterator[Replayed]:
    """Replay every history in `days`, in the order each history first appears."""
    grouped: dict[str, list[Day]] = {}
    for day in days:
        grouped.setdefault(day.history, []).append(day)
    for name, history in grouped.items():
        yield replay(name, history, category=category, level=level, rules=rules)


def replay(name: str, days: Iterable[Day], *, category: Category, level: Level, rules: GraduationPolicy) -> Replayed:
    """Replay one history from `level`: each day's reviews count for promotion and feed the demotion detector.

    Graduation is evaluated after each day with data (nothing changes on days without); a
    recommended move applies that day, as in the worker: a promotion starts a fresh record, a
    demotion restarts only the detector (the promotion record runs on, so a demotion is no new
    chance to graduate).
    """
    track, result = _Track(level), Replayed(name)
    for day in sorted(days, key=lambda d: d.day):
        track.evidence = _add(track.evidence, day, rules)
        verdict = evaluate(name, category, track.level, track.evidence, rules)
        if verdict.target is None or verdict.recommendation is Recommendation.HOLD:
            continue
        if verdict.recommendation is Recommendation.PROMOTE and result.promoted_day is None:
            result = Replayed(name, day.day, track.evidence.samples, result.demoted_day)
        elif verdict.recommendation is Recommendation.DEMOTE and result.demoted_day is None:
            result = Replayed(name, result.promoted_day, result.promoted_after_reviews, day.day)
        kept = track.evidence if verdict.recommendation is Recommendation.DEMOTE else Evidence()
        track = _Track(verdict.target, replace(kept, watch=Watch()))
        if result.promoted_day is not None and result.demoted_day is not None:
            break  # both answers are in; later days cannot change them
    return result


def _add(evidence: Evidence, day: Day, rules: GraduationPolicy) -> Evidence:
    watch: Watch = evidence.watch.add(day.reviews, day.overrides, rules)
    return Evidence(
        samples=evidence.samples + day.reviews,
        overrides=evidence.overrides + day.overrides,
        active_days=evidence.active_days + (day.reviews > 0),
        watch=watch,
    )


def _count(data: dict[str, object], key: str, line: int, limit: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise HistoryError(f"line {line}: {key}: expected a whole number from 0 to {limit}, got {value!r}")
    return value
