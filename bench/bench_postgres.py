"""Benchmark: the ledger on SQLite against the ledger on PostgreSQL, on the same machine, in one run.

Three figures, each printed for both engines and as a ratio:
1. decisions per second through the ledger's decide transaction (`Ledger.decide`, the exactly-once step of
   every click), one writer, on proposals assessed beforehand;
2. `handoff report` (`build_report`) over 1,000,000 proposals, against the bare per-category GROUP BY on the
   same engine (target: at most 2x); the history is the one bench/bench_report.py writes, loaded in bulk;
3. `reconcile` over 10,000 pending reviews: the first pass after Redis lost everything (each review reopened,
   its timer chain started) and a steady pass.

PostgreSQL: a fresh database on --postgres (default HANDOFF_TEST_POSTGRES_URL, else the local server as
user postgres), dropped at the end. Run:
`python bench/bench_postgres.py [--proposals 1000000] [--decisions 2000] [--pending 10000] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Processes, start_redis
from bench.bench_report import POLICY, generate, rows
from bot.app.wiring import build_runtime
from bot.insights.report import build_report
from bot.review.reconcile import reconcile
from bot.settings import Settings
from bot.store import queries
from bot.store.ledger import Ledger, utcnow
from scoring.models import Action, Assessment, Decision, Outcome, Proposal, Route

SERVER = os.environ.get("HANDOFF_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(server: str, name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on `server`, dropped afterwards."""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


# -- 1. decisions per second ---------------------------------------------------------------------


def assessed(ledger: Ledger, n: int, prefix: str) -> list[str]:
    """`n` proposals stored and assessed as escalations, through the ledger's own writes."""
    pids = []
    for i in range(n):
        pid = f"{prefix}{i:06d}"
        proposal = Proposal(category="customer_email", action=Action(name="send", args={"n": i}), summary="s")
        ledger.record_proposal(pid, proposal, submitted_at=utcnow())
        ledger.record_assessment(
            Assessment(proposal_id=pid, score=0.5, route=Route.ESCALATE, level="on_uncertainty", policy_version="v")
        )
        pids.append(pid)
    return pids


def decisions_per_second(ledger: Ledger, n: int) -> float:
    pids = assessed(ledger, n, "d")
    started = time.perf_counter()
    for pid in pids:
        won, _standing, _ = ledger.decide(
            Decision(proposal_id=pid, outcome=Outcome.APPROVE, action=None, reviewer="U0ALICE", decided_at=utcnow())
        )
        assert won
    return n / (time.perf_counter() - started)


# -- 2. the report over a large history ----------------------------------------------------------


def load_postgres(url: str, n: int) -> float:
    """The same history as bench_report writes into SQLite, loaded into PostgreSQL with COPY."""
    started = time.perf_counter()
    Ledger(url).close()  # schema and migrations
    columns = {
        "proposals": "id, category, agent, summary, body, submitted_at, stored_at",
        "assessments": "proposal_id, score, route, policy_version, body, assessed_at, audit, llm_calls, tokens,"
        " cost_usd",
        "cards": "proposal_id, channel, ts, posted_at",
        "decisions": "proposal_id, outcome, reviewer, body, decided_at",
    }
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("ALTER TABLE assessments DISABLE TRIGGER assessments_usage")  # rows carry their usage
        batch = list(rows(n))
        for index, table in enumerate(columns):
            with conn.cursor().copy(f"COPY {table} ({columns[table]}) FROM STDIN") as copy:
                for row in batch:
                    if row[index] is not None:
                        copy.write_row(row[index])
        conn.execute("ALTER TABLE assessments ENABLE TRIGGER assessments_usage")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def report_ratio(ledger: Ledger, repeat: int) -> tuple[float, float]:
    """(bare per-category GROUP BY, build_report), best of `repeat`, seconds."""
    now = datetime.now(UTC)
    bare = best(lambda: queries.category_counts(ledger), repeat)
    report = best(lambda: build_report(ledger, POLICY, now=now), repeat)
    return bare, report


# -- 3. reconcile over pending reviews -----------------------------------------------------------


def pending_reviews(ledger: Ledger, n: int) -> None:
    """`n` escalations with a posted card and no decision yet."""
    for pid in assessed(ledger, n, "r"):
        ledger.record_card(pid, channel="C1", ts=f"{pid}.1")


def reconcile_passes(target: str, redis_url: str, n: int, workdir: Path) -> tuple[float, float]:
    """(first pass after Redis lost everything, a steady pass), seconds."""
    settings = Settings(
        slack_bot_token=SecretStr("xoxb-bench"),
        slack_api_url="http://127.0.0.1:9/api/",
        redis_url=redis_url,
        data_dir=workdir,
        db_path=target,  # type: ignore[arg-type]  # a path or a postgresql:// URL, as HANDOFF_DB
    )
    runtime = build_runtime(settings, redis_url=redis_url, policy=POLICY)
    try:
        runtime.redis.flushdb()
        pending_reviews(runtime.ledger, n)
        started = time.perf_counter()
        reconcile(runtime)
        first = time.perf_counter() - started
        started = time.perf_counter()
        reconcile(runtime)
        steady = time.perf_counter() - started
    finally:
        runtime.close()
    return first, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--proposals", type=int, default=1_000_000, help="history size for the report")
    parser.add_argument("--decisions", type=int, default=2000, help="decisions timed through Ledger.decide")
    parser.add_argument("--pending", type=int, default=10_000, help="pending reviews reconcile goes over")
    parser.add_argument("--repeat", type=int, default=3, help="report timings: best of this many")
    parser.add_argument("--postgres", default=SERVER, help="a PostgreSQL server to create the databases on")
    args = parser.parse_args()
    tag = f"handoff_bench_{os.getpid()}"
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, Processes() as processes:
        work = Path(tmp)
        redis_url = start_redis(processes, work)
        with fresh_database(args.postgres, f"{tag}_decide") as url:
            sqlite_rate = decisions_per_second(Ledger(work / "decide.db"), args.decisions)
            pg = Ledger(url)
            pg_rate = decisions_per_second(pg, args.decisions)
            pg.close()
        out.append(
            f"decisions/s (Ledger.decide, 1 writer)  sqlite {sqlite_rate:8.0f}   postgres {pg_rate:8.0f}"
            f"   postgres/sqlite {pg_rate / sqlite_rate:5.2f}x"
        )
        with fresh_database(args.postgres, f"{tag}_reconcile") as url:
            sq_first, sq_steady = reconcile_passes(str(work / "reconcile.db"), redis_url, args.pending, work / "a")
            pg_first, pg_steady = reconcile_passes(url, redis_url, args.pending, work / "b")
        out.append(
            f"reconcile {args.pending:,} pending, first pass  sqlite {sq_first:6.2f}s   postgres"
            f" {pg_first:6.2f}s   postgres/sqlite {pg_first / sq_first:5.2f}x"
        )
        out.append(
            f"reconcile {args.pending:,} pending, steady pass sqlite {sq_steady:6.2f}s   postgres"
            f" {pg_steady:6.2f}s   postgres/sqlite {pg_steady / sq_steady:5.2f}x"
        )
        path = work / "report.db"
        sq_load = generate(path, args.proposals)
        sq_bare, sq_report = report_ratio(Ledger(path), args.repeat)
        path.unlink()
        with fresh_database(args.postgres, f"{tag}_report") as url:
            pg_load = load_postgres(url, args.proposals)
            pg = Ledger(url)
            pg_bare, pg_report = report_ratio(pg, args.repeat)
            pg.close()
        out.append(f"history of {args.proposals:,} loaded in  sqlite {sq_load:6.1f}s   postgres {pg_load:6.1f}s")
        for name, bare, report in (("sqlite", sq_bare, sq_report), ("postgres", pg_bare, pg_report)):
            out.append(
                f"report over {args.proposals:,} on {name:8s}  bare GROUP BY {bare * 1000:7.0f} ms   build_report"
                f" {report * 1000:7.0f} ms   report/bare {report / bare:5.2f}x"
            )
        out.append(f"build_report postgres/sqlite {pg_report / sq_report:5.2f}x  (best of {args.repeat} each)")
    print("\n".join(out))


if __name__ == "__main__":
    main()
