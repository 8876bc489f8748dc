"""LangChain's agent with HumanInTheLoopMiddleware, decided in handoff: real LangGraph, a scripted LangChain
fake chat model, handoff's API server and worker jobs, and signed clicks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from bot.adapters.core import Approvals, proposal_id_for
from bot.adapters.langgraph import ReviewedRun, run_reviewed
from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from tests.adapter_helpers import Person, meanwhile
from tests.api_helpers import add_agent
from tests.conftest import SIGNING_SECRET

ARGS = {"to": "jane@example.com", "subject": "We miss you", "body": "40% off your next year"}
ASK = "Jane churned last week; email her a discount."


class ScriptedChatModel(GenericFakeChatModel):
    """LangChain's fake chat model, with tools bound as is and every prompt it was given kept."""

    received: list[list[BaseMessage]] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.received.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


class Mailbox:
    """The send_email tool: what it was run with."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def tool(self) -> BaseTool:
        def send_email(to: str, subject: str, body: str) -> str:
            """Send an email to a customer."""
            self.sent.append({"to": to, "subject": subject, "body": body})
            return f"sent to {to}"

        return StructuredTool.from_function(send_email)


def scripted(*tool_calls: dict[str, Any]) -> ScriptedChatModel:
    """A model that asks for `tool_calls` (ids call_1, call_2, ...) in one turn, then answers "Done."."""
    calls = [{"name": c["name"], "args": c["args"], "id": f"call_{i}"} for i, c in enumerate(tool_calls, 1)]
    return ScriptedChatModel(messages=iter([AIMessage(content="", tool_calls=calls), AIMessage(content="Done.")]))


def email_agent(model: ScriptedChatModel, mailbox: Mailbox, *, mode: str = "batched") -> CompiledStateGraph[Any]:
    hitl = HumanInTheLoopMiddleware(interrupt_on={"send_email": True}, interrupt_mode=mode)  # type: ignore[arg-type]
    return create_agent(model, tools=[mailbox.tool()], middleware=[hitl], checkpointer=InMemorySaver())


@pytest.fixture
def person(runtime: Runtime, slack: SlackStandIn, api_url: str) -> Person:
    return Person(runtime, slack, Reviewer(api_url + "/slack/events", SIGNING_SECRET, slack))


@pytest.fixture
def approvals(runtime: Runtime, api_url: str) -> Iterator[Approvals]:
    """The adapter over handoff's HTTP API, as an agent elsewhere reaches it (HANDOFF_URL, HANDOFF_TOKEN)."""
    token, _ = add_agent(runtime, "lg-agent")
    settings = Settings(handoff_url=api_url, handoff_token=token, wait=20)  # type: ignore[arg-type]
    gate = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"},
                     settings=settings)  # fmt: skip
    yield gate
    gate.close()


def run(agent: CompiledStateGraph[Any], approvals: Approvals, thread: str, *, fresh: bool = True) -> ReviewedRun:
    config = {"configurable": {"thread_id": thread}}
    start = {"messages": [{"role": "user", "content": ASK}]} if fresh else None
    return run_reviewed(agent, start, config=config, approvals=approvals)  # type: ignore[arg-type]


def tool_message(messages: list[BaseMessage]) -> ToolMessage:
    found = [m for m in messages if isinstance(m, ToolMessage)]
    assert len(found) == 1, messages
    return found[0]


def test_an_approval_runs_the_tool_with_the_proposed_args(person: Person, approvals: Approvals) -> None:
    model, mailbox = scripted({"name": "send_email", "args": ARGS}), Mailbox()
    pid = proposal_id_for("t-approve", "call_1")
    with meanwhile(lambda: run(email_agent(model, mailbox), approvals, "t-approve")) as future:
        person.approve(pid)
        done = future.result(timeout=30)
    assert mailbox.sent == [ARGS]
    assert [(c.name, v.outcome, v.runs) for c, v in done.reviews] == [("send_email", "approve", True)]
    assert not done.paused
    assert tool_message(model.received[-1]).text == "sent to jane@example.com"
    proposal = person.runtime.ledger.proposal(pid)
    assert proposal is not None
    assert (proposal.summary, proposal.input.request) == ("Email jane@example.com: We miss you", ASK)
    assert person.execution(pid) == "ok", "the adapter reported that the approved call ran"


def test_an_edit_runs_the_edited_args_and_the_model_is_told(person: Person, approvals: Approvals) -> None:
    model, mailbox = scripted({"name": "send_email", "args": ARGS}), Mailbox()
    pid = proposal_id_for("t-edit", "call_1")
    with meanwhile(lambda: run(email_agent(model, mailbox), approvals, "t-edit")) as future:
        person.edit(pid, {"body": "20% off your next year"})
        done = future.result(timeout=30)
    assert mailbox.sent == [{**ARGS, "body": "20% off your next year"}]
    assert [(v.outcome, v.args) for _c, v in done.reviews] == [("edit", {**ARGS, "body": "20% off your next year"})]
    seen = tool_message(model.received[-1]).text
    assert "a human reviewer replaced this tool call" in seen
    assert '"body": "20% off your next year"' in seen
    assert seen.endswith("sent to jane@example.com")


def test_a_rejection_does_not_run_and_its_reason_reaches_the_model(person: Person, approvals: Approvals) -> None:
    model, mailbox = scripted({"name": "send_email", "args": ARGS}), Mailbox()
    pid = proposal_id_for("t-reject", "call_1")
    reason = "A 40% discount needs a manager's sign-off"
    with meanwhile(lambda: run(email_agent(model, mailbox), approvals, "t-reject")) as future:
        person.reject(pid, reason)
        done = future.result(timeout=30)
    assert mailbox.sent == []
    seen = tool_message(model.received[-1])
    assert seen.text == f"User rejected the tool call for `send_email` with reason: {reason}"
    assert seen.status == "error"
    assert done.handed_back(done.reviews[0][0]) == seen.text
    assert person.execution(pid) == "skipped", "handoff records the rejected call as not run; no report says otherwise"


def test_a_timeout_leaves_the_thread_paused_and_a_later_run_picks_up_the_decision(
    person: Person, approvals: Approvals
) -> None:
    """No decision in the wait: nothing runs, nothing is answered; the decision that comes later resumes it."""
    model, mailbox = scripted({"name": "send_email", "args": ARGS}), Mailbox()
    agent = email_agent(model, mailbox)
    pid = proposal_id_for("t-timeout", "call_1")
    approvals.timeout = 0.3
    first = run(agent, approvals, "t-timeout")
    assert first.paused
    assert [v.outcome for _c, v in first.reviews] == ["timeout"]
    assert mailbox.sent == []
    assert len(model.received) == 1, "the model was not called again"
    assert agent.get_state({"configurable": {"thread_id": "t-timeout"}}).interrupts, "still interrupted"
    person.approve(pid)
    later = run(agent, approvals, "t-timeout", fresh=False)
    assert (later.paused, [v.outcome for _c, v in later.reviews]) == (False, ["approve"])
    assert mailbox.sent == [ARGS]
    assert [v.proposal_id for _c, v in first.reviews + later.reviews] == [pid, pid], "waited on, not resubmitted"


def test_per_call_mode_and_the_redis_transport(person: Person, runtime: Runtime) -> None:
    """One interrupt per call (per_call mode), over Redis: two calls, one approved and one rejected."""
    other = {**ARGS, "to": "sam@example.com"}
    model, mailbox = scripted({"name": "send_email", "args": ARGS}, {"name": "send_email", "args": other}), Mailbox()
    gate = Approvals(category={"send_email": "customer_email"}, client=Client(runtime.redis, policy=runtime.policy),
                     timeout=20)  # fmt: skip
    with meanwhile(lambda: run(email_agent(model, mailbox, mode="per_call"), gate, "t-per-call")) as future:
        person.approve(proposal_id_for("t-per-call", "call_1"))
        person.reject(proposal_id_for("t-per-call", "call_2"), "Sam opted out of email")
        done = future.result(timeout=30)
    gate.close()
    assert mailbox.sent == [ARGS]
    assert sorted(v.outcome for _c, v in done.reviews) == ["approve", "reject"]
    texts = sorted(m.text for m in model.received[-1] if isinstance(m, ToolMessage))
    assert texts == ["User rejected the tool call for `send_email` with reason: Sam opted out of email",
                     "sent to jane@example.com"]  # fmt: skip


def test_an_alternative_naming_another_tool_runs_neither(person: Person, approvals: Approvals) -> None:
    """The reviewer picks another tool's action: the middleware is answered reject, with what was chosen."""
    model, mailbox = scripted({"name": "send_email", "args": ARGS}), Mailbox()
    ticket = {"name": "create_ticket", "args": {"title": "Call Jane"}}
    approvals.enrich = lambda call: {"alternatives": [{"summary": "Call her", "action": ticket}]}
    pid = proposal_id_for("t-alt", "call_1")
    with meanwhile(lambda: run(email_agent(model, mailbox), approvals, "t-alt")) as future:
        person.pick_alternative(pid, 0)
        done = future.result(timeout=30)
    assert mailbox.sent == []
    verdict = done.reviews[0][1]
    assert (verdict.outcome, verdict.runs, verdict.switched_tool) == ("alternative", False, True)
    seen = tool_message(model.received[-1]).text
    assert seen.startswith("User rejected the tool call for `send_email` with reason: The reviewer chose")
    assert "send_email did not run, and neither did create_ticket" in seen
