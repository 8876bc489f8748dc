"""Who may decide: listed users, user-group members (cached), the rotation as fallback, never the agent's owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import redis

from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.slack.usergroups import members
from scoring.policy import parse_policy
from tests.conftest import activated, wait_until, work

POLICY = """
channel: "#reviews"
rotations:
  oncall: {members: [U0ROTA, U0ROTB], shift: 1d, start: 2025-01-06T09:00, timezone: Europe/Berlin}
agents:
  refund-bot: {owner: U0OWNER}
categories:
  open: {level: approve_before}
  listed: {level: approve_before, reviewers: [U0LISTED]}
  grouped: {level: approve_before, reviewers: {usergroups: [S0GROUP]}}
  fallback: {level: approve_before, reviewers: {usergroups: [S0GROUP], rotation: oncall}}
  owned: {level: approve_before, reviewers: {usergroups: [S0GROUP]}, owner_may_approve: false}
"""


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis) -> Iterator[Runtime]:
    """A runtime on the test policy above."""
    with activated(settings, policy=parse_policy(POLICY)) as rt:
        yield rt


def proposal(category: str, agent: str = "refund-bot") -> dict[str, Any]:
    return {"category": category, "agent": agent, "action": {"name": "do", "args": {"x": 1}}, "summary": "Do x"}


def posted(runtime: Runtime, slack: SlackStandIn, category: str) -> tuple[str, dict[str, Any]]:
    """Submit, assess, and return the proposal id and its card."""
    from bot.client import Client

    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal(category))
    work(runtime)
    cards = [m for m in slack.messages() if f"review:{pid}:" in json.dumps(m.get("blocks") or [])]
    assert cards, f"no card for {pid}"
    return pid, cards[-1]


@pytest.mark.parametrize(
    ("category", "user", "group", "fault", "allowed"),
    [
        ("open", "U0ANYONE", None, None, True),
        ("listed", "U0LISTED", None, None, True),
        ("listed", "U0STRANGER", None, None, False),
        ("grouped", "U0MEMBER", ["U0MEMBER"], None, True),
        ("grouped", "U0STRANGER", ["U0MEMBER"], None, False),
        ("grouped", "U0MEMBER", None, None, False),  # no_such_subteam: nobody can be checked
        ("fallback", "U0ROTB", None, "paid_teams_only", True),  # the rotation stands in
        ("fallback", "U0MEMBER", ["U0MEMBER"], "paid_teams_only", False),
        ("fallback", "U0ROTA", ["U0MEMBER"], 429, True),
        ("owned", "U0MEMBER", ["U0MEMBER", "U0OWNER"], None, True),
        ("owned", "U0OWNER", ["U0MEMBER", "U0OWNER"], None, False),  # the agent's owner may not approve
    ],
)
def test_authorization_matrix(
    runtime: Runtime,
    slack: SlackStandIn,
    reviewer: Reviewer,
    category: str,
    user: str,
    group: list[str] | None,
    fault: str | int | None,
    allowed: bool,
) -> None:
    """Each kind of reviewer, with the group API answering, missing or failing; a refusal changes nothing."""
    if group is not None:
        slack.set_usergroup("S0GROUP", group)
    if fault == 429:
        slack.fail_next("usergroups.users.list", status=429, retry_after=0, times=5)
    elif fault:
        slack.fail_next("usergroups.users.list", error=str(fault), times=5)
    pid, card = posted(runtime, slack, category)
    assert reviewer.click(card, blocks.APPROVE, user=user).status == 200
    if allowed:
        decision = wait_until(lambda: runtime.ledger.decision(pid), what="the decision")
        assert (decision.outcome, decision.reviewer) == ("approve", user)
        return
    told = slack.wait_for(lambda s: s.ephemerals(user), timeout=5)
    assert "nothing changed" in told[-1]["text"].lower()
    assert runtime.ledger.decision(pid) is None
    assert runtime.board.is_pending(pid)


def test_identity_is_the_requests_user_not_the_button(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """A forged button value naming a reviewer does not make a stranger one."""
    pid, card = posted(runtime, slack, "listed")
    form = parse_qs(reviewer.click_payload(card, blocks.APPROVE, user="U0STRANGER").decode())
    payload = json.loads(form["payload"][0])
    payload["actions"][0]["user"] = {"id": "U0LISTED"}
    payload["actions"][0]["reviewer"] = "U0LISTED"
    assert reviewer.post(urlencode({"payload": json.dumps(payload)}).encode()).status == 200
    slack.wait_for(lambda s: s.ephemerals("U0STRANGER"), timeout=5)
    assert runtime.ledger.decision(pid) is None


def test_group_membership_is_cached(runtime: Runtime, slack: SlackStandIn) -> None:
    """usergroups.users.list is called once for many checks; a failure is remembered briefly, not retried per click."""
    slack.set_usergroup("S0GROUP", ["U0MEMBER"])
    for _ in range(5):
        assert members(runtime, "S0GROUP").users == frozenset({"U0MEMBER"})
    slack.fail_next("usergroups.users.list", error="paid_teams_only")
    for _ in range(3):
        assert members(runtime, "S0OTHER").error == "paid_teams_only"
    calls = [c for c in slack.calls if c.method == "usergroups.users.list"]
    assert len(calls) == 2


def test_fallback_is_said_on_the_card_and_the_on_call_is_mentioned(runtime: Runtime, slack: SlackStandIn) -> None:
    """With the group unavailable, the card names the on-call reviewer and says it fell back to the rotation."""
    slack.fail_next("usergroups.users.list", error="paid_teams_only")
    pid, card = posted(runtime, slack, "fallback")
    text = json.dumps(card["blocks"])
    assert "user group unavailable" in text
    assert "<@U0ROT" in text
    steps = runtime.ledger.db.execute(
        "SELECT kind, detail FROM escalation_steps WHERE proposal_id = ?", [pid]
    ).fetchall()
    assert steps[0][0] == "asked"
    assert "falling back to the rotation" in steps[0][1]
