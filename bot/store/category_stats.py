"""One pass over the ledger for `handoff report`: every category's counts, decisions by outcome and
graduation evidence (labelled reviews, the demotion detector's days, input sizes) from a single scan.

The per-category reads in `queries` (`label_counts`, `watched_days`, `size_histogram`) stay the
definition: graduation and routing use them for one category, and a test checks that this scan
agrees with them and with `category_counts` and `decision_mix` on the same ledger. The report calls
this instead, so a ledger of a million proposals is scanned once, not once plus three times per
category. Each category's windows are passed in as a VALUES table, so the scan needs no per-category
statement.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bot.store import queries
from bot.store.engine import Dialect
from bot.store.ledger import Ledger
from bot.store.rows import CategoryCounts, DayCount, LabelCounts, SizeHistogram
from scoring.models import Outcome

_OUTCOMES = tuple(o.value for o in Outcome)


@dataclass(frozen=True)
class Windows:
    """Where a category's graduation evidence starts (ISO times as the ledger stores them; '' = always)."""

    labels_since: str
    watch_since: str
    sizes_start: str
    sizes_split: str


@dataclass
class CategoryScan:
    """What the scan found for one category (the windows' figures stay empty without windows)."""

    counts: CategoryCounts = field(default_factory=CategoryCounts)
    labels: LabelCounts = field(default_factory=lambda: LabelCounts(0, 0, 0, 0))
    watched: list[DayCount] = field(default_factory=list)
    sizes: SizeHistogram = field(default_factory=lambda: SizeHistogram({}, {}))
    decisions: dict[str, int] = field(default_factory=dict)


_IN_LABELS = "(a.proposal_id IS NOT NULL AND p.stored_at >= w.labels_since)"
_WATCHED = f"(p.stored_at >= w.watch_since AND {queries.UNREVIEWED} AND {queries.LABELLED})"
_SIZE_LABELS = (*(f"<{b}" for b in queries.SIZE_BUCKETS), f">={queries.SIZE_BUCKETS[-1]}")
_RECENT = len(_SIZE_LABELS)  # a size's code: its bucket, plus this in the recent window


@lru_cache(maxsize=2)
def _scan_sql(dialect: Dialect) -> str:
    """The scan, in the engine's dialect.

    Grouped by category alone, so SQLite aggregates in the index's order without sorting a million rows.
    The few figures kept per day or per size bucket travel as strings of fixed-width codes, one per row
    concerned: a character per proposal in the size windows, a day and a mark per watched action."""
    if dialect.name == "postgresql":
        return _scan_sql_by_day(dialect)
    count_if, labelled, override = queries.count_if, queries.LABELLED, queries.OVERRIDE
    proposals, size = dialect.sized_proposals()
    day_marks = dialect.concat(
        f"CASE WHEN {_WATCHED} THEN substr(p.stored_at, 1, 10) || (CASE WHEN {override} THEN '1' ELSE '0' END) END"
    )
    size_codes = dialect.concat(f"CASE WHEN p.stored_at >= w.sizes_start THEN {_size_code(dialect, size)} END")
    return f"""
SELECT p.category, {queries.COUNT_COLUMNS},
       {count_if(f"{_IN_LABELS} AND {labelled}")}, {count_if(f"{_IN_LABELS} AND {labelled} AND {override}")},
       {count_if(f"{_IN_LABELS} AND {queries.UNREVIEWED} AND NOT {labelled}")},
       COUNT(DISTINCT CASE WHEN {_IN_LABELS} AND {labelled} THEN substr(p.stored_at, 1, 10) END),
       {day_marks}, {size_codes},
       COUNT(d.proposal_id), {", ".join(count_if(f"d.outcome = '{o}'") for o in _OUTCOMES)}
FROM {proposals} LEFT JOIN w ON w.category = p.category
     {queries.JOINS_ANY_ASSESSMENT.removeprefix("FROM proposals p ")}
GROUP BY p.category
"""  # noqa: S608 - constants only; the windows are bound parameters


def size_index(size: str) -> str:
    """A size's bucket as a number: 0 below the first of `queries.SIZE_BUCKETS`, one more per bucket after."""
    whens = " ".join(f"WHEN {size} < {b} THEN {i}" for i, b in enumerate(queries.SIZE_BUCKETS))
    return f"CASE {whens} ELSE {len(queries.SIZE_BUCKETS)} END"


def day_of(stored_at: str) -> str:
    """The day (YYYY-MM-DD) of an ISO time as the ledger stores it."""
    return f"substr({stored_at}, 1, 10)"


def _size_code(dialect: Dialect, size: str) -> str:
    """A proposal's size as one character: its bucket, shifted past the reference window's in the recent one."""
    recent = f"(CASE WHEN p.stored_at >= w.sizes_split THEN {_RECENT} ELSE 0 END)"
    return dialect.char(f"48 + {recent} + {size_index(size)}")


# What PostgreSQL's planner is told about proposals (`CREATE STATISTICS`, see postgres_migrations): how many
# groups of category, day and size bucket there are, so that it hashes them rather than sorting the join.
GROUPS_STATISTICS = ("category", day_of("stored_at"), size_index("octet_length(body)"))


def _scan_sql_by_day(dialect: Dialect) -> str:
    """The same figures as one row per category, in a form PostgreSQL aggregates without sorting the join.

    A COUNT(DISTINCT) or a string aggregate keeps PostgreSQL from hashing the groups (and from sharing the
    work between parallel workers): it would sort the million joined rows by category, spilling to disk.
    So the join is first summed by category, day and size bucket, sums only (a hash of a few thousand
    groups, which the statistics of GROUPS_STATISTICS let the planner foresee; partial sums in each
    worker); those few rows are then grouped by category, where the days are counted and the codes
    spelled out as SQLite's scan spells them."""
    count_if, labelled, override = queries.count_if, queries.LABELLED, queries.OVERRIDE
    proposals, size = dialect.sized_proposals()
    n = len(CategoryCounts().counts()) + 1  # the counts, then the cost
    counts = [f"c{i}" for i in range(n)]
    outcomes = [f"o{i}" for i in range(len(_OUTCOMES))]
    sums = ", ".join(f"SUM({c})" for c in (*counts, "samples", "overrides", "unreviewed"))
    marks = "repeat(day || '1', watched_overrides::int) || repeat(day || '0', (watched - watched_overrides)::int)"
    codes = f"repeat(chr(48 + bucket), (sized - recent)::int) || repeat(chr({48 + _RECENT} + bucket), recent::int)"
    in_sizes = "p.stored_at >= w.sizes_start"
    return f"""
SELECT category, {sums},
       COUNT(DISTINCT CASE WHEN samples > 0 THEN day END),
       {dialect.concat(f"CASE WHEN watched > 0 THEN {marks} END")},
       {dialect.concat(f"CASE WHEN sized > 0 THEN {codes} END")},
       {", ".join(f"SUM({c})" for c in ("decided", *outcomes))}
FROM (
    SELECT p.category, {day_of("p.stored_at")}, {size_index(size)},
           {queries.COUNT_COLUMNS},
           {count_if(f"{_IN_LABELS} AND {labelled}")}, {count_if(f"{_IN_LABELS} AND {labelled} AND {override}")},
           {count_if(f"{_IN_LABELS} AND {queries.UNREVIEWED} AND NOT {labelled}")},
           {count_if(_WATCHED)}, {count_if(f"{_WATCHED} AND {override}")},
           {count_if(in_sizes)}, {count_if(f"{in_sizes} AND p.stored_at >= w.sizes_split")},
           COUNT(d.proposal_id), {", ".join(count_if(f"d.outcome = '{o}'") for o in _OUTCOMES)}
    FROM {proposals} LEFT JOIN w ON w.category = p.category
         {queries.JOINS_ANY_ASSESSMENT.removeprefix("FROM proposals p ")}
    GROUP BY 1, 2, 3
) AS g(category, day, bucket, {", ".join(counts)}, samples, overrides, unreviewed, watched, watched_overrides,
       sized, recent, decided, {", ".join(outcomes)})
GROUP BY category
"""  # noqa: S608 - constants only; the windows are bound parameters


def scan(ledger: Ledger, windows: Mapping[str, Windows]) -> dict[str, CategoryScan]:
    """Every category with proposals, read in one pass; `windows` per category of the policy."""
    values, params = [], []
    for name, w in windows.items():
        values.append("(?, ?, ?, ?, ?)")
        params += [name, w.labels_since, w.watch_since, w.sizes_start, w.sizes_split]
    if not values:  # a VALUES table needs a row: one no category can match (categories are never NULL)
        values, params = ["(NULL, NULL, NULL, NULL, NULL)"], []
    cte = f"WITH w(category, labels_since, watch_since, sizes_start, sizes_split) AS (VALUES {', '.join(values)})"
    result, unknown_outcomes = {}, False
    for row in ledger.db.execute(cte + _scan_sql(ledger.dialect), params):
        result[row[0]], unknown = _category(row, windowed=row[0] in windows)
        unknown_outcomes = unknown_outcomes or unknown
    if unknown_outcomes:  # an outcome this version does not know: count them the plain way
        for name, mix in queries.decision_mix(ledger).items():
            result[name].decisions = dict(mix)
    return result


def _category(row: Any, *, windowed: bool) -> tuple[CategoryScan, bool]:
    """One category's row as a CategoryScan, and whether its decisions include unknown outcomes."""
    n = len(CategoryCounts().counts())
    numbers = [int(v or 0) for v in row[1 : 1 + n]]
    values = dict(zip(CategoryCounts().counts(), numbers, strict=True))
    counts = CategoryCounts(**values, cost_usd=float(row[1 + n] or 0))
    samples, overrides, unreviewed, active_days, watched, sizes, decided, *known = row[2 + n :]
    decisions = {o: int(k) for o, k in zip(_OUTCOMES, known, strict=True) if k}
    found = CategoryScan(counts=counts, decisions=decisions)
    if windowed:
        found.labels = LabelCounts(int(samples or 0), int(overrides or 0), int(active_days), int(unreviewed or 0))
        found.watched = _days(watched or "")
        found.sizes = _sizes(sizes or "")
    return found, int(decided) != sum(decisions.values())


def _days(codes: str) -> list[DayCount]:
    """'2026-01-0210' style codes (a day, then 1 for an override or 0) as counts per day, oldest first."""
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for at in range(0, len(codes), 11):
        day = per_day[codes[at : at + 10]]
        day[0] += 1
        day[1] += codes[at + 10] == "1"
    return [DayCount(day, n, k) for day, (n, k) in sorted(per_day.items())]


def _sizes(codes: str) -> SizeHistogram:
    """One character per proposal (its bucket, shifted for the recent window) as the two histograms."""
    reference: dict[str, int] = {}
    recent: dict[str, int] = {}
    for char, n in Counter(codes).items():
        code = ord(char) - 48
        histogram = recent if code >= _RECENT else reference
        histogram[_SIZE_LABELS[code % _RECENT]] = n
    return SizeHistogram(reference, recent)
