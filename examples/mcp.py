"""An MCP client that asks handoff, through `handoff mcp` over stdio, before it runs send_email.

    pip install -e ".[mcp]"
    HANDOFF_URL=http://localhost:3000 HANDOFF_TOKEN=<from `handoff agents add`> python examples/mcp.py

It launches `handoff mcp` as any MCP host would (Claude Desktop, an IDE), calls its request_review tool with
the email, runs send_email only when the result says `run`, with the returned args, and reports how it went
(report_execution). `model_saw` is the tool result's text, what a host hands its model. Waits up to
HANDOFF_WAIT seconds (120) and prints, as its last line: {"outcome", "tool_ran", "args", "model_saw"}.
"""

import sys
from pathlib import Path

# This file is named after the framework: import the framework, not this file.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json
import os
import shutil
from typing import Any

import anyio
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

EMAIL = {"to": "jane@example.com", "subject": "We miss you, Jane", "body": "Here is 20% off your next order."}
PASSED_ON = ("HANDOFF_URL", "HANDOFF_TOKEN", "REDIS_URL", "HANDOFF_WAIT", "HANDOFF_DATA_DIR", "PATH", "HOME")
ran: list[dict[str, Any]] = []


def send_email(to: str, subject: str, body: str) -> str:
    ran.append({"to": to, "subject": subject, "body": body})
    return f"Email sent to {to} with subject {subject!r}."


async def main() -> None:
    handoff = shutil.which("handoff")
    command, args = (handoff, ["mcp"]) if handoff else (sys.executable, ["-m", "bot.cli", "mcp"])
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    server = StdioServerParameters(command=command, args=args, env=env)
    request = {
        "category": "customer_email",
        "action": "send_email",
        "args": EMAIL,
        "summary": f"Email {EMAIL['to']}: {EMAIL['subject']}",
        "request": "Jane (jane@example.com) churned last week. Win her back with a 20% discount.",
    }
    async with Client(server, read_timeout_seconds=float(os.environ.get("HANDOFF_WAIT") or 120) + 60) as client:
        answer = await client.call_tool("request_review", request)
        model_saw = " ".join(getattr(block, "text", "") for block in answer.content)  # what a host hands its model
        if answer.is_error:
            sys.exit(model_saw)
        decided = answer.structured_content or {}
        if decided.get("run"):
            sent = send_email(**decided["args"])
            model_saw = f"{model_saw}\n{sent}"  # and the tool's own result after it
            report = {"proposal_id": decided["proposal_id"], "ok": True, "detail": sent}
            await client.call_tool("report_execution", report)
    result = {"outcome": decided.get("outcome"), "tool_ran": bool(ran), "args": ran[0] if ran else None}
    print(json.dumps({**result, "model_saw": model_saw}))


anyio.run(main)
