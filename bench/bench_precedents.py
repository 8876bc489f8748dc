"""Benchmark: a card's precedents lookup with 1,000,000 decided proposals in the ledger, against baselines
measured in the same run on the same file: a primary-key read of one proposal, and drawing the card
without precedents.

Every decided proposal here was decided by a person, so every one is a precedent (the worst case: the
`precedents` table as large as the ledger), spread over 5 categories with 2 actions each. The bulk rows
are written with executemany in one transaction (proposals, decisions and the precedents rows the ledger
would write, built by the same `scoring.precedents.record_of`), not through the event log.
Run: `python bench/bench_precedents.py [--decisions 1000000] [--cards 300]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.slack.surfaces import cards
from bot.store.ledger import Ledger
from bot.store.migrations import PRECEDENT_COLUMNS, PRECEDENT_INSERT
from bot.store.precedents import precedents_for
from scoring.models import Assessment, Decision, Proposal, Route
from scoring.precedents import record_of

CATEGORIES = ("customer_email", "update_crm_record", "issue_refund", "legal_reply", "tag_ticket")
ACTIONS = ("send", "change")
OUTCOMES = ("approve",) * 90 + ("edit",) * 5 + ("reject",) * 4 + ("redirect",)
TAGS = ("billing", "bug", "account", "sales", "spam")


def proposal_data(rng: random.Random, i: int) -> dict[str, Any]:
    """A proposal with a customer entity, an amount, a tag and a short text, like the demo's mix."""
    customer = f"CUS-{rng.randrange(5000)}"
    return {
        "category": CATEGORIES[i % len(CATEGORIES)],
        "agent": "bench-bot",
        "action": {
            "name": ACTIONS[(i // len(CATEGORIES)) % len(ACTIONS)],
            "args": {
                "customer": customer,
                "amount": round(rng.lognormvariate(4, 1), 2),
                "tag": rng.choice(TAGS),
                "note": f"Hello {customer}, about ticket T-{rng.randrange(10**6)}: " + "words " * rng.randrange(3, 30),
            },
        },
        "summary": f"bench proposal {i}",
        "entities": [{"reference": "the customer", "matches": [customer]}],
    }


def rows(n: int, seed: int = 1) -> Iterator[tuple[tuple[object, ...], tuple[object, ...], list[object]]]:
    """(proposal row, decision row, precedents row) of `n` proposals decided by people over 90 days."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=90)
    for i in range(n):
        pid = f"p{i:08d}"
        data = proposal_data(rng, i)
        proposal = Proposal.model_validate(data)
        at = (start + timedelta(seconds=i * 90 * 86400 / n)).isoformat(timespec="milliseconds")
        outcome = rng.choice(OUTCOMES)
        action = None if outcome in ("reject", "redirect") else proposal.action
        if outcome == "edit":
            action = proposal.action.model_copy(update={"args": {**proposal.action.args, "amount": 1.0}})
        decision = Decision(
            proposal_id=pid, outcome=outcome, action=action, reviewer="U0REVIEWER", comment="bench", decided_at=at
        )
        record = record_of(proposal, decision)
        assert record is not None
        yield (
            (pid, proposal.category, "bench-bot", proposal.summary, json.dumps(data), at, at),
            (pid, outcome, "U0REVIEWER", decision.model_dump_json(), at),
            [record[c] for c in PRECEDENT_COLUMNS],
        )


def generate(path: Path, n: int) -> float:
    """Write `n` decided proposals into a fresh ledger at `path`; returns seconds taken."""
    started = time.perf_counter()
    Ledger(path).close()  # schema and migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    batch: list[tuple[tuple[object, ...], tuple[object, ...], list[object]]] = []
    for row in rows(n):
        batch.append(row)
        if len(batch) == 50_000:
            _insert(conn, batch)
            batch = []
    _insert(conn, batch)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _insert(conn: sqlite3.Connection, batch: list[tuple[tuple[object, ...], tuple[object, ...], list[object]]]) -> None:
    conn.executemany("INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?)", [r[0] for r in batch])
    conn.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?, ?)", [r[1] for r in batch])
    conn.executemany(PRECEDENT_INSERT, [r[2] for r in batch])


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
    parser.add_argument("--cards", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    new = [Proposal.model_validate(proposal_data(rng, i)) for i in range(args.cards)]
    assessment = Assessment(
        proposal_id="new", score=0.5, route=Route.ESCALATE, level="approve_before", policy_version="v"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        seconds = generate(path, args.decisions)
        ledger = Ledger(path)
        count = ledger.db.execute("SELECT COUNT(*) FROM precedents").fetchone()[0]
        print(f"generated {args.decisions:,} decided proposals ({count:,} precedents) in {seconds:.1f}s")
        ids = [f"p{rng.randrange(args.decisions):08d}" for _ in range(args.cards)]
        per_call_ms(lambda i: precedents_for(ledger, f"new-{i}", new[i]), 20)  # warm the page cache
        lookup = per_call_ms(lambda i: precedents_for(ledger, f"new-{i}", new[i]), args.cards)
        read = per_call_ms(lambda i: ledger.proposal(ids[i]), args.cards)
        plain_card = per_call_ms(lambda i: cards.review_card(f"new-{i}", new[i], assessment), args.cards)
        found = [precedents_for(ledger, f"new-{i}", new[i]) for i in range(args.cards)]
        ledger.close()
    similar = statistics.median(f.similar for f in found)
    lookup_ms, read_ms, card_ms = (statistics.median(t) for t in (lookup, read, plain_card))
    p99 = sorted(lookup)[int(0.99 * (len(lookup) - 1))]
    print(f"precedents lookup per card        median {lookup_ms:7.2f} ms  p99 {p99:7.2f} ms  (target ≤ 20 ms)")
    print(f"baseline: read one proposal (PK)  median {read_ms:7.2f} ms")
    print(f"baseline: draw the card, no precedents  {card_ms:7.2f} ms")
    print(f"ratio lookup / PK read            {lookup_ms / read_ms:7.1f}x")
    print(f"ratio lookup / card drawing       {lookup_ms / card_ms:7.1f}x")
    print(f"median similar cases found per card: {similar:g} of a window of {found[0].compared}")


if __name__ == "__main__":
    main()
