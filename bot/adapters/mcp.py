"""MCP: `handoff mcp` serves `request_review` over stdio, so any MCP client can ask handoff for a review before
it acts and get the decision back, and `report_execution`, to say how running the approved action went.

The client names the category, the action (tool name) and its arguments, says it in plain words (`summary`)
and may pass what the agent saw (`request`, `context`). The call returns when a reviewer decides, or when
`wait` seconds pass: `outcome` is approve, edit, reject, alternative, redirect or timeout; `run` is true only
when the action asked for should run now, with `args` (the reviewer's edits included). An edit or alternative
naming another action has `run` false and the chosen action in `chosen_action`: it is a new action to request
a review for, never approved by this one. A timeout is only a timeout: the review stays open, and calling
again with `review_id` set to the `proposal_id` it returned waits on the same review. The result's text (what
a host hands its model) is `message`, which carries the reviewer's reason on a rejection.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from bot.adapters.core import Approvals, ToolCall, Verdict
from bot.client import ApiRequestError, Client, ProposalError
from scoring.models import PROPOSAL_ID_PATTERN, AgentInput, ContextItem

MAX_WAIT = 3600.0  # the longest one call may wait for a decision
INSTRUCTIONS = (
    "Before an action that needs a person's approval (sending an email, changing a record, spending money), "
    "call request_review and act only as its result says: run the action with the returned args only when "
    "run is true; otherwise tell the user the message and do not run it."
)


class Seen(BaseModel):
    """Something the agent read before proposing the action."""

    source: str = Field(default="", max_length=200, description="where it came from: a tool, a document, a URL")
    text: str = Field(max_length=20_000, description="what it said")


class ChosenAction(BaseModel):
    """An action a reviewer chose instead of the one asked for (not run, not approved: review it anew)."""

    name: str
    args: dict[str, Any]


class ReviewResult(BaseModel):
    """handoff's decision on one requested action."""

    outcome: Literal["approve", "edit", "reject", "alternative", "redirect", "timeout"]
    run: bool = Field(description="true only when the requested action should run now, with `args`")
    args: dict[str, Any] | None = Field(description="the arguments to run it with (edits applied); null if not run")
    message: str = Field(description="what to tell the model: the reviewer's reason on a rejection")
    reason: str = Field(description="the reviewer's own words, if any")
    reviewer: str | None
    proposal_id: str = Field(description="the review's id; pass it as review_id to wait again after a timeout")
    chosen_action: ChosenAction | None = Field(description="another action the reviewer chose instead, not run")


def result_of(verdict: Verdict) -> ReviewResult:
    """The tool's answer for a verdict."""
    chosen = None
    if verdict.switched_tool and verdict.action_name is not None:
        chosen = ChosenAction(name=verdict.action_name, args=dict(verdict.action_args or {}))
    return ReviewResult(
        outcome=verdict.outcome,
        run=verdict.runs,
        args=verdict.args if verdict.runs else None,
        message=verdict.message,
        reason=verdict.reason,
        reviewer=verdict.reviewer,
        proposal_id=verdict.proposal_id,
        chosen_action=chosen,
    )


def build_server(client: Client, *, default_wait: float) -> MCPServer:
    """The MCP server: `request_review` submits through `client` and waits up to `wait` seconds."""
    server = MCPServer("handoff", instructions=INSTRUCTIONS)

    @server.tool(
        name="request_review",
        description="Ask a person (in Slack, through handoff) to review an action before you run it; "
        "returns the decision: run it with the returned args only when `run` is true.",
    )
    async def request_review(
        category: Annotated[str, Field(max_length=100, description="the action's handoff category")],
        action: Annotated[str, Field(min_length=1, max_length=200, description="the tool or action name")],
        args: Annotated[dict[str, Any], Field(description="the action's arguments")],
        summary: Annotated[str, Field(max_length=500, description="the action in plain words, for the reviewer")],
        request: Annotated[str, Field(max_length=20_000, description="what the user asked for")] = "",
        context: Annotated[list[Seen], Field(max_length=50, description="what the agent read")] = [],  # noqa: B006
        rationale: Annotated[list[str], Field(max_length=20, description="why this action")] = [],  # noqa: B006
        wait: Annotated[float | None, Field(ge=0, le=MAX_WAIT, description="seconds to wait for a person")] = None,
        review_id: Annotated[
            str | None, Field(pattern=PROPOSAL_ID_PATTERN, description="a timed-out review's proposal_id")
        ] = None,
    ) -> ReviewResult:
        seen = AgentInput(request=request, context=[ContextItem(source=c.source, text=c.text) for c in context])
        call = ToolCall(name=action, args=args, seen=seen, extra={"rationale": rationale} if rationale else {})
        approvals = Approvals(
            category={action: category}, summary=lambda _call: summary, client=client, timeout=default_wait
        )
        seconds = default_wait if wait is None else wait
        try:
            verdict = await anyio.to_thread.run_sync(
                lambda: approvals.review(call, proposal_id=review_id, timeout=seconds)
            )
        except ProposalError as exc:  # names the field and what to do: the caller can fix it
            raise ToolError(str(exc)) from None
        except (ApiRequestError, OSError) as exc:  # the deployment refused the token, or cannot be reached
            raise ToolError(
                f"handoff could not take the review: {exc}; nothing was decided, do not run {action}"
            ) from None
        return result_of(verdict)

    @server.tool(
        name="report_execution",
        description="After running an action request_review approved, say how it went: recorded in handoff's "
        "ledger and in the review's Slack thread.",
    )
    async def report_execution(
        proposal_id: Annotated[str, Field(pattern=PROPOSAL_ID_PATTERN, description="the review's proposal_id")],
        ok: Annotated[bool, Field(description="true when the action succeeded")],
        detail: Annotated[str, Field(max_length=4000, description="what happened, in a line")] = "",
    ) -> str:
        try:
            await anyio.to_thread.run_sync(lambda: client.report_execution(proposal_id, ok, detail))
        except ProposalError as exc:
            raise ToolError(str(exc)) from None
        except (ApiRequestError, OSError) as exc:
            raise ToolError(f"handoff could not record the execution: {exc}") from None
        return f"recorded: {'ok' if ok else 'failed'}"

    return server


def serve_stdio(client: Client, *, default_wait: float) -> None:
    """Serve `request_review` on stdin/stdout until the client closes them."""
    build_server(client, default_wait=default_wait).run("stdio")
