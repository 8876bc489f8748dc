"""Claude Agent SDK through handoff: the SDK's own `query()` drives the `can_use_tool` callback (the Claude Code
CLI played by `ClaudeCodeStandIn` over the SDK's transport seam); the proposal goes over the HTTP API to a real
web app and worker; signed clicks decide it; the tool runs with the decided input, or the model reads why not."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

pytest.importorskip("claude_agent_sdk")

from claude_agent_sdk import (
    ClaudeAgentOptions,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    ToolPermissionContext,
    query,
)

from bot.adapters.claude_agent_sdk import HandoffPermissions, permission_for
from bot.adapters.core import Approvals, ToolCall, verdict_of
from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.claude_code import ClaudeCodeStandIn
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from scoring.models import Action, Decision, Outcome
from tests.adapter_desk import Desk
from tests.api_helpers import add_agent
from tests.conftest import work

CALL = {"to": "jane@example.com", "subject": "We miss you", "body": "Here is 20% off your next order."}
CATEGORY = {"send_email": "customer_email"}
SUMMARY = {"send_email": "Email {to}: {subject}"}
PROMPT = "Jane churned last week; win her back."


@pytest.fixture
def client(runtime: Runtime, api_url: str) -> Client:
    token, _ = add_agent(runtime, "claude-agent")
    return Client.from_url(api_url, token=token)


@pytest.fixture
def desk(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> Desk:
    return Desk(slack, reviewer, pump=lambda: work(runtime), timeout=15)


class Run:
    """One SDK `query()` with the handoff callback, on a thread while the test clicks."""

    def __init__(self, client: Client, *, timeout: float = 30) -> None:
        self.sent: list[dict[str, Any]] = []
        self.permissions = HandoffPermissions(
            Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=timeout), request=PROMPT
        )
        self.cli = ClaudeCodeStandIn(
            tool_name="send_email",
            tool_input=dict(CALL),
            run_tool=self.send_email,
            title="Claude wants to send an email to jane@example.com",
        )
        self.messages: list[Any] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()))
        self.thread.start()

    def send_email(self, args: dict[str, Any]) -> str:
        self.sent.append(args)
        return f"sent to {args['to']}"

    async def _run(self) -> None:
        options = ClaudeAgentOptions(can_use_tool=self.permissions)
        async for message in query(prompt=PROMPT, options=options, transport=self.cli):
            self.messages.append(message)

    def join(self) -> ResultMessage:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the run is still waiting"
        result = self.messages[-1]
        assert isinstance(result, ResultMessage)
        return result


def test_approve_allows_exactly_the_input_shown(client: Client, desk: Desk, runtime: Runtime) -> None:
    run = Run(client)
    desk.approve("Email jane@example.com: We miss you")
    run.join()
    assert run.cli.permission == {"behavior": "allow", "updatedInput": CALL}
    assert run.sent == [CALL]
    assert run.cli.model_saw == "sent to jane@example.com"
    [verdict] = run.permissions.verdicts.values()
    assert (verdict.outcome, verdict.reviewer) == ("approve", "U0ALICE")
    proposal = runtime.ledger.proposal(verdict.proposal_id)
    assert proposal is not None
    assert proposal.input.request == PROMPT
    assert [(c.source, c.text) for c in proposal.input.context] == [
        ("permission prompt", "Claude wants to send an email to jane@example.com")
    ]
    assert [run.cli.tool_use_id] == list(run.permissions.verdicts)


def test_edit_runs_the_tool_with_the_reviewers_input(client: Client, desk: Desk) -> None:
    run = Run(client)
    desk.edit("Email jane@example.com", {"body": "Here is 15% off your next order."})
    run.join()
    edited = {**CALL, "body": "Here is 15% off your next order."}
    assert run.cli.permission == {"behavior": "allow", "updatedInput": edited}
    assert run.sent == [edited]


def test_reject_denies_and_the_reason_reaches_the_model(client: Client, desk: Desk) -> None:
    run = Run(client)
    desk.reject("Email jane@example.com", "Discounts over 15% need a manager")
    result = run.join()
    assert run.sent == []
    assert run.cli.permission is not None
    assert run.cli.permission["behavior"] == "deny"
    assert "Discounts over 15% need a manager" in str(run.cli.model_saw)
    assert "Discounts over 15% need a manager" in str(result.result)
    assert "interrupt" not in run.cli.permission, "a rejection lets Claude go on and do better"


def test_a_timeout_is_said_as_a_timeout_and_stops_the_run(client: Client, runtime: Runtime) -> None:
    run = Run(client, timeout=0.5)
    run.join()
    assert run.sent == []
    [verdict] = run.permissions.verdicts.values()
    assert verdict.outcome == "timeout"
    assert run.cli.permission == {"behavior": "deny", "message": verdict.message, "interrupt": True}
    assert "neither an approval nor a rejection" in str(run.cli.model_saw)
    work(runtime)
    assert runtime.board.is_pending(verdict.proposal_id), "the review is still open"


def test_an_alternative_naming_another_tool_is_denied_and_named_never_run() -> None:
    """A reviewer's alternative that switches the tool is a new action: this call is denied, and says which."""
    call = ToolCall(name="send_email", args=CALL)
    decision = Decision(
        proposal_id="p1",
        outcome=Outcome.ALTERNATIVE,
        action=Action(name="create_ticket", args={"title": "Call Jane"}),
        reviewer="U0ALICE",
        decided_at="2026-11-30T05:00:00Z",
    )
    permission = permission_for(verdict_of(decision, call))
    assert isinstance(permission, PermissionResultDeny)
    assert "create_ticket" in permission.message
    assert not permission.interrupt


def test_the_callback_takes_the_sdks_own_context_type(client: Client, desk: Desk) -> None:
    """Invoked as the SDK invokes it: tool name, input dict, a real ToolPermissionContext."""
    permissions = HandoffPermissions(Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=30))
    context = ToolPermissionContext(tool_use_id="toolu_direct", decision_reason="ask rule for send_email")
    answer: list[Any] = []

    def caller() -> None:
        answer.append(asyncio.run(permissions("send_email", dict(CALL), context)))

    thread = threading.Thread(target=caller)
    thread.start()
    desk.approve("Email jane@example.com")
    thread.join(timeout=60)
    assert answer == [PermissionResultAllow(updated_input=CALL)]
    assert list(permissions.verdicts) == ["toolu_direct"]


def test_the_same_call_asked_again_waits_on_the_same_review(client: Client, desk: Desk, runtime: Runtime) -> None:
    """A resumed session asks about the same tool_use_id again: one review, decided once, answers both."""
    permissions = HandoffPermissions(Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=0.5))
    context = ToolPermissionContext(tool_use_id="toolu_resumed")
    first = asyncio.run(permissions("send_email", dict(CALL), context))
    assert isinstance(first, PermissionResultDeny)
    assert first.interrupt
    permissions.approvals.timeout = 30
    answer: list[Any] = []

    def caller() -> None:
        answer.append(asyncio.run(permissions("send_email", dict(CALL), context)))

    thread = threading.Thread(target=caller)
    thread.start()
    desk.approve("Email jane@example.com")
    thread.join(timeout=60)
    assert answer == [PermissionResultAllow(updated_input=CALL)]
    assert runtime.ledger.outcome_counts() == {"approve": 1}
