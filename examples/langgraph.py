"""A LangChain agent whose send_email calls are decided in handoff (HumanInTheLoopMiddleware).

    pip install -e ".[langgraph]"
    HANDOFF_URL=http://127.0.0.1:3000 HANDOFF_TOKEN=hnd_... python examples/langgraph.py

Reaches handoff through HANDOFF_URL and HANDOFF_TOKEN (or REDIS_URL), waits up to HANDOFF_WAIT seconds
(default 120) and prints, as its last line, {"outcome", "tool_ran", "args", "model_saw"} as JSON.
With OPENAI_API_KEY set and `pip install langchain-openai` it asks a real model; otherwise it uses
LangChain's fake chat model, scripted to ask for the email below.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

# This file shares its name with the langgraph package: keep its folder off the import path, so that
# `import langgraph` (here and in handoff's adapter) finds the library, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from bot.adapters.core import Approvals
from bot.adapters.langgraph import run_reviewed

EMAIL = {"to": "jane@example.com", "subject": "We miss you", "body": "Here is 40% off your next year."}
ASK = "Jane (jane@example.com) churned last week. Email her a 40% discount to win her back."
sent: list[dict[str, str]] = []


def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    sent.append({"to": to, "subject": subject, "body": body})
    return f"Email sent to {to}."


class OfflineModel(GenericFakeChatModel):
    """LangChain's fake chat model, taking tools as given: asks for the email, then says it is done."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> OfflineModel:
        return self


def model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain.chat_models import init_chat_model

            return init_chat_model("openai:gpt-4.1-mini")
        except ImportError:
            print("OPENAI_API_KEY is set but langchain-openai is missing: using the offline model", file=sys.stderr)
    call = {"name": "send_email", "args": EMAIL, "id": "call_1"}
    return OfflineModel(messages=iter([AIMessage(content="", tool_calls=[call]), AIMessage(content="Done.")]))


def main() -> None:
    approvals = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"})
    review = HumanInTheLoopMiddleware(interrupt_on={"send_email": True})
    agent = create_agent(model(), tools=[send_email], middleware=[review], checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": f"example-{uuid.uuid4().hex[:12]}"}}
    print(f"Waiting up to {approvals.timeout:g}s for a reviewer in Slack...", file=sys.stderr)
    run = run_reviewed(agent, {"messages": [{"role": "user", "content": ASK}]}, config=config, approvals=approvals)
    approvals.close()
    call, verdict = run.reviews[0] if run.reviews else (None, None)
    print(json.dumps({
        "outcome": verdict.outcome if verdict else None,
        "tool_ran": bool(sent),
        "args": sent[0] if sent else None,
        "model_saw": (run.handed_back(call) or "") if call else "",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
