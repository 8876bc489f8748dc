"""A Claude Agent SDK agent whose send_email tool waits for a person's decision in Slack, through handoff.

    pip install -e ".[claude-agent-sdk]"
    HANDOFF_URL=http://localhost:3000 HANDOFF_TOKEN=<from `handoff agents add`> python examples/claude_agent_sdk.py

With ANTHROPIC_API_KEY set, the SDK's Claude Code CLI runs and send_email is an in-process MCP tool. Without
it, handoff's stand-in for the CLI (bot/sandbox/claude_code.py) plays Claude: the SDK's own query() still
drives the can_use_tool callback over its control protocol. Waits up to HANDOFF_WAIT seconds (120) and
prints, as its last line: {"outcome", "tool_ran", "args", "model_saw"}.
"""

import sys
from pathlib import Path

# This file is named after the framework: import the framework, not this file.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json
import os
from typing import Any

import anyio
from claude_agent_sdk import (
    ClaudeAgentOptions,
    ToolResultBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

from bot.adapters.claude_agent_sdk import HandoffPermissions
from bot.adapters.core import Approvals

EMAIL = {"to": "jane@example.com", "subject": "We miss you, Jane", "body": "Here is 20% off your next order."}
PROMPT = "Jane (jane@example.com) churned last week. Win her back with a 20% discount: send her one email."
TOOL_NAMES = ("send_email", "mcp__mail__send_email")  # as the stand-in names it, as the CLI names an MCP tool
ran: list[dict[str, Any]] = []


def send(args: dict[str, Any]) -> str:
    ran.append(dict(args))
    return f"Email sent to {args['to']} with subject {args['subject']!r}."


@tool("send_email", "Send an email to a customer.", {"to": str, "subject": str, "body": str})
async def send_email(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": send(args)}]}


approvals = Approvals(
    category=dict.fromkeys(TOOL_NAMES, "customer_email"),
    summary=dict.fromkeys(TOOL_NAMES, "Email {to}: {subject}"),
)
permissions = HandoffPermissions(approvals, request=PROMPT)


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return str(content or "")


async def main() -> None:
    options = ClaudeAgentOptions(can_use_tool=permissions)
    transport = None
    if os.environ.get("ANTHROPIC_API_KEY"):
        options.mcp_servers = {"mail": create_sdk_mcp_server("mail", tools=[send_email])}
        options.max_turns = 3
    else:
        from bot.sandbox.claude_code import ClaudeCodeStandIn

        title = f"Claude wants to send an email to {EMAIL['to']}"
        transport = ClaudeCodeStandIn(tool_name="send_email", tool_input=dict(EMAIL), run_tool=send, title=title)
    model_saw = ""
    async for message in query(prompt=PROMPT, options=options, transport=transport):
        if isinstance(message, UserMessage) and isinstance(message.content, list):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    model_saw = text_of(block.content)  # the tool's output, or the deny message
    verdict = next(iter(permissions.verdicts.values()))
    approvals.report(verdict, ok=bool(ran), detail=model_saw)
    result = {"outcome": verdict.outcome, "tool_ran": bool(ran), "args": ran[0] if ran else None}
    print(json.dumps({**result, "model_saw": model_saw}))


anyio.run(main)
