"""A redirect never widens who may decide: quorum counts only eligible reviewers, and an owner's barred
approval cannot be laundered through a redirect (the attacks of issue 10, item 2, as signed requests)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from bot.app.wiring import build_runtime
from bot.client import Client
from bot.review import timers
from bot.review.decide import action_fingerprint, decide, make_decision
from bot.runtime import Runtime, activate
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.store.review_state import Verdict
from scoring.models import Outcome
from scoring.policy import parse_policy
from tests.conftest import wait_until, work
from tests.test_flows import card_of, open_modal

POLICY = """
owners: [U0LEAD]
agents:
  refund-bot: {owner: U0OWNER}
categories:
  issue_refund:
    level: approve_before
    never_graduate: true
    reviewers: {usergroups: [S0FINANCE]}
    approvals: 2
    owner_may_approve: false
"""
REFUND = {
    "category": "issue_refund",
    "agent": "refund-bot",
    "action": {"name": "refund", "args": {"to": "jane@example.com", "amount": 49}},
    "summary": "Refund Jane $49",
}
FINANCE = ["U0FINA", "U0FINB", "U0OWNER"]


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis, slack: SlackStandIn) -> Runtime:
    slack.set_usergroup("S0FINANCE", FINANCE)
    rt = build_runtime(settings, redis_url=settings.redis_url or "", policy=parse_policy(POLICY))
    activate(rt)
    return rt


def posted(runtime: Runtime) -> str:
    pid = Client(runtime.redis, policy=runtime.policy).submit(REFUND)
    work(runtime)
    return pid


def approve(slack: SlackStandIn, reviewer: Reviewer, pid: str, user: str) -> str:
    """Click Approve as `user`; returns what they were told ("" when their click decided)."""
    seen = len(slack.ephemerals(user))
    assert reviewer.click(card_of(slack, pid), blocks.APPROVE, user=user).status == 200
    told = slack.wait_for(lambda s: len(s.ephemerals(user)) > seen and s.ephemerals(user)[-1], timeout=5)
    return str(told["text"])


def redirect(slack: SlackStandIn, reviewer: Reviewer, pid: str, *, by: str, to: str) -> dict[str, Any]:
    """Open the Redirect modal as `by` and hand the review to person `to`; returns the modal's answer."""
    opened = open_modal(slack, reviewer, pid, blocks.REDIRECT, user=by)
    response = reviewer.submit_view(opened, {blocks.PERSON_BLOCK: {blocks.PERSON_INPUT: to}}, user=by)
    assert response.status == 200
    return response.json() if response.body else {}


def counted(runtime: Runtime, pid: str) -> list[str]:
    proposal = runtime.ledger.proposal(pid)
    assert proposal is not None
    return runtime.ledger.approvals(pid, action_fingerprint(proposal.action))


def test_owner_cannot_redirect_to_cronies_who_then_decide(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The owner's redirect to someone outside finance is refused in the modal, and the outsider's
    approval is refused: nothing counts, nothing is decided."""
    pid = posted(runtime)
    answer = redirect(slack, reviewer, pid, by="U0OWNER", to="U0CRONYA")
    assert "not a reviewer for issue_refund" in answer["errors"][blocks.PERSON_BLOCK]
    assert {t.generation for t in runtime.ledger.timers(pid)} == {1}, "the chain was not restarted"
    assert "not a reviewer for issue_refund" in approve(slack, reviewer, pid, "U0CRONYA")
    assert "not a reviewer for issue_refund" in approve(slack, reviewer, pid, "U0CRONYB")
    assert counted(runtime, pid) == []
    assert runtime.ledger.decision(pid) is None


def test_one_eligible_approval_and_an_outsider_do_not_make_a_quorum(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """FINA approves and tries to redirect to U0RANDOM: refused; RANDOM's approval is refused; it takes a
    second finance reviewer to decide."""
    pid = posted(runtime)
    assert "1 of 2" in approve(slack, reviewer, pid, "U0FINA")
    assert "not a reviewer" in redirect(slack, reviewer, pid, by="U0FINA", to="U0RANDOM")["errors"][blocks.PERSON_BLOCK]
    assert "not a reviewer" in approve(slack, reviewer, pid, "U0RANDOM")
    assert counted(runtime, pid) == ["U0FINA"]
    assert runtime.ledger.decision(pid) is None
    reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0FINB")
    decision = wait_until(lambda: runtime.ledger.decision(pid), what="the decision")
    assert (decision.outcome, decision.reviewer) == (Outcome.APPROVE, "U0FINB")
    assert counted(runtime, pid) == ["U0FINA", "U0FINB"]


def test_owner_redirecting_to_an_eligible_reviewer_is_fine_but_their_own_approval_never_counts(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The owner may pass the review to a finance reviewer; the owner's approvals (before and after) and a
    duplicate approval count for nothing; two distinct eligible reviewers decide."""
    pid = posted(runtime)
    assert "own refund-bot" in approve(slack, reviewer, pid, "U0OWNER")
    assert redirect(slack, reviewer, pid, by="U0OWNER", to="U0FINA") == {}
    wait_until(lambda: runtime.ledger.timers(pid)[0].assignee == "U0FINA", what="the chain to restart for FINA")
    assert "1 of 2" in approve(slack, reviewer, pid, "U0FINA")
    assert "1 of 2" in approve(slack, reviewer, pid, "U0FINA")
    assert "own refund-bot" in approve(slack, reviewer, pid, "U0OWNER")
    assert counted(runtime, pid) == ["U0FINA"]
    reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0FINB")
    assert wait_until(lambda: runtime.ledger.decision(pid), what="the decision").reviewer == "U0FINB"


@pytest.mark.parametrize("outcome", [Outcome.APPROVE, Outcome.REJECT, Outcome.EDIT])
def test_a_redirect_recorded_to_an_outsider_still_gives_them_no_say(runtime: Runtime, outcome: Outcome) -> None:
    """Even with a chain restarted for an outsider (an older redirect), every decision path refuses them."""
    pid = posted(runtime)
    assert timers.restart_chain(runtime, pid, "U0RANDOM")
    action = runtime.ledger.proposal(pid).action  # type: ignore[union-attr]
    result = decide(runtime, make_decision(runtime, pid, outcome, reviewer="U0RANDOM", action=action))
    assert result.verdict is Verdict.REFUSED
    assert "not a reviewer" in result.note
    assert counted(runtime, pid) == []
    assert runtime.ledger.decision(pid) is None


def test_a_category_not_in_the_policy_is_refused_at_intake(runtime: Runtime, slack: SlackStandIn) -> None:
    """`Issue_Refund` from a client built without a policy is refused by the worker: no card, no reviewer
    can decide it, and the agent is told why."""
    # The client refuses categories the deployment did not publish; this one checked against a stale list.
    runtime.board.publish_categories([*runtime.policy.categories, "Issue_Refund"], version="stale")
    pid = Client(runtime.redis).submit({**REFUND, "category": "Issue_Refund"})
    work(runtime)
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None
    assert (decision.outcome, decision.reviewer) == (Outcome.REJECT, "policy:refused")
    assert "category: 'Issue_Refund' is not in the policy" in decision.comment
    assert runtime.ledger.proposal(pid) is None
    assert not slack.messages()


def test_a_category_removed_after_submission_is_decided_only_by_the_policy_owners(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The policy changes under a pending review: finance, outsiders and the agent's owner are refused; one
    of the policy's owners decides."""
    pid = posted(runtime)
    runtime.policy = parse_policy(POLICY.replace("issue_refund:", "issue_refund_v2:"))
    for user in ("U0FINA", "U0RANDOM", "U0OWNER"):
        assert "only the policy's owners (<@U0LEAD>)" in approve(slack, reviewer, pid, user)
    assert runtime.ledger.decision(pid) is None
    reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0LEAD")
    decision = wait_until(lambda: runtime.ledger.decision(pid), what="the owner's decision")
    assert (decision.outcome, decision.reviewer) == (Outcome.APPROVE, "U0LEAD")
