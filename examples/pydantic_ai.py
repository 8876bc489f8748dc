"""A Pydantic AI agent whose send_email tool waits for a person's decision in Slack, through handoff.

    pip install -e ".[pydantic-ai]"
    HANDOFF_URL=http://localhost:3000 HANDOFF_TOKEN=<from `handoff agents add`> python examples/pydantic_ai.py

With PYDANTIC_AI_MODEL set (e.g. "openai:gpt-5", with that provider's package and key) that model runs;
otherwise Pydantic AI's offline FunctionModel plays it. Waits up to HANDOFF_WAIT seconds (120) and prints, as
its last line: {"outcome", "tool_ran", "args", "model_saw"}.
"""

import sys
from pathlib import Path

# This file is named after the framework: import the framework, not this file.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json
import os

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests

from bot.adapters.core import Approvals
from bot.adapters.pydantic_ai import report_ran, resolve

EMAIL = {"to": "jane@example.com", "subject": "We miss you, Jane", "body": "Here is 20% off your next order."}
ran: list[dict[str, str]] = []


def offline_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """The offline test model: asks to send the email, then says what the tool call returned."""
    returned = [part for part in messages[-1].parts if isinstance(part, ToolReturnPart)]
    if returned:
        return ModelResponse(parts=[TextPart(f"The tool said: {returned[0].model_response_str()}")])
    return ModelResponse(parts=[ToolCallPart("send_email", dict(EMAIL))])


agent = Agent(
    os.environ.get("PYDANTIC_AI_MODEL") or FunctionModel(offline_model),
    output_type=[str, DeferredToolRequests],
    instructions="You win back churned customers. Use send_email once.",
)


@agent.tool_plain(requires_approval=True)
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    ran.append({"to": to, "subject": subject, "body": body})
    return f"Email sent to {to} with subject {subject!r}."


approvals = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"})
first = agent.run_sync("Jane (jane@example.com) churned last week. Win her back with a 20% discount.")
if not isinstance(first.output, DeferredToolRequests):
    sys.exit(f"the model did not ask to send the email: {first.output!r}")
review = resolve(approvals, first.output, messages=first.all_messages())
call_id, verdict = next(iter(review.verdicts.items()))
model_saw = ""  # a timeout leaves the call pending: the run does not resume, the model is handed nothing
if not review.pending:
    resumed = agent.run_sync(message_history=first.all_messages(), deferred_tool_results=review.results)
    returns = [p for m in resumed.new_messages() for p in m.parts if isinstance(p, ToolReturnPart)]
    model_saw = next(p.model_response_str() for p in returns if p.tool_call_id == call_id)
    report_ran(approvals, review, resumed.new_messages())  # the ledger and the card's thread say it ran
result = {"outcome": verdict.outcome, "tool_ran": bool(ran), "args": ran[0] if ran else None, "model_saw": model_saw}
print(json.dumps(result))
