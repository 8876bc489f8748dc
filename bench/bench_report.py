"""Benchmark: `handoff report` over a ledger of 1,000,000 decisions, against the bare SQL aggregates it needs.

The bulk history is written straight into the tables with executemany in one transaction (not through
the event log), into a temporary file. Both sides are measured in the same run on the same file, so
the figure is a ratio. Run: `python bench/bench_report.py [--decisions 1000000] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.insights.report import build_report
from bot.store import queries
from bot.store.ledger import Ledger
from scoring.policy import parse_policy

POLICY = parse_policy(
    "categories:\n"
    "  tag_ticket: {level: review_after}\n"
    "  customer_email: {level: on_uncertainty, threshold: 0.85}\n"
    "  update_crm_record: {level: on_uncertainty, threshold: 0.85}\n"
    "  issue_refund: {level: approve_before, never_graduate: true}\n"
    "  legal_reply: {level: approve_before, never_graduate: true}\n",
    source="bench policy",
)
# category, share of traffic, share escalated, override rate among human decisions
MIX = [
    ("tag_ticket", 0.55, 0.0, 0.004),
    ("customer_email", 0.25, 0.3, 0.05),
    ("update_crm_record", 0.12, 0.2, 0.03),
    ("issue_refund", 0.05, 1.0, 0.08),
    ("legal_reply", 0.03, 1.0, 0.1),
]
OUTCOMES = ("edit", "reject", "alternative")


def rows(n: int, seed: int = 1) -> Iterator[tuple[tuple[object, ...], ...]]:
    """(proposal, assessment, card or None, decision or None) rows of one simulated 90-day history."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=90)
    weights = [m[1] for m in MIX]
    for i in range(n):
        category, _, escalate_share, override = rng.choices(MIX, weights)[0]
        pid = f"p{i:08d}"
        at = start + timedelta(seconds=i * 90 * 86400 / n)
        stored = at.isoformat(timespec="milliseconds")
        body = json.dumps({"category": category, "input": {"request": "x" * rng.randint(20, 2000)}})
        escalated = rng.random() < escalate_share
        route = "escalate" if escalated else ("review_after" if category == "tag_ticket" else "auto")
        audit = route == "auto" and rng.random() < 0.05
        assessment = json.dumps({"route": route, "audit": audit, "llm_calls": 3, "tokens": 900, "cost_usd": 0.002})
        proposal = (pid, category, "agent", "summary", body, stored, stored)
        assess = (pid, rng.random(), route, "v1", assessment, stored, int(audit), 3, 900, 0.002)
        card = (pid, "C1", f"{i}.0", stored) if escalated else None
        if escalated and rng.random() < 0.002:
            yield proposal, assess, card, None  # still pending
            continue
        wait = rng.expovariate(1 / 900) if escalated else 0.0
        decided = (at + timedelta(seconds=wait)).isoformat(timespec="milliseconds")
        if escalated:
            outcome = rng.choice(OUTCOMES) if rng.random() < override else "approve"
            reviewer = "U0REVIEWER"
        else:
            outcome, reviewer = "auto", f"policy:{route}"
        yield proposal, assess, card, (pid, outcome, reviewer, "{}", decided)


def generate(path: Path, n: int) -> float:
    """Write `n` decided proposals into a fresh ledger at `path`; returns seconds taken."""
    started = time.perf_counter()
    Ledger(path)  # schema and migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'assessments_usage'").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DROP TRIGGER assessments_usage")  # bulk rows carry their usage columns already
    batch: list[tuple[tuple[object, ...], ...]] = []
    for row in rows(n):
        batch.append(row)
        if len(batch) == 50_000:
            _insert(conn, batch)
            batch = []
    _insert(conn, batch)
    conn.execute(trigger)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _insert(conn: sqlite3.Connection, batch: list[tuple[tuple[object, ...], ...]]) -> None:
    conn.executemany("INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?)", [r[0] for r in batch])
    conn.executemany(
        "INSERT INTO assessments (proposal_id, score, route, policy_version, body, assessed_at,"
        " audit, llm_calls, tokens, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r[1] for r in batch],
    )
    conn.executemany("INSERT INTO cards VALUES (?, ?, ?, ?)", [r[2] for r in batch if r[2]])
    conn.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?, ?)", [r[3] for r in batch if r[3]])


def best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs, in seconds (the least disturbed by a noisy machine)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        seconds = generate(path, args.decisions)
        ledger = Ledger(path)
        decided = ledger.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        print(f"generated {args.decisions:,} proposals ({decided:,} decisions) in {seconds:.1f}s")
        bare_main = best(lambda: queries.category_counts(ledger), args.repeat)
        bare_all = best(
            lambda: [read(ledger) for read in (queries.category_counts, queries.decision_mix, queries.wait_histogram)],
            args.repeat,
        )
        now = datetime.now(UTC)
        report = best(lambda: build_report(ledger, POLICY, now=now), args.repeat)
        status = build_report(ledger, POLICY, now=now)["status"]
    print(f"bare per-category GROUP BY          {bare_main * 1000:9.0f} ms")
    print(f"bare aggregates the report needs    {bare_all * 1000:9.0f} ms  (per-category, decision mix, waits)")
    print(f"handoff report (build_report)       {report * 1000:9.0f} ms  (+ graduation, drift, hash chain)")
    print(f"ratio report / bare GROUP BY        {report / bare_main:9.2f}x")
    print(f"ratio report / bare aggregates      {report / bare_all:9.2f}x")
    print(f"status: {status}  (best of {args.repeat} runs each)")


if __name__ == "__main__":
    main()
