"""Pydantic AI through handoff: a real agent on `FunctionModel` defers `send_email`; the proposal goes over the
HTTP API to a real web app and worker; a reviewer's signed clicks decide it; the run resumes with the
decided arguments, and the model receives the reviewer's words."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, ToolApproved, ToolDenied

from bot.adapters.core import Approvals, verdict_of
from bot.adapters.pydantic_ai import (
    Review,
    approval_for,
    capability,
    report_ran,
    resolve,
    tool_call,
    what_the_agent_saw,
)
from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from scoring.models import Action, Decision, Outcome
from tests.adapter_desk import Desk
from tests.api_helpers import add_agent
from tests.conftest import wait_until, work

CALL = {"to": "jane@example.com", "subject": "We miss you", "body": "Here is 20% off your next order."}
SUMMARY = {"send_email": "Email {to}: {subject}"}
CATEGORY = {"send_email": "customer_email"}


@dataclass
class EmailAgent:
    """An agent whose model asks to send one email, then says what the tool call returned."""

    sent: list[dict[str, str]] = field(default_factory=list)
    model_saw: list[str] = field(default_factory=list)

    def model(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)] if messages else []
        if returned:
            self.model_saw.append(returned[0].model_response_str())
            return ModelResponse(parts=[TextPart(f"done: {self.model_saw[-1]}")])
        return ModelResponse(parts=[ToolCallPart("send_email", dict(CALL))])

    def agent(self, **kwargs: Any) -> Agent[None, Any]:
        agent: Agent[None, Any] = Agent(FunctionModel(self.model), **kwargs)

        @agent.tool_plain(requires_approval=True)
        def send_email(to: str, subject: str, body: str) -> str:
            """Send an email to a customer."""
            self.sent.append({"to": to, "subject": subject, "body": body})
            return f"sent to {to}"

        return agent


@pytest.fixture
def client(runtime: Runtime, api_url: str) -> Client:
    token, _ = add_agent(runtime, "pydantic-agent")
    return Client.from_url(api_url, token=token)


@pytest.fixture
def desk(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> Desk:
    return Desk(slack, reviewer, pump=lambda: work(runtime), timeout=15)


def approvals_of(client: Client, *, timeout: float = 30) -> Approvals:
    return Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=timeout)


def run(agent: Agent[None, Any], prompt: str | None = None, **kwargs: Any) -> Any:
    """`agent.run` on a loop of its own that is closed afterwards (`run_sync` leaves its loop open)."""
    return asyncio.run(agent.run(prompt, **kwargs))


def in_background(call: Callable[[], Any]) -> Callable[[], Any]:
    """Run `call` on a thread (the agent waits while the test clicks); the returned join gives its result."""
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(value=call()))
    thread.start()

    def join() -> Any:
        thread.join(timeout=60)
        assert not thread.is_alive(), "the agent is still waiting"
        return box["value"]

    return join


def deferred_then_resolved(client: Client, email: EmailAgent, *, wait: float = 30) -> tuple[Any, Iterator[Any]]:
    """First run to the deferred call, then resolve it in the background; yields the review then the result."""
    agent = email.agent(output_type=[str, DeferredToolRequests])
    first = run(agent, "Jane churned last week; win her back.")
    assert isinstance(first.output, DeferredToolRequests)
    approvals = Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=wait)
    join = in_background(lambda: resolve(approvals, first.output, messages=first.all_messages()))

    def resumed() -> Iterator[Any]:
        review: Review = join()
        yield review
        yield run(agent, message_history=first.all_messages(), deferred_tool_results=review.results)

    return first, resumed()


def test_approve_runs_the_exact_call_shown(client: Client, desk: Desk, runtime: Runtime) -> None:
    email = EmailAgent()
    _, steps = deferred_then_resolved(client, email)
    card = desk.approve("Email jane@example.com: We miss you")
    review = next(steps)
    [verdict] = review.verdicts.values()
    assert (verdict.outcome, verdict.args) == ("approve", CALL)
    assert list(review.results.approvals.values()) == [True]
    result = next(steps)
    assert email.sent == [CALL]
    assert email.model_saw == ["sent to jane@example.com"]
    assert result.output == "done: sent to jane@example.com"
    assert report_ran(approvals_of(client), review, result.new_messages()) == [verdict.proposal_id]
    wait_until(lambda: work(runtime) or runtime.ledger.execution(verdict.proposal_id) == "ok", what="the report")
    proposal = runtime.ledger.proposal(verdict.proposal_id)
    assert proposal.input.request == "Jane churned last week; win her back."
    assert "Email jane@example.com: We miss you" in str(card["blocks"])


def test_edit_runs_with_the_reviewers_arguments(client: Client, desk: Desk) -> None:
    email = EmailAgent()
    _, steps = deferred_then_resolved(client, email)
    desk.edit("Email jane@example.com", {"subject": "Come back, Jane"})
    review = next(steps)
    [approval] = review.results.approvals.values()
    assert isinstance(approval, ToolApproved)
    assert approval.override_args == {**CALL, "subject": "Come back, Jane"}
    next(steps)
    assert email.sent == [{**CALL, "subject": "Come back, Jane"}]
    assert email.model_saw == ["sent to jane@example.com"]


def test_reject_reason_reaches_the_model_and_nothing_runs(client: Client, desk: Desk) -> None:
    email = EmailAgent()
    _, steps = deferred_then_resolved(client, email)
    desk.reject("Email jane@example.com", "Discounts over 15% need a manager")
    review = next(steps)
    [approval] = review.results.approvals.values()
    assert isinstance(approval, ToolDenied)
    result = next(steps)
    assert email.sent == []
    assert len(email.model_saw) == 1
    assert "Discounts over 15% need a manager" in email.model_saw[0]
    assert "rejected" in result.output


def test_a_timeout_leaves_the_call_pending_never_approved_or_denied(
    client: Client, desk: Desk, runtime: Runtime
) -> None:
    email = EmailAgent()
    agent = email.agent(output_type=[str, DeferredToolRequests])
    first = run(agent, "Jane churned last week; win her back.")
    approvals = Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=0.5)
    review = resolve(approvals, first.output, messages=first.all_messages())
    [(call_id, verdict)] = review.verdicts.items()
    assert verdict.outcome == "timeout"
    assert review.results.approvals == {}
    assert review.pending == {call_id: verdict.proposal_id}
    work(runtime)
    assert runtime.board.is_pending(verdict.proposal_id), "still waiting for a person"

    # Waiting again waits on the same proposal (no second card), and a later click still decides it.
    pending = review.pending
    join = in_background(
        lambda: resolve(approvals, first.output, messages=first.all_messages(), pending=pending, timeout=30)
    )
    desk.approve(verdict.proposal_id)
    again: Review = join()
    assert again.verdicts[call_id].proposal_id == verdict.proposal_id
    assert again.results.approvals == {call_id: True}
    assert email.sent == []  # the run has not resumed yet

    # Resolving the same requests again, without `pending`, finds the same review (its id follows from the call).
    once_more = resolve(approvals, first.output, messages=first.all_messages(), timeout=5)
    assert once_more.verdicts[call_id].proposal_id == verdict.proposal_id
    assert once_more.results.approvals == {call_id: True}
    assert runtime.ledger.outcome_counts() == {"approve": 1}


def test_the_capability_decides_inside_one_run(client: Client, desk: Desk) -> None:
    email = EmailAgent()
    approvals = Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=30)
    agent = email.agent(capabilities=[capability(approvals)])
    join = in_background(lambda: run(agent, "Jane churned last week; win her back."))
    desk.reject("Email jane@example.com", "Wrong customer")
    result = join()
    assert email.sent == []
    assert "Wrong customer" in email.model_saw[0]
    assert "Wrong customer" in result.output


def test_the_proposal_carries_what_the_agent_saw(client: Client, runtime: Runtime) -> None:
    history: list[ModelMessage] = [
        ModelRequest.user_text_prompt("Find Jane's last order, then email her."),
        ModelResponse(parts=[ToolCallPart("find_order", {"customer": "jane"}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart("find_order", "order 1234: a blue kettle", tool_call_id="c1")]),
        ModelResponse(parts=[TextPart("Found it."), ToolCallPart("send_email", dict(CALL), tool_call_id="c2")]),
    ]
    requests = DeferredToolRequests(approvals=[ToolCallPart("send_email", dict(CALL), tool_call_id="c2")])
    approvals = Approvals(category=CATEGORY, summary=SUMMARY, client=client, timeout=0)
    review = resolve(approvals, requests, messages=history)
    submission = runtime.board.get_proposal(review.pending["c2"])
    assert submission is not None
    seen = submission.proposal.input
    assert seen.request == "Find Jane's last order, then email her."
    assert [(c.source, c.text) for c in seen.context] == [("find_order", "order 1234: a blue kettle")]
    assert [(t.role, t.text) for t in seen.conversation] == [
        ("user", "Find Jane's last order, then email her."),
        ("assistant", "Found it."),
    ]
    assert submission.proposal.agent == "pydantic-agent", "over HTTP the token names the agent"
    assert submission.proposal.summary == "Email jane@example.com: We miss you"


def _decided(outcome: Outcome, action: Action | None, comment: str = "") -> Decision:
    return Decision(
        proposal_id="p1", outcome=outcome, action=action, reviewer="U0ALICE", comment=comment, decided_at="2026-11-30"
    )


def test_each_decision_maps_to_the_answer_pydantic_ai_expects() -> None:
    """The mapping on its own: only the call shown runs; another tool, a rejection or an expiry say why."""
    part = ToolCallPart("send_email", dict(CALL), tool_call_id="c1")
    call = tool_call(part, what_the_agent_saw([]))
    same_tool = Action(name="send_email", args={**CALL, "to": "john@example.com"})
    assert approval_for(part, verdict_of(_decided(Outcome.APPROVE, Action(name="send_email", args=CALL)), call))
    alternative = approval_for(part, verdict_of(_decided(Outcome.ALTERNATIVE, same_tool), call))
    assert alternative == ToolApproved(override_args={**CALL, "to": "john@example.com"})
    switched = approval_for(part, verdict_of(_decided(Outcome.EDIT, Action(name="create_ticket", args={})), call))
    assert isinstance(switched, ToolDenied)
    assert "create_ticket" in switched.message
    redirected = approval_for(part, verdict_of(_decided(Outcome.REDIRECT, None, "ask billing first"), call))
    assert isinstance(redirected, ToolDenied)
    assert "ask billing first" in redirected.message
    expired = approval_for(part, verdict_of(_decided(Outcome.TIMEOUT, None), call))
    assert isinstance(expired, ToolDenied), "handoff's own expiry is final: the model is told it timed out"
    assert "did not run" in expired.message
    assert "rejected" not in expired.message
