"""Four eyes: N distinct approvals decide, a duplicate counts once, a rejection ends it, the card shows progress."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.client import Client
from bot.review.decide import decide, make_decision
from bot.review.policy_file import load_policy
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.store.review_state import Verdict
from scoring.models import Outcome, is_policy_reviewer, policy_reviewer
from scoring.policy import parse_policy
from tests.conftest import activated, wait_until, work

REPO = Path(__file__).resolve().parents[1]

POLICY = """
agents:
  refund-bot: {owner: U0OWNER}
categories:
  refund:
    level: approve_before
    never_graduate: true
    reviewers: {usergroups: [S0FIN]}
    approvals: 2
    owner_may_approve: false
"""
REFUND = {
    "category": "refund",
    "agent": "refund-bot",
    "action": {"name": "refund", "args": {"amount": 49}},
    "summary": "Refund $49",
}
FINANCE = ["U0ALICE", "U0BOB", "U0CAROL", "U0OWNER"]


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis, slack: SlackStandIn) -> Iterator[Runtime]:
    """A runtime on the four-eyes policy above, with the finance group set in Slack."""
    slack.set_usergroup("S0FIN", FINANCE)
    with activated(settings, policy=parse_policy(POLICY)) as rt:
        yield rt


def posted(runtime: Runtime, slack: SlackStandIn) -> tuple[str, dict[str, Any]]:
    pid = Client(runtime.redis, policy=runtime.policy).submit(REFUND)
    work(runtime)
    return pid, card(slack, pid)


def card(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    found = [m for m in slack.messages() if f"proposal `{pid}`" in json.dumps(m.get("blocks") or [])]
    assert found, f"no card for {pid}"
    return found[-1]


def test_two_distinct_approvals_decide_and_the_card_shows_progress(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The first approval is progress (shown as "1 of 2 approvals"); the second distinct one decides."""
    pid, first = posted(runtime, slack)
    assert "0 of 2 approvals" in json.dumps(first["blocks"])
    reviewer.click(first, blocks.APPROVE, user="U0ALICE")
    told = slack.wait_for(lambda s: s.ephemerals("U0ALICE"), timeout=5)
    assert "1 of 2" in told[-1]["text"]
    assert runtime.ledger.decision(pid) is None
    work(runtime)
    progress = card(slack, pid)
    assert "1 of 2 approvals" in json.dumps(progress["blocks"])
    assert "&lt;@U0ALICE&gt;" not in json.dumps(progress)
    reviewer.click(progress, blocks.APPROVE, user="U0BOB")
    decision = wait_until(lambda: runtime.ledger.decision(pid), what="the decision")
    assert (decision.outcome, decision.reviewer) == (Outcome.APPROVE, "U0BOB")
    assert runtime.ledger.db.execute("SELECT COUNT(*) FROM approvals WHERE proposal_id = ?", [pid]).fetchone()[0] == 2
    work(runtime)
    assert "Approved" in json.dumps(card(slack, pid)["blocks"])


def test_duplicate_approval_from_the_same_reviewer_counts_once(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Alice clicking Approve twice (even at once) is one approval; Bob's completes the quorum."""
    pid, first = posted(runtime, slack)
    threads = [threading.Thread(target=reviewer.click, args=(first, blocks.APPROVE), kwargs={"user": "U0ALICE"})]
    threads.append(threading.Thread(target=reviewer.click, args=(first, blocks.APPROVE), kwargs={"user": "U0ALICE"}))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    slack.wait_for(lambda s: len(s.ephemerals("U0ALICE")) >= 2, timeout=5)
    assert runtime.ledger.decision(pid) is None
    assert runtime.ledger.approvers(pid) == ["U0ALICE"]
    reviewer.click(first, blocks.APPROVE, user="U0BOB")
    decision = wait_until(lambda: runtime.ledger.decision(pid), what="the decision")
    assert decision.reviewer == "U0BOB"


def test_a_rejection_during_quorum_ends_it(runtime: Runtime, slack: SlackStandIn) -> None:
    """One approval, then one rejection: rejected, and a later approval is told it is already decided."""
    pid, _ = posted(runtime, slack)
    first = decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE", action=None))
    assert first.verdict is Verdict.PROGRESS
    rejected = decide(runtime, make_decision(runtime, pid, Outcome.REJECT, reviewer="U0BOB", comment="too much"))
    assert rejected.won
    late = decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0CAROL", action=None))
    assert (late.won, late.verdict, late.decision.outcome) == (False, Verdict.LOST, Outcome.REJECT)
    assert runtime.ledger.outcome_counts() == {"reject": 1}


def test_agent_owner_cannot_approve_but_others_still_can(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The agent's owner is in the group, yet their approval is refused and does not count toward the two."""
    pid, first = posted(runtime, slack)
    reviewer.click(first, blocks.APPROVE, user="U0OWNER")
    told = slack.wait_for(lambda s: s.ephemerals("U0OWNER"), timeout=5)
    assert "own refund-bot" in told[-1]["text"]
    assert runtime.ledger.approvers(pid) == []
    reviewer.click(first, blocks.APPROVE, user="U0ALICE")
    reviewer.click(first, blocks.APPROVE, user="U0CAROL")
    decision = wait_until(lambda: runtime.ledger.decision(pid), what="the decision")
    assert decision.reviewer == "U0CAROL"


def test_progress_survives_redis_losing_everything(
    runtime: Runtime, slack: SlackStandIn, redis_client: redis.Redis
) -> None:
    """An approval recorded before Redis was emptied still counts: the ledger restores the approvers."""
    pid, _ = posted(runtime, slack)
    action = runtime.ledger.proposal(pid).action  # type: ignore[union-attr]
    decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE", action=action))
    redis_client.flushdb()
    again = decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE", action=action))
    assert again.verdict is Verdict.PROGRESS
    done = decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0BOB", action=action))
    assert done.won


def test_an_edit_restarts_the_count(runtime: Runtime, slack: SlackStandIn) -> None:
    """Approvals count for one exact action: approving an edited action starts the count again."""
    pid, _ = posted(runtime, slack)
    proposal = runtime.ledger.proposal(pid)
    assert proposal is not None
    decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE", action=proposal.action))
    edited = proposal.action.model_copy(update={"args": {"amount": 20}})
    result = decide(runtime, make_decision(runtime, pid, Outcome.EDIT, reviewer="U0BOB", action=edited))
    assert (result.verdict, result.approvers) == (Verdict.PROGRESS, ("U0BOB",))
    final = decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0CAROL", action=edited))
    assert final.won
    assert final.decision.action == edited


@pytest.mark.parametrize(
    ("category", "needed"), [("customer_email", 1), ("issue_refund", 2), ("legal_reply", 2), ("no_such_category", 1)]
)
def test_approvals_needed_is_the_categorys_quorum(category: str, needed: int) -> None:
    """Deciding, the card's progress line and the chain all read the quorum from Policy.approvals_needed."""
    policy = load_policy(REPO / "policy.yaml")
    assert policy.approvals_needed(category) == needed


@pytest.mark.parametrize(("reviewer", "by_policy"), [("policy:timeout", True), ("U0ALICE", False), ("W0BOB", False)])
def test_policy_reviewers_are_told_apart_by_one_rule(reviewer: str, by_policy: bool) -> None:
    """`policy:<rule>` marks a decision the policy took; decide, export and graduation share is_policy_reviewer."""
    assert is_policy_reviewer(reviewer) is by_policy
    assert is_policy_reviewer(policy_reviewer("review_after"))
