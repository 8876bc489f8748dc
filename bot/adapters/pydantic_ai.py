"""Pydantic AI: handoff decides the tool calls an agent defers for approval (`requires_approval=True`).

    approvals = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"})
    result = agent.run_sync(prompt, output_type=[str, DeferredToolRequests])
    if isinstance(result.output, DeferredToolRequests):
        review = resolve(approvals, result.output, messages=result.all_messages())
        result = agent.run_sync(message_history=result.all_messages(), deferred_tool_results=review.results)

or inside the run itself: `Agent(..., capabilities=[capability(approvals)])`.

Each deferred call becomes one proposal: the tool's summary, and the run's prompt, turns and tool results
as what the agent saw. Decisions come back as Pydantic AI's approval results: an approval of the call shown
is `True`; an edit or alternative of the same tool is `ToolApproved(override_args=...)`; a rejection or
redirect is `ToolDenied` whose message carries the reviewer's reason to the model; an edit or alternative
naming another tool is a `ToolDenied` telling the model which action the reviewer chose (the model may call
it; it is reviewed as a new action). A call no one decided within the wait is left unresolved: it stays in
the run's `DeferredToolRequests` and in `Review.pending`, never approved or denied by the clock. After the
resumed run, `report_ran(approvals, review, result.new_messages())` records how each approved call went.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.capabilities import HandleDeferredToolCalls
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, RunContext, ToolApproved, ToolDenied

from bot.adapters.core import Approvals, ToolCall, Verdict, proposal_id_for, seen_from_turns
from scoring.models import AgentInput, ContextItem

MAX_CONTEXT_ITEMS = 20  # the latest tool results a proposal carries
MAX_CONTEXT_CHARS = 4000  # of each

Approval = bool | ToolApproved | ToolDenied


@dataclass
class Review:
    """What handoff decided for one batch of deferred calls."""

    results: DeferredToolResults
    """The decided calls, to pass as `deferred_tool_results=` when the run resumes."""
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    """Each call's verdict by `tool_call_id`, timeouts included."""
    pending: dict[str, str] = field(default_factory=dict)
    """Calls no one decided within the wait: `tool_call_id` -> proposal id. Pass as `pending=` to wait again."""


def resolve(
    approvals: Approvals,
    requests: DeferredToolRequests,
    *,
    messages: Sequence[ModelMessage] = (),
    pending: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Review:
    """Submit each call awaiting approval (or wait again on the `pending` ones) and map the decisions.

    All calls are submitted before the first wait, so reviewers see them together, and share one wait.
    A call's proposal id follows from its run and tool-call id: resolving the same requests again after
    a timeout waits on the same reviews.
    """
    seen = what_the_agent_saw(messages)
    calls = {part.tool_call_id: tool_call(part, seen) for part in requests.approvals}
    known = dict(pending or {})
    for cid, call in calls.items():
        known[cid] = known.get(cid) or approvals.submit(call, proposal_id=proposal_id_of(cid, messages))
    verdicts = approvals.wait_all([(known[cid], call) for cid, call in calls.items()], timeout=timeout)
    review = Review(results=DeferredToolResults())
    for part, verdict in zip(requests.approvals, verdicts, strict=True):
        cid = part.tool_call_id
        review.verdicts[cid] = verdict
        approval = approval_for(part, verdict)
        if approval is None:
            review.pending[cid] = verdict.proposal_id
        else:
            review.results.approvals[cid] = approval
    return review


async def aresolve(
    approvals: Approvals,
    requests: DeferredToolRequests,
    *,
    messages: Sequence[ModelMessage] = (),
    pending: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Review:
    """`resolve` without blocking the event loop."""
    return await asyncio.to_thread(resolve, approvals, requests, messages=messages, pending=pending, timeout=timeout)


def capability(approvals: Approvals) -> HandleDeferredToolCalls[Any]:
    """A capability that has handoff decide deferred calls inside the run; calls still undecided when the
    wait runs out end the run as `DeferredToolRequests` (give the agent that output type)."""

    async def handle(ctx: RunContext[Any], requests: DeferredToolRequests) -> DeferredToolResults | None:
        if not requests.approvals:
            return None
        review = await aresolve(approvals, requests, messages=ctx.messages)
        return review.results if review.results.approvals else None

    return HandleDeferredToolCalls(handler=handle)


def report_ran(approvals: Approvals, review: Review, messages: Sequence[ModelMessage]) -> list[str]:
    """After the resumed run, tell handoff how each approved call went (its tool's return in `messages`, a
    return other than a success as not ok); returns the proposal ids reported. Calls that did not run are skipped."""
    returns = {
        p.tool_call_id: p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    }
    reported = []
    for cid, verdict in review.verdicts.items():
        part = returns.get(cid)
        if verdict.runs and part is not None:
            ok = part.outcome == "success"
            approvals.report(verdict, ok=ok, detail=part.model_response_str()[:MAX_CONTEXT_CHARS])
            reported.append(verdict.proposal_id)
    return reported


def tool_call(part: ToolCallPart, seen: AgentInput) -> ToolCall:
    """handoff's view of one deferred call."""
    return ToolCall(name=part.tool_name, args=part.args_as_dict(), call_id=part.tool_call_id, seen=seen)


def proposal_id_of(tool_call_id: str, messages: Sequence[ModelMessage]) -> str | None:
    """A stable proposal id for a call: from the run that made it and its tool-call id (None when the
    history does not say which run made it: then each submission is a new review)."""
    for message in messages:
        if not isinstance(message, ModelResponse) or not message.run_id:
            continue
        if any(isinstance(p, ToolCallPart) and p.tool_call_id == tool_call_id for p in message.parts):
            return proposal_id_for("pydantic-ai", message.run_id, tool_call_id)
    return None


def approval_for(part: ToolCallPart, verdict: Verdict) -> Approval | None:
    """Pydantic AI's answer for a deferred call from handoff's verdict; None leaves it pending (a timeout)."""
    if verdict.outcome == "timeout" and verdict.decision is None:
        return None  # our wait ran out; the review is still open in handoff
    if not verdict.runs:
        return ToolDenied(verdict.message)  # rejected, redirected, another tool, or expired in handoff
    if verdict.args == part.args_as_dict():
        return True  # exactly the call the reviewer was shown
    return ToolApproved(override_args=dict(verdict.args or {}))


def what_the_agent_saw(messages: Sequence[ModelMessage]) -> AgentInput:
    """The run's prompt, its latest turns and tool results, as a proposal's `input` (bounded)."""
    turns: list[tuple[str, str]] = []
    context: list[ContextItem] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    turns.append(("user", part.content))
                elif isinstance(part, ToolReturnPart):
                    text = part.model_response_str()[:MAX_CONTEXT_CHARS]
                    context.append(ContextItem(source=part.tool_name, text=text))
        elif isinstance(message, ModelResponse):
            turns.append(("assistant", "".join(p.content for p in message.parts if isinstance(p, TextPart))))
    seen = seen_from_turns(turns)
    return seen.model_copy(update={"context": context[-MAX_CONTEXT_ITEMS:]})
