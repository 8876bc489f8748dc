"""An OpenAI Agents SDK agent whose send_email calls are decided in handoff (needs_approval).

    pip install -e ".[openai-agents]"
    HANDOFF_URL=http://127.0.0.1:3000 HANDOFF_TOKEN=hnd_... python examples/openai_agents.py

Reaches handoff through HANDOFF_URL and HANDOFF_TOKEN (or REDIS_URL), waits up to HANDOFF_WAIT seconds
(default 120) and prints, as its last line, {"outcome", "tool_ran", "args", "model_saw"} as JSON.
With OPENAI_API_KEY set it asks the SDK's default OpenAI model; otherwise the SDK's ScriptedModel, which
asks for the email below and, told the reviewer's changed arguments, calls again with exactly those.
While no decision has come, the run's state waits in a file (its path is printed) for a later resume.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

# examples/ holds files named like packages (mcp.py, langgraph.py, ...): keep this folder off the import path
# so that the SDK's own imports (it imports mcp) find the libraries, not the other examples.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from agents import Agent, RunConfig, function_tool
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call

from bot.adapters.core import Approvals
from bot.adapters.openai_agents import AgentApprovals

EMAIL = {"to": "jane@example.com", "subject": "We miss you", "body": "Here is 40% off your next year."}
ASK = "Jane (jane@example.com) churned last week. Email her a 40% discount to win her back."
AGAIN = re.compile(r"Call send_email again with exactly these arguments: (\{.*\}) \(")
sent: list[dict[str, str]] = []


@function_tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    sent.append({"to": to, "subject": subject, "body": body})
    return f"Email sent to {to}."


def after_review(call: ModelCall) -> Any:
    """The offline model's second turn: follow the reviewer's changed arguments, else acknowledge."""
    outputs = [i["output"] for i in call.input if isinstance(i, dict) and i.get("type") == "function_call_output"]
    again = AGAIN.search(str(outputs[-1])) if outputs else None
    if again:
        return [function_call("send_email", json.loads(again.group(1)), call_id="call_2")]
    return [assistant_message("Understood.")]


def model() -> ScriptedModel | None:
    if os.environ.get("OPENAI_API_KEY"):
        return None  # the SDK's default OpenAI model
    steps: list[Any] = [[function_call("send_email", EMAIL, call_id="call_1")], ModelStep.respond(after_review)]
    return ScriptedModel([*steps, [assistant_message("Done.")]])


async def main() -> None:
    approvals = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"})
    reviews = AgentApprovals(approvals)
    scripted = model()
    agent = Agent(name="retention", instructions="Help win back customers.", tools=[send_email], model=scripted)
    reviews.require_review(agent)
    state_file = Path(tempfile.gettempdir()) / "handoff-examples" / f"openai-agents-{uuid.uuid4().hex[:12]}.json"
    print(f"Waiting up to {approvals.timeout:g}s for a reviewer in Slack...", file=sys.stderr)
    config = RunConfig(tracing_disabled=scripted is not None)
    run = await reviews.run(agent, ASK, state_file=state_file, run_config=config)
    approvals.close()
    if run.paused:
        print(f"No decision yet; the run waits in {state_file}", file=sys.stderr)
    call, verdict = run.reviews[0] if run.reviews else (None, None)
    print(json.dumps({
        "outcome": verdict.outcome if verdict else None,
        "tool_ran": bool(sent),
        "args": sent[0] if sent else None,
        "model_saw": (run.handed_back(call) or "") if call else "",
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
