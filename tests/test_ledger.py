"""The ledger: one decision per proposal, an append-only hash chain, safe concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.store.ledger import Ledger, utcnow
from bot.store.migrations import MIGRATIONS
from scoring.models import Action, Decision, Outcome, Proposal
from tests.ledger_backends import drop_append_only, raw_execute, schema_version

PROPOSAL = Proposal(category="tag_ticket", action=Action(name="tag", args={"t": 1}), summary="Tag it")


def decision(pid: str, outcome: Outcome, reviewer: str) -> Decision:
    return Decision(proposal_id=pid, outcome=outcome, action=None, reviewer=reviewer, decided_at=utcnow())


def test_second_decision_is_dropped_and_the_first_stands(ledger_target: str) -> None:
    """The one-decision-per-proposal key keeps the first decision whatever comes later."""
    ledger = Ledger(ledger_target)
    ledger.record_proposal("p1", PROPOSAL, submitted_at=utcnow())
    first = ledger.record_decision(decision("p1", Outcome.APPROVE, "U1"))
    second = ledger.record_decision(decision("p1", Outcome.REJECT, "U2"))
    assert second == first
    assert ledger.decision("p1") == first
    assert ledger.counts()["decisions"] == 1


def test_event_log_is_append_only_and_tampering_breaks_the_chain(ledger_target: str) -> None:
    """Updates and deletes of events are refused; an edited row no longer verifies."""
    ledger = Ledger(ledger_target)
    ledger.record_proposal("p1", PROPOSAL, submitted_at=utcnow())
    ledger.record_decision(decision("p1", Outcome.APPROVE, "U1"))
    assert ledger.verify_chain()
    with pytest.raises(ledger.errors, match="append-only"):
        ledger.db.execute("UPDATE events SET body = '{}' WHERE seq = 1")
    with pytest.raises(ledger.errors, match="append-only"):
        ledger.db.execute("DELETE FROM events")
    assert ledger.counts()["events"] == 2
    drop_append_only(ledger)
    ledger.db.execute('UPDATE events SET body = \'{"category": "x"}\' WHERE seq = 1')
    assert not ledger.verify_chain()


def test_concurrent_writers_from_threads_all_land(ledger_target: str) -> None:
    """Sixteen threads writing at once all succeed (writers wait for each other instead of failing)."""
    path = ledger_target
    ledgers = [Ledger(path) for _ in range(4)]
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            ledgers[n % 4].record_proposal(f"p{n}", PROPOSAL, submitted_at=utcnow())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Ledger(path).counts()["proposals"] == 16
    assert Ledger(path).verify_chain()


def test_reopening_a_ledger_keeps_its_schema_and_rows(ledger_target: str) -> None:
    """Migrations run once; a second open finds the same rows."""
    Ledger(ledger_target).record_proposal("p1", PROPOSAL, submitted_at=utcnow())
    again = Ledger(ledger_target)
    assert again.proposal("p1") == PROPOSAL
    assert schema_version(again) == len(MIGRATIONS)


@pytest.mark.sqlite_only("the journal mode of the file")
def test_a_sqlite_ledger_is_in_wal_mode(tmp_path: Path) -> None:
    """Readers never wait for the writer on the embedded engine."""
    assert Ledger(tmp_path / "l.db").db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_foreign_keys_are_enforced(ledger_target: str) -> None:
    """A decision, timer or approval for a proposal the ledger does not hold is refused by the database itself."""
    ledger = Ledger(ledger_target)
    with pytest.raises(ledger.errors, match=r"(?i)FOREIGN KEY"):
        ledger.record_decision(decision("nowhere", Outcome.APPROVE, "U1"))
    with pytest.raises(ledger.errors, match=r"(?i)FOREIGN KEY"):
        ledger.schedule_timers("nowhere", generation=1, due={"asked": utcnow()}, assignee="")
    assert ledger.counts()["decisions"] == 0
    ledger.record_proposal("p1", PROPOSAL, submitted_at=utcnow())
    assert ledger.record_decision(decision("p1", Outcome.APPROVE, "U1")).reviewer == "U1"


@pytest.mark.sqlite_only("PostgreSQL never lets a row point nowhere")
def test_an_existing_ledger_with_dangling_rows_still_opens_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows written while foreign keys were off that point nowhere are reported, not fatal."""
    path = tmp_path / "l.db"
    Ledger(path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO cards (proposal_id, channel, ts, posted_at) VALUES ('ghost', 'C1', '1.0', 'now')")
    with caplog.at_level("WARNING", logger="bot.ledger"):
        reopened = Ledger(path)
    assert reopened.card("ghost") == ("C1", "1.0")
    assert any("cards" in r.getMessage() and "foreign key" in r.getMessage() for r in caplog.records)


def test_every_migration_exists_for_both_engines() -> None:
    """A table or column added for SQLite (bot/store/migrations.py) has its PostgreSQL step of the same name, in
    the same place (bot/store/postgres_migrations.py): a ledger on either engine has the same schema version."""
    from bot.store import postgres_migrations

    assert [m.__name__ for m in postgres_migrations.MIGRATIONS] == [m.__name__ for m in MIGRATIONS]


def test_verify_walks_a_table_longer_than_a_page_and_names_a_row_added_after_it(ledger_target: str) -> None:
    """Sealed rows are read a page at a time: every page is checked, and a row written outside handoff after
    more than a page of sealed ones is still named."""
    ledger = Ledger(ledger_target)
    ledger.record_proposal("p1", PROPOSAL, submitted_at=utcnow())
    for n in range(300):  # more than the first page (256)
        ledger.record_escalation_step("p1", "reminded", f"U{n}")
    assert ledger.verify().ok
    raw_execute(
        ledger,
        "INSERT INTO escalation_steps (proposal_id, kind, target, detail, at) VALUES ('p1', 'asked', 'x', '', 'now')",
    )
    assert (
        ledger.verify().problem
        == "escalation_steps row 301: not in the hash chain (added outside handoff, or its event was removed)"
    )
    ledger.close()
