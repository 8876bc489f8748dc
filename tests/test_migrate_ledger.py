"""`handoff migrate-ledger SQLITE_PATH postgresql://...`: an existing SQLite ledger moves onto PostgreSQL whole,
its hash chain verified on both sides; a target holding a ledger is refused; PostgreSQL not answering is one
line and its own exit status."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import exit_status
from bot.cli.main import main
from bot.insights.export import export_records
from bot.insights.report import build_report
from bot.store import digests, queries
from bot.store.agents import AgentStore
from bot.store.ledger import Ledger, utcnow
from bot.store.rows import Agent
from scoring.models import Decision, Outcome, Route
from tests.conftest import REPO, free_port
from tests.ledger_backends import raw_execute
from tests.ledger_history import add, policy

TABLES = ("proposals", "assessments", "decisions", "executions", "events")


def history(path: Path) -> Ledger:
    """A SQLite ledger holding a row in every table: decisions, flags, quorum approvals, timers, digests, agents."""
    ledger = Ledger(path)
    for n in range(6):
        add(ledger, f"e{n}", "customer_email", wait_s=60 * (n + 1), cost=0.01)
    add(ledger, "e-edit", "customer_email", outcome=Outcome.EDIT, edited={"n": 2})
    add(ledger, "e-pending", "customer_email", outcome=None)
    for n in range(3):
        add(ledger, f"t{n}", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    ledger.record_flag("t0", flagger="U0BOB", reason="wrong tag")
    ledger.record_confirmation("t1", reviewer="U0CAROL")
    ledger.record_execution("e0", status="ok")
    ledger.record_escalation_step("e-pending", "asked", "U0ALICE")
    ledger.schedule_timers("e-pending", generation=1, due={"asked": utcnow(), "remind": utcnow()}, assignee="U0ALICE")
    approval = Decision(
        proposal_id="e-pending", outcome=Outcome.APPROVE, action=None, reviewer="U0ALICE", decided_at=utcnow()
    )
    assert ledger.decide(approval, needed=2, fingerprint="f1")[1] is None  # one approval of two
    ledger.record_refusal("bad1", reason="not JSON")
    ledger.quarantine("e5", stage="execute", error="boom")
    ledger.record_review_message("t2", channel="C1", ts="9.9")
    seq = ledger.record_policy_event(
        "tag_ticket", kind="promote", levels=("review_after", "autonomous", "review_after"), reason="clean"
    )
    ledger.record_policy_card(seq, channel="C0OWN", ts="5.5")
    digest_id = digests.add_item(ledger, "t2", channel="C1", category="tag_ticket", minutes=60, max_items=10)
    digests.record_posted(ledger, digest_id, channel="C1", ts="7.7")
    AgentStore(ledger).add(Agent("bot-a", "U0OWNER", "k1", "hash", None, None, utcnow(), None))
    return ledger


def test_a_sqlite_ledger_moves_to_postgres_whole_and_verified(
    tmp_path: Path, new_postgres_url: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every table arrives row for row, the chain head is the same, reads agree, and new writes continue the chain."""
    source = history(tmp_path / "ledger.db")
    url = new_postgres_url()
    assert main(["migrate-ledger", str(source.path), url]) == 0
    printed = capsys.readouterr().out
    assert f"head {source.head()}" in printed
    assert "both chains verify" in printed
    moved = Ledger(url)
    assert moved.verify().ok
    assert moved.head() == source.head()
    assert moved.counts() == source.counts()
    for pid in ("e0", "e-edit", "e-pending", "t0"):
        assert moved.proposal(pid) == source.proposal(pid)
        assert moved.assessment(pid) == source.assessment(pid)
        assert moved.decision(pid) == source.decision(pid)
    assert moved.pending_ids() == source.pending_ids() == ["e-pending"]
    assert moved.approvals("e-pending", "f1") == ["U0ALICE"]
    assert moved.timers("e-pending") == source.timers("e-pending")
    assert queries.flag_on(moved, "t0") == queries.flag_on(source, "t0")
    assert moved.refusal("bad1") == "not JSON"
    assert digests.items(moved, 1) == digests.items(source, 1)
    assert AgentStore(moved).all() == AgentStore(source).all()
    rules = policy()
    assert _comparable(build_report(moved, rules)) == _comparable(build_report(source, rules))
    assert list(export_records(moved, rules)) == list(export_records(source, rules))
    seq = int(source.head().partition(":")[0])
    add(moved, "after", "customer_email")
    assert moved.verify().ok
    assert int(moved.head().partition(":")[0]) > seq
    again = moved.record_policy_event("customer_email", kind="demote", levels=("a", "b", "c"), reason="r")
    assert again == 2, "identity columns continue after the copied numbers"


def _comparable(report: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in report.items() if k not in ("generated_at",)}


def test_a_target_that_holds_a_ledger_is_refused_and_left_alone(
    tmp_path: Path, new_postgres_url: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A second copy into the same database stops before writing anything and says what to do."""
    source = history(tmp_path / "ledger.db")
    url = new_postgres_url()
    assert main(["migrate-ledger", str(source.path), url]) == 0
    head = Ledger(url).head()
    capsys.readouterr()
    add(source, "later", "customer_email")
    assert main(["migrate-ledger", str(source.path), url]) == exit_status.BAD_INPUT
    err = capsys.readouterr().err
    assert "already holds a ledger" in err
    assert "new, empty database" in err
    assert Ledger(url).head() == head


def test_a_source_whose_chain_does_not_verify_is_not_copied(
    tmp_path: Path, new_postgres_url: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered SQLite ledger is named and nothing reaches PostgreSQL."""
    source = history(tmp_path / "ledger.db")
    raw_execute(source, "UPDATE decisions SET reviewer = 'U0EVIL' WHERE proposal_id = 'e1'")
    url = new_postgres_url()
    assert main(["migrate-ledger", str(source.path), url]) == exit_status.BAD_INPUT
    assert "decisions row e1: changed" in capsys.readouterr().err
    assert Ledger(url).counts() == dict.fromkeys(TABLES, 0)


def test_bad_arguments_say_what_to_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A target that is not a PostgreSQL URL, or a source that is not there, exits 2 naming it."""
    assert main(["migrate-ledger", str(tmp_path / "x.db"), str(tmp_path / "y.db")]) == exit_status.BAD_INPUT
    assert "is not a PostgreSQL URL" in capsys.readouterr().err
    url = "postgresql://postgres@127.0.0.1:5432/nowhere"
    assert main(["migrate-ledger", str(tmp_path / "missing.db"), url]) == exit_status.BAD_INPUT
    assert "no SQLite ledger there" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["migrate-ledger", "SOURCE", "URL"], ["report"]])
def test_postgres_not_answering_is_one_line_and_status_4(tmp_path: Path, command: list[str]) -> None:
    """Nobody listens on the port: the command says so in one line, without a traceback or the password."""
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/handoff"
    source = Ledger(tmp_path / "ledger.db").path
    args = [str(source) if a == "SOURCE" else url if a == "URL" else a for a in command]
    env = {"PATH": "/usr/bin:/bin", "HANDOFF_DB": url, "HANDOFF_POLICY": str(REPO / "policy.yaml")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert result.returncode == exit_status.UNREACHABLE == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "PostgreSQL at postgresql://postgres:***@127.0.0.1" in lines[0]
    assert "did not answer" in lines[0]
    assert "s3cret-pw" not in result.stderr
