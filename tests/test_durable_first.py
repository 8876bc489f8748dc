"""The agent never sees a decision the ledger does not hold: when the ledger cannot be written, the reviewer
is told it was not recorded, nothing is published, and the card keeps its buttons."""

from __future__ import annotations

import re

from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from bot.store.ledger import Ledger
from tests.conftest import wait_until, work
from tests.ledger_backends import writer_holding
from tests.test_flows import card_of
from tests.test_loop import EMAIL


def not_recorded(slack: SlackStandIn, user: str) -> str:
    told = slack.wait_for(lambda s: [e for e in s.ephemerals(user) if "not recorded" in e["text"]], timeout=10)
    return str(told[-1]["text"])


def buttons_left(slack: SlackStandIn, pid: str) -> bool:
    return any(b["type"] == "actions" for b in card_of(slack, pid)["blocks"])


def test_a_click_while_another_writer_holds_the_ledger_is_not_recorded_nor_published(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """With BEGIN EXCLUSIVE held elsewhere, Approve tells the reviewer to try again; the agent sees nothing,
    the card keeps its buttons, and a later click decides normally."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    runtime.ledger = Ledger(runtime.ledger.target, busy_timeout=0.3)  # the web process gives up sooner
    with writer_holding(runtime.ledger):
        assert reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0ALICE").status == 200
        text = not_recorded(slack, "U0ALICE")
        assert "try again" in text
        assert Client(runtime.redis).wait(pid, timeout=0.5) is None, "the agent must not see it"
    assert runtime.ledger.decision(pid) is None
    work(runtime)
    assert buttons_left(slack, pid)
    reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0BOB")
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None
    assert decision.reviewer == "U0BOB"
    assert runtime.ledger.decision(pid) == decision


def test_a_click_on_a_read_only_ledger_is_not_recorded_nor_published(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """A ledger file SQLite can only read (as it opens a read-only file) refuses the decision: the reviewer is
    told, and nothing reaches the agent."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    writable = runtime.ledger
    runtime.ledger = Ledger(writable.target, read_only=True)
    assert reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0ALICE").status == 200
    assert re.search("read-?only", not_recorded(slack, "U0ALICE"))
    assert Client(runtime.redis).wait(pid, timeout=0.5) is None
    runtime.ledger = writable
    assert writable.decision(pid) is None
    wait_until(lambda: buttons_left(slack, pid), what="the card to keep its buttons")
