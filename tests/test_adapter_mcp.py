"""MCP through handoff: the MCP SDK's own client launches `handoff mcp` over stdio and calls `request_review`;
the server reaches a real web app over HTTP with an agent's token; signed clicks decide; the tool result
says what to run, or why not, and a timeout only ever says timeout."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp.client import Client as McpClient
from mcp.client.stdio import StdioServerParameters

from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from tests.adapter_desk import Desk
from tests.api_helpers import add_agent
from tests.conftest import REPO, wait_until, work

CALL = {"to": "jane@example.com", "subject": "We miss you", "body": "Here is 20% off your next order."}
REQUEST = {
    "category": "customer_email",
    "action": "send_email",
    "args": CALL,
    "summary": "Email jane@example.com: We miss you",
    "request": "Jane churned last week; win her back.",
    "context": [{"source": "crm", "text": "Jane: customer for 4 years, churned on 2026-11-20"}],
}


@pytest.fixture
def server(runtime: Runtime, api_url: str) -> StdioServerParameters:
    """`handoff mcp` as an MCP client launches it, with the agent's URL and token."""
    token, _ = add_agent(runtime, "mcp-agent")
    env = {"PATH": os.environ.get("PATH", ""), "HANDOFF_URL": api_url, "HANDOFF_TOKEN": token, "HANDOFF_WAIT": "30"}
    return StdioServerParameters(command=sys.executable, args=["-m", "bot.cli", "mcp"], env=env, cwd=str(REPO))


@pytest.fixture
def desk(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> Desk:
    return Desk(slack, reviewer, pump=lambda: work(runtime), timeout=30)


async def call_tool(server: StdioServerParameters, name: str, arguments: dict[str, Any]) -> Any:
    async with McpClient(server) as client:
        return await client.call_tool(name, arguments)


class Call:
    """One `request_review` call over stdio, on a thread while the test clicks."""

    def __init__(self, server: StdioServerParameters, arguments: dict[str, Any]) -> None:
        self.box: dict[str, Any] = {}
        self.thread = threading.Thread(
            target=lambda: self.box.update(result=asyncio.run(call_tool(server, "request_review", arguments)))
        )
        self.thread.start()

    def result(self) -> Any:
        self.thread.join(timeout=90)
        assert not self.thread.is_alive(), "the MCP call is still waiting"
        return self.box["result"]


def test_the_server_lists_request_review_with_its_arguments(server: StdioServerParameters) -> None:
    async def tools() -> Any:
        async with McpClient(server) as client:
            return await client.list_tools()

    tool, report = asyncio.run(tools()).tools
    assert (tool.name, report.name) == ("request_review", "report_execution")
    assert set(report.input_schema["required"]) == {"proposal_id", "ok"}
    assert {"category", "action", "args", "summary"} <= set(tool.input_schema["required"])
    assert {"request", "context", "wait", "review_id"} <= set(tool.input_schema["properties"])
    assert {"outcome", "run", "args", "message"} <= set(tool.output_schema["properties"])


def test_approve_returns_run_with_the_args_shown(server: StdioServerParameters, desk: Desk, runtime: Runtime) -> None:
    call = Call(server, REQUEST)
    desk.approve("Email jane@example.com: We miss you")
    result = call.result()
    assert not result.is_error
    decided = result.structured_content
    assert (decided["outcome"], decided["run"], decided["args"]) == ("approve", True, CALL)
    assert decided["reviewer"] == "U0ALICE"
    proposal = runtime.ledger.proposal(decided["proposal_id"])
    assert proposal is not None
    assert (proposal.agent, proposal.input.request) == ("mcp-agent", REQUEST["request"])
    assert [(c.source, c.text) for c in proposal.input.context] == [("crm", REQUEST["context"][0]["text"])]

    report = {"proposal_id": decided["proposal_id"], "ok": True, "detail": "sent"}
    reported = asyncio.run(call_tool(server, "report_execution", report))
    assert not reported.is_error
    wait_until(lambda: work(runtime) or runtime.ledger.execution(decided["proposal_id"]) == "ok", what="the report")


def test_edit_returns_the_reviewers_args(server: StdioServerParameters, desk: Desk) -> None:
    call = Call(server, REQUEST)
    desk.edit("Email jane@example.com", {"subject": "Come back, Jane"})
    decided = call.result().structured_content
    assert (decided["outcome"], decided["run"]) == ("edit", True)
    assert decided["args"] == {**CALL, "subject": "Come back, Jane"}


def test_reject_says_why_in_the_text_the_model_reads(server: StdioServerParameters, desk: Desk) -> None:
    call = Call(server, REQUEST)
    desk.reject("Email jane@example.com", "Discounts over 15% need a manager")
    result = call.result()
    decided = result.structured_content
    assert (decided["outcome"], decided["run"], decided["args"]) == ("reject", False, None)
    assert decided["reason"] == "Discounts over 15% need a manager"
    text = " ".join(block.text for block in result.content)
    assert "Discounts over 15% need a manager" in text


def test_a_timeout_is_a_timeout_and_waiting_again_finds_the_same_review(
    server: StdioServerParameters, desk: Desk, runtime: Runtime
) -> None:
    first = asyncio.run(call_tool(server, "request_review", {**REQUEST, "wait": 0.5})).structured_content
    assert (first["outcome"], first["run"], first["args"]) == ("timeout", False, None)
    assert "neither an approval nor a rejection" in first["message"]
    again = Call(server, {**REQUEST, "review_id": first["proposal_id"]})
    desk.approve(first["proposal_id"])
    decided = again.result().structured_content
    assert (decided["outcome"], decided["proposal_id"]) == ("approve", first["proposal_id"])
    assert runtime.ledger.outcome_counts() == {"approve": 1}, "one review, not two"


def test_a_bad_request_is_an_error_naming_the_field(server: StdioServerParameters) -> None:
    result = asyncio.run(call_tool(server, "request_review", {**REQUEST, "category": "no_such_category"}))
    assert result.is_error
    text = " ".join(block.text for block in result.content)
    assert "category" in text
    assert "no_such_category" in text


def test_an_unreachable_deployment_is_an_error_that_says_nothing_was_decided(
    server: StdioServerParameters, runtime: Runtime
) -> None:
    from tests.conftest import free_port

    env = {**(server.env or {}), "HANDOFF_URL": f"http://127.0.0.1:{free_port()}"}
    nowhere = server.model_copy(update={"env": env})
    result = asyncio.run(call_tool(nowhere, "request_review", REQUEST))
    assert result.is_error
    text = " ".join(block.text for block in result.content)
    assert "nothing was decided, do not run send_email" in text


def test_a_missing_argument_is_an_error_naming_it(server: StdioServerParameters) -> None:
    result = asyncio.run(call_tool(server, "request_review", {k: v for k, v in REQUEST.items() if k != "summary"}))
    assert result.is_error
    assert "summary" in " ".join(block.text for block in result.content)
