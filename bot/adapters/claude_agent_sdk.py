"""Claude Agent SDK: handoff answers the SDK's `can_use_tool` permission callback.

    approvals = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"})
    options = ClaudeAgentOptions(can_use_tool=HandoffPermissions(approvals, request=prompt))

Each tool call Claude asks permission for becomes one proposal; the permission prompt's title, description
and reason, and the task's prompt when given, are what the agent saw. An approval, or an edit or alternative
of the same tool, is `PermissionResultAllow(updated_input=<the decided arguments>)`: the tool runs with
exactly what the reviewer approved. A rejection or redirect is `PermissionResultDeny(message=...)` carrying
the reviewer's reason, which Claude reads as the tool's result. An edit or alternative naming another tool
denies this call and names the chosen action; Claude may call it, and it is reviewed as a new action. When
no one decides within the wait, the call is denied with a message that says it timed out and the review is
still open (never that it was rejected), and `interrupt=True` stops the run rather than letting Claude work
around a review in progress; the verdict's outcome is `timeout`. The proposal id follows from the SDK's
`tool_use_id`, so the same call asked about again (a resumed session) waits on the same review.
"""

from __future__ import annotations

import asyncio
from typing import Any

from claude_agent_sdk import PermissionResultAllow, PermissionResultDeny, ToolPermissionContext

from bot.adapters.core import Approvals, ToolCall, Verdict, proposal_id_for
from scoring.models import AgentInput, ContextItem

PermissionResult = PermissionResultAllow | PermissionResultDeny
MAX_CONTEXT_CHARS = 4000


class HandoffPermissions:
    """A `can_use_tool` callback that asks handoff and answers with the reviewer's decision."""

    def __init__(self, approvals: Approvals, *, request: str = "") -> None:
        self.approvals = approvals
        self.request = request
        self.verdicts: dict[str, Verdict] = {}
        """Each call's verdict, by the SDK's `tool_use_id`."""

    async def __call__(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        seen = AgentInput(request=self.request, context=what_claude_saw(context))
        call = ToolCall(name=tool_name, args=dict(tool_input), call_id=context.tool_use_id, seen=seen)
        pid = proposal_id_for("claude-agent-sdk", context.tool_use_id) if context.tool_use_id else None
        verdict = await asyncio.to_thread(self.approvals.review, call, proposal_id=pid)
        self.verdicts[context.tool_use_id or verdict.proposal_id] = verdict
        return permission_for(verdict)


def permission_for(verdict: Verdict) -> PermissionResult:
    """The SDK's permission result for handoff's verdict on a call."""
    if verdict.runs:
        return PermissionResultAllow(updated_input=dict(verdict.args or {}))
    return PermissionResultDeny(message=verdict.message, interrupt=verdict.outcome == "timeout")


def what_claude_saw(context: ToolPermissionContext) -> list[ContextItem]:
    """The permission prompt's own words, as the proposal's context items."""
    fields = {
        "permission prompt": context.title,
        "description": context.description,
        "why Claude Code asked": context.decision_reason,
        "blocked path": context.blocked_path,
    }
    return [ContextItem(source=source, text=text[:MAX_CONTEXT_CHARS]) for source, text in fields.items() if text]
