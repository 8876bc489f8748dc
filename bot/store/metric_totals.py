"""The ledger's counters for `/metrics`, kept current by reading only what was added since the last scrape.

Every table these counters read is append-only (rows are inserted once and never updated in a column the
counters read, nor deleted): proposals, assessments, decisions, flags, confirmations, cards (a re-post
changes only the message's channel and ts), quarantine and escalation steps. So the ledger as it was at the
last scrape is the ledger restricted to the rows whose rowid was at most that scrape's mark in each table.
A scrape reads, in one read transaction, the new marks and the proposals that any new row touches; each
such proposal's contribution is computed as of the old marks and as of the new ones, with the same SQL
as a full count, and the difference is added. The result is exactly what a full count would say now
(floating sums aside), at the cost of the rows added since, not of the ledger's size.

A full count is made on the first scrape, when the ledger's event log no longer holds the event the last
scrape saw (the file was replaced or restored), and when more proposals changed than a full count costs.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.store import queries
from bot.store.engine import Dialect, Handle
from bot.store.ledger import Ledger
from bot.store.rows import CategoryTotals, WaitBuckets

# Tables whose new rows change a proposal's contribution, each with its proposal column.
_TOUCHING = ("assessments", "decisions", "flags", "confirmations", "cards", "quarantine")
_FULL_COUNT_ABOVE = 20_000  # changed proposals beyond which one full count is cheaper


@dataclass(frozen=True)
class Marks:
    """How far the counters have read: each table's largest rowid and the proposal in that row, the last
    escalation step, and the event log's head."""

    rowids: dict[str, int]
    last_ids: dict[str, str | None]
    steps: int
    posts: int  # the last Slack message counted (`slack_posts`, append-only like the escalation steps)
    event_seq: int
    event_hash: str


@dataclass
class Totals:
    """Everything `/metrics` counts in the ledger."""

    categories: dict[str, list[float]] = field(default_factory=dict)  # CategoryTotals' numbers, then pending
    waits: dict[str, list[float]] = field(default_factory=dict)  # bucket counts, decided, total seconds
    outcomes: Counter[str] = field(default_factory=Counter)
    steps: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    posts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # category -> kind -> n

    @property
    def pending(self) -> int:
        """Escalated proposals with no decision that are not quarantined."""
        return int(sum(numbers[-1] for numbers in self.categories.values()))

    def category_totals(self) -> list[CategoryTotals]:
        """The per-category counters, by category."""
        rows = []
        for name, (esc, over, flags, calls, tokens, cost, _pending) in sorted(self.categories.items()):
            rows.append(CategoryTotals(name, int(esc), int(over), int(flags), int(calls), int(tokens), cost))
        return rows

    def wait_buckets(self) -> list[WaitBuckets]:
        """The time-to-decision histogram per category, by category."""
        return [
            WaitBuckets(name, tuple(int(n) for n in numbers[:-2]), int(numbers[-2]), numbers[-1])
            for name, numbers in sorted(self.waits.items())
        ]


class LedgerTotals:
    """`/metrics`' ledger counters for one ledger, read incrementally; safe to call from several threads."""

    def __init__(self, buckets: tuple[int, ...]) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self._marks: Marks | None = None
        self._totals = Totals()
        self.full_counts = 0  # how many times a full count was needed (for tests and the benchmark)

    def read(self, ledger: Ledger) -> Totals:
        """The counters as the ledger holds them now."""
        with self._lock, ledger.engine.snapshot() as db:  # one snapshot for the marks and every read
            self._advance(db, ledger.dialect)
            return self._totals

    def _advance(self, db: Handle, dialect: Dialect) -> None:
        marks = _marks(db)
        old = self._marks
        if old is None or not _same_history(db, old, marks):
            self._totals, self._marks = self._full(db, dialect, marks), marks
            return
        touched = _touched(db, old)
        if len(touched) > _FULL_COUNT_ABOVE:
            self._totals, self._marks = self._full(db, dialect, marks), marks
            return
        totals = self._totals
        if touched:
            ids = json.dumps(sorted(touched))
            _add(totals.categories, _contributions(db, dialect, marks, ids), sign=1)
            _add(totals.categories, _contributions(db, dialect, old, ids), sign=-1)
            _add(totals.waits, _waits(db, dialect, marks, self.buckets, ids), sign=1)
            _add(totals.waits, _waits(db, dialect, old, self.buckets, ids), sign=-1)
        for outcome, n in db.execute(
            "SELECT outcome, COUNT(*) FROM decisions WHERE rowid > ? GROUP BY 1", [old.rowids["decisions"]]
        ):
            totals.outcomes[outcome] += n
        _add_steps(totals, db, since=old.steps)
        _add_posts(totals, db, since=old.posts)
        self._marks = marks

    def _full(self, db: Handle, dialect: Dialect, marks: Marks) -> Totals:
        self.full_counts += 1
        totals = Totals()
        _add(totals.categories, _contributions(db, dialect, marks, None), sign=1)
        _add(totals.waits, _waits(db, dialect, marks, self.buckets, None), sign=1)
        totals.outcomes.update(dict(db.execute("SELECT outcome, COUNT(*) FROM decisions GROUP BY 1").fetchall()))
        _add_steps(totals, db, since=0)
        _add_posts(totals, db, since=0)
        return totals


def _marks(db: Handle) -> Marks:
    rowids: dict[str, int] = {}
    last_ids: dict[str, str | None] = {}
    for table in _TOUCHING:
        query = f"SELECT rowid, proposal_id FROM {table} ORDER BY rowid DESC LIMIT 1"  # noqa: S608 - constants
        row = db.execute(query).fetchone()
        rowids[table], last_ids[table] = (int(row[0]), str(row[1])) if row else (0, None)
    steps = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM escalation_steps").fetchone()[0])
    posts = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM slack_posts").fetchone()[0])
    head = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return Marks(rowids, last_ids, steps, posts, int(head[0]) if head else 0, str(head[1]) if head else "")


def _same_history(db: Handle, old: Marks, new: Marks) -> bool:
    """True when the ledger still holds what the last read saw: no table shrank, the row at each old mark
    is the same proposal's, and the event the last read ended at is still there, unchanged."""
    if new.steps < old.steps or new.posts < old.posts:
        return False
    for table in _TOUCHING:
        if old.rowids[table] == 0:
            continue
        row = db.execute(f"SELECT proposal_id FROM {table} WHERE rowid = ?", [old.rowids[table]]).fetchone()  # noqa: S608
        if row is None or row[0] != old.last_ids[table]:
            return False
    if old.event_seq == 0:
        return True
    row = db.execute("SELECT hash FROM events WHERE seq = ?", [old.event_seq]).fetchone()
    return row is not None and row[0] == old.event_hash


def _touched(db: Handle, old: Marks) -> set[str]:
    touched: set[str] = set()
    for table in _TOUCHING:
        query = f"SELECT proposal_id FROM {table} WHERE rowid > ?"  # noqa: S608 - constant table names
        touched.update(row[0] for row in db.execute(query, [old.rowids[table]]))
    return touched


def _bounded(marks: Marks) -> dict[str, int]:
    return {t: marks.rowids[t] for t in _TOUCHING}


def _proposals(dialect: Dialect, ids: str | None) -> str:
    """The proposals `ids` (a JSON list), or all of them."""
    if ids is None:
        return "proposals p"
    return f"{dialect.json_list(':ids', 'chosen')} JOIN proposals p ON p.id = chosen.value"


_CONTRIBUTIONS = """
SELECT p.category, {escalated}, {overridden}, {flagged}, SUM(a.llm_calls), SUM(a.tokens), SUM(a.cost_usd), {pending}
FROM {proposals} JOIN assessments a ON a.proposal_id = p.id AND a.rowid <= :assessments
LEFT JOIN decisions d ON d.proposal_id = p.id AND d.rowid <= :decisions
LEFT JOIN flags f ON f.proposal_id = p.id AND f.rowid <= :flags
LEFT JOIN confirmations k ON k.proposal_id = p.id AND k.rowid <= :confirmations
LEFT JOIN quarantine q ON q.proposal_id = p.id AND q.rowid <= :quarantine
GROUP BY 1
"""


def _contributions(db: Handle, dialect: Dialect, marks: Marks, ids: str | None) -> Iterable[tuple[str, list[float]]]:
    """Each category's counters over the proposals `ids` (all when None), as of `marks`."""
    count_if = queries.count_if
    query = _CONTRIBUTIONS.format(
        proposals=_proposals(dialect, ids),
        escalated=count_if("a.route = 'escalate'"),
        overridden=count_if(f"{queries.LABELLED} AND {queries.OVERRIDE}"),
        flagged=count_if("f.proposal_id IS NOT NULL"),
        pending=count_if("a.route = 'escalate' AND d.proposal_id IS NULL AND q.proposal_id IS NULL"),
    )
    for name, *numbers in db.execute(query, {**_bounded(marks), "ids": ids}):
        yield name, [n or 0 for n in numbers]


def _waits(
    db: Handle, dialect: Dialect, marks: Marks, buckets: tuple[int, ...], ids: str | None
) -> Iterable[tuple[str, list[float]]]:
    """Each category's time-to-decision buckets over the proposals `ids` (all when None), as of `marks`."""
    sums = ", ".join(queries.count_if(f"s <= {int(b)}") for b in buckets)
    query = f"""
    SELECT category, {sums}, COUNT(*), SUM(s) FROM (
        SELECT p.category AS category, {queries.wait_seconds(dialect)} AS s
        FROM {_proposals(dialect, ids)} JOIN decisions d ON d.proposal_id = p.id AND d.rowid <= :decisions
        JOIN assessments a ON a.proposal_id = d.proposal_id AND a.rowid <= :assessments
        LEFT JOIN cards c ON c.proposal_id = d.proposal_id AND c.rowid <= :cards
        WHERE a.route = 'escalate' AND {queries.ASKED}
    ) AS waits GROUP BY 1
    """  # noqa: S608 - constants and ints only
    for name, *numbers in db.execute(query, {**_bounded(marks), "ids": ids}):
        yield name, [n or 0 for n in numbers]


def _add(into: dict[str, list[float]], rows: Iterable[tuple[str, list[float]]], *, sign: int) -> None:
    for name, numbers in rows:
        current = into.setdefault(name, [0] * len(numbers))
        into[name] = [c + sign * n for c, n in zip(current, numbers, strict=True)]


def _add_steps(totals: Totals, db: Handle, *, since: int) -> None:
    query = (
        "SELECT p.category, s.kind, COUNT(*) FROM escalation_steps s JOIN proposals p ON p.id = s.proposal_id"
        " WHERE s.seq > ? GROUP BY 1, 2"
    )
    for category, kind, n in db.execute(query, [since]):
        totals.steps[category][kind] += n


def _add_posts(totals: Totals, db: Handle, *, since: int) -> None:
    query = "SELECT category, kind, COUNT(*) FROM slack_posts WHERE seq > ? GROUP BY 1, 2"
    for category, kind, n in db.execute(query, [since]):
        totals.posts[category][kind] += n
