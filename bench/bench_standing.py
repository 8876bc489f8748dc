"""Benchmark: matching an escalated proposal against the standing approvals (on the assess path), with
1,000,000 decided proposals in the ledger, against a baseline measured in the same run on the same file:
a primary-key read of one proposal.

The worst case the category cap allows: 50 active rules on one category, agent and action (each match
reads and compares all 50), a tenth of all decisions taken by those rules and 1% of all proposals
flagged (none of them allowed by a rule, so every rule stays active). Half the proposals matched hit a
rule, half do not. Bulk rows are written with
executemany in one transaction, not through the event log; the rules through `bot.store.standing`.
Run: `python bench/bench_standing.py [--decisions 1000000] [--matches 300]`.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.store import standing
from bot.store.ledger import Ledger

RULES = 50
SCOPE = ("update_crm_record", "bench-bot", "update_record")


def generate(path: Path, n: int) -> float:
    """Write `n` decided proposals and RULES rules into a fresh ledger at `path`; returns seconds taken."""
    started = time.perf_counter()
    ledger = Ledger(path)
    now = datetime.now(UTC)
    for rule in range(RULES):
        standing.create(
            ledger,
            source_proposal_id=f"src{rule}",
            scope=SCOPE,
            fields={"record_id": f"R-{rule}", "field": "stage"},
            author="U0REVIEWER",
            expires_at=(now + timedelta(hours=8)).isoformat(timespec="milliseconds"),
            max_active=RULES,
            now=now.isoformat(timespec="milliseconds"),
        )
    ledger.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    at = now.isoformat(timespec="milliseconds")
    for start in range(0, n, 50_000):
        ids = range(start, min(n, start + 50_000))
        conn.executemany(
            "INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(f"p{i:08d}", SCOPE[0], SCOPE[1], "bench", _body(i), at, at) for i in ids],
        )
        conn.executemany(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
            [(f"p{i:08d}", "approve", _reviewer(i), "{}", at) for i in ids],
        )
        conn.executemany(
            "INSERT INTO flags VALUES (?, ?, ?, ?)",
            [(f"p{i:08d}", "U0FLAGGER", "", at) for i in ids if i % 100 == 1],
        )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _body(i: int) -> str:
    """A stored proposal of the rules' scope, as the ledger keeps it."""
    args = {"record_id": f"R-{i % RULES}", "field": "stage", "value": i}
    action = {"name": SCOPE[2], "args": args}
    return json.dumps({"category": SCOPE[0], "agent": SCOPE[1], "action": action, "summary": f"bench {i}"})


def _reviewer(i: int) -> str:
    """A tenth of decisions by a rule (never a flagged one: i % 100 == 1 is not i % 10 == 0), the rest by a person."""
    return f"standing:{(i // 10) % RULES + 1}" if i % 10 == 0 else "U0REVIEWER"


def per_call_ms(fn: Callable[[int], object], calls: int) -> list[float]:
    """Milliseconds of each of `calls` calls of `fn(index)`."""
    times = []
    for index in range(calls):
        started = time.perf_counter()
        fn(index)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--matches", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        seconds = generate(path, args.decisions)
        ledger = Ledger(path)
        by_rules = ledger.db.execute("SELECT COUNT(*) FROM decisions WHERE reviewer LIKE 'standing:%'").fetchone()[0]
        print(f"generated {args.decisions:,} decided proposals ({by_rules:,} by {RULES} rules) in {seconds:.1f}s")
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        args_of = [
            {"record_id": f"R-{i % RULES}" if i % 2 == 0 else "R-none", "field": "stage", "value": i}
            for i in range(args.matches)
        ]
        found = [standing.match(ledger, scope=SCOPE, args=a, now=now) for a in args_of[:20]]  # warm the cache
        match = per_call_ms(lambda i: standing.match(ledger, scope=SCOPE, args=args_of[i], now=now), args.matches)
        ids = [f"p{(i * 7919) % args.decisions:08d}" for i in range(args.matches)]
        read = per_call_ms(lambda i: ledger.proposal(ids[i]), args.matches)
        found = [standing.match(ledger, scope=SCOPE, args=a, now=now) for a in args_of]
        ledger.close()
    match_ms, read_ms = statistics.median(match), statistics.median(read)
    p99 = sorted(match)[int(0.99 * (len(match) - 1))]
    hits = sum(1 for rule in found if rule is not None)
    print(f"standing match per proposal       median {match_ms:7.2f} ms  p99 {p99:7.2f} ms")
    print(f"proposals a rule allowed: {hits} of {len(found)}")
    print(f"baseline: read one proposal (PK)  median {read_ms:7.2f} ms")
    print(f"ratio match / PK read             {match_ms / read_ms:7.1f}x")


if __name__ == "__main__":
    main()
