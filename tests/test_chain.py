"""`handoff verify`: every record that matters is sealed into the hash chain; a rewritten record or a
truncated log (against a head saved outside the file) is found and named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from bot.client import Client
from bot.insights.report import build_report
from bot.review.reconcile import HEAD_KEY, reconcile
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from bot.store.ledger import Ledger
from tests.conftest import REPO, work
from tests.ledger_backends import raw_execute, rewind_schema
from tests.test_flows import card_of
from tests.test_loop import EMAIL


def verify(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HANDOFF_DB": target}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )


def tamper(ledger: Ledger, *statements: str) -> None:
    """What an attacker with the database does: get past the append-only triggers, then change what they like."""
    for statement in statements:
        raw_execute(ledger, statement)


@pytest.fixture
def decided(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> str:
    """An escalated email approved by a signed click and executed: every kind of record is in the ledger."""
    pid = Client(runtime.redis, policy=runtime.policy).submit({**EMAIL, "id": "p-chain"})
    work(runtime)
    reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0ALICE")
    assert Client(runtime.redis).wait(pid, timeout=10) is not None  # published after phase two is queued
    work(runtime)
    assert runtime.ledger.execution(pid) is not None
    return pid


def test_an_intact_ledger_verifies_and_prints_its_head(runtime: Runtime, decided: str) -> None:
    """Exit 0, with the number of events and the head `handoff report` also shows."""
    result = verify(runtime.ledger.target)
    assert result.returncode == 0, result.stderr
    assert f"head {runtime.ledger.head()}" in result.stdout
    assert build_report(runtime.ledger, runtime.policy)["chain_head"] == runtime.ledger.head()


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE decisions SET body = replace(body, 'jane@', 'evil@')", "decisions row p-chain: changed"),
        ("UPDATE proposals SET summary = 'Send a harmless note'", "proposals row p-chain: changed"),
        ("UPDATE assessments SET score = 0.99", "assessments row p-chain: changed"),
        ("UPDATE executions SET status = 'ok', detail = 'fine'", "executions row p-chain: changed"),
        ("UPDATE escalation_steps SET target = 'U0EVIL'", "escalation_steps row 1: changed"),
        ("DELETE FROM decisions", "decisions row p-chain: sealed by event"),
        (
            "INSERT INTO escalation_steps (proposal_id, kind, target, detail, at)"
            " VALUES ('p-chain', 'asked', 'x', '', 'now')",
            "escalation_steps row 2: not in the hash chain",
        ),
    ],
)
def test_a_rewritten_record_fails_verify_naming_it(runtime: Runtime, decided: str, statement: str, named: str) -> None:
    """Changing any sealed record outside handoff makes `handoff verify` exit 1 naming the first bad record."""
    tamper(runtime.ledger, statement)
    result = verify(runtime.ledger.target)
    assert result.returncode == 1
    assert named in result.stderr


def test_deleting_the_last_events_is_caught_against_a_saved_head(runtime: Runtime, decided: str) -> None:
    """Deleting the last five events leaves a consistent shorter chain; the head saved in Redis finds it."""
    reconcile(runtime)
    saved = runtime.redis.get(HEAD_KEY)
    assert saved is not None
    assert saved.decode() == runtime.ledger.head()
    tamper(runtime.ledger, "DELETE FROM events WHERE seq > (SELECT MAX(seq) - 5 FROM events)")
    result = verify(runtime.ledger.target, "--head", saved.decode())
    assert result.returncode == 1
    assert "the log was truncated" in result.stderr


def test_the_head_is_published_in_metrics(runtime: Runtime, decided: str, web_url: str) -> None:
    """/metrics carries the chain head, so a scraper keeps a copy outside the file."""
    with urllib.request.urlopen(web_url.replace("/slack/events", "/metrics"), timeout=5) as response:
        text = response.read().decode()
    seq, _, digest = runtime.ledger.head().partition(":")
    assert f'handoff_ledger_chain_head{{hash="{digest}"}} {seq}' in text


def test_a_ledger_from_before_sealing_is_sealed_on_upgrade(runtime: Runtime, decided: str) -> None:
    """Records written before they were sealed are sealed (as they stand) when the ledger is opened."""
    assert runtime.ledger.counts()["events"]
    tamper(runtime.ledger, "DELETE FROM events")  # an old ledger's events carry no record digests
    rewind_schema(runtime.ledger, to=6)
    reopened = Ledger(runtime.ledger.target)
    assert reopened.verify().ok
    assert json.loads(reopened.db.execute("SELECT body FROM events ORDER BY seq LIMIT 1").fetchone()[0])["record"]
