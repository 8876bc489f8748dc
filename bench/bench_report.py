"""Benchmark: `handoff report` over a ledger of 1,000,000 decisions, against the bare SQL aggregates it needs.

The bulk history is written straight into the tables with executemany in one transaction (not through
the event log), into a temporary file. Both sides are measured in the same run on the same file, so
the figure is a ratio. Run: `python bench/bench_report.py [--decisions 1000000] [--repeat 3]`.
It also serves /metrics from the same file through the web process's WSGI application (a private
redis-server for the queue depths): the first scrape, and later ones with 20 new proposals between.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
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


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def scrape(app: Callable[..., Iterable[bytes]]) -> bytes:
    """GET /metrics from the web process's WSGI application, in process (no socket in between)."""
    answer: list[str] = []
    body = b"".join(app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, lambda status, _h: answer.append(status)))
    if not answer or not answer[0].startswith("200"):
        raise RuntimeError(f"/metrics answered {answer}")
    return body


def traffic(ledger: Ledger, start: int, n: int) -> None:
    """`n` proposals through the ledger's own writes: each escalated, carded and decided (15 s of a busy day)."""
    from bot.store.clock import utcnow
    from scoring.models import Action, Assessment, Decision, Outcome, Proposal, Route

    for i in range(start, start + n):
        pid = f"live{i:06d}"
        action = Action(name="reply", args={"text": "hello"})
        proposal = Proposal(category="customer_email", action=action, summary="s", input={"request": "r"})
        ledger.record_proposal(pid, proposal, submitted_at=utcnow())
        assessment = Assessment(
            proposal_id=pid, score=0.5, route=Route.ESCALATE, signals=[], level="on_uncertainty", policy_version="v1"
        )
        ledger.record_assessment(assessment)
        ledger.record_card(pid, channel="C1", ts=f"{i}.5")
        decision = Decision(
            proposal_id=pid, outcome=Outcome.APPROVE, action=action, reviewer="U0R", decided_at=utcnow()
        )
        ledger.record_decision(decision)


def measure_report(ledger: Ledger, rounds: int) -> tuple[list[float], list[float]]:
    """Bare GROUP BY and build_report, interleaved, `rounds` times each (the load moves within a run)."""
    now = datetime.now(UTC)
    bare, report = [], []
    for _ in range(rounds):
        bare.append(timed(lambda: queries.category_counts(ledger)))
        report.append(timed(lambda: build_report(ledger, POLICY, now=now)))
    return bare, report


def measure_metrics(path: Path, workdir: Path, rounds: int) -> dict[str, list[float]]:
    """/metrics through the web process's WSGI app: the first scrape, then scrapes 20 new proposals apart,
    beside a full count of the same counters (what every scrape cost before) and the bare GROUP BY."""
    from bench._common import Processes, start_redis
    from bot.app.web import wsgi_app
    from bot.app.wiring import build_runtime
    from bot.settings import Settings

    with Processes() as processes:
        url = start_redis(processes, workdir)
        settings = Settings(db_path=path, slack_bot_token="xoxb-bench", data_dir=workdir)
        runtime = build_runtime(settings, redis_url=url, policy=POLICY)
        try:
            app = wsgi_app(runtime, slack_events=False)
            figures: dict[str, list[float]] = {"first": [timed(lambda: scrape(app))], "next": [], "full": []}
            for n in range(rounds):
                traffic(runtime.ledger, 20 * n, 20)
                figures["next"].append(timed(lambda: scrape(app)))
                figures["full"].append(timed(lambda: scrape(wsgi_app(runtime, slack_events=False))))
            return figures
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; each figure is their median")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        seconds = generate(path, args.decisions)
        ledger = Ledger(path)
        decided = ledger.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        print(f"generated {args.decisions:,} proposals ({decided:,} decisions) in {seconds:.1f}s")
        bare, report = measure_report(ledger, args.repeat)
        status = build_report(ledger, POLICY, now=datetime.now(UTC))["status"]
        ledger.close()
        metrics = measure_metrics(path, Path(tmp), args.repeat)
    b, r = statistics.median(bare), statistics.median(report)
    ratios = ", ".join(f"{x / y:.2f}" for x, y in zip(report, bare, strict=True))
    print(f"bare per-category GROUP BY          {b * 1000:9.0f} ms")
    print(f"handoff report (build_report)       {r * 1000:9.0f} ms  (+ graduation, drift, waits, hash chain)")
    print(f"ratio report / bare GROUP BY        {r / b:9.2f}x  target <= 2  (rounds: {ratios})")
    full, first, nxt = (statistics.median(metrics[k]) for k in ("full", "first", "next"))
    print(f"/metrics, first scrape of a process {first * 1000:9.0f} ms  (counts the whole ledger once)")
    print(f"/metrics, each later scrape         {nxt * 1000:9.0f} ms  target <= 100 ms (20 new proposals between)")
    print(f"/metrics counted in full (before)   {full * 1000:9.0f} ms")
    print(f"ratio later scrape / bare GROUP BY  {nxt / b:9.3f}x;  / full count {nxt / full:.3f}x")
    print(f"status: {status}  (median of {args.repeat} interleaved rounds each)")
    print("the bulk rows carry no event log, so the report's chain check stops at the first row; a real")
    print("ledger's check reads every event (`handoff verify` measures it on its own).")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
