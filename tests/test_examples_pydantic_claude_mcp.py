"""examples/pydantic_ai.py, claude_agent_sdk.py and mcp.py as an outside check runs them: `handoff web` and
`handoff worker` as processes, the example reaching them through HANDOFF_URL and HANDOFF_TOKEN, a person's
signed clicks; the last line printed says what ran and what the model was handed."""

from __future__ import annotations

import pytest

from bot.sandbox.slack_api import SlackStandIn
from tests.adapter_desk import Deployment, last_json
from tests.test_processes import Processes, env, processes  # noqa: F401 - the process fixtures

pytestmark = pytest.mark.slow

EMAIL = {"to": "jane@example.com", "subject": "We miss you, Jane", "body": "Here is 20% off your next order."}
EXAMPLES = ["pydantic_ai", "claude_agent_sdk", "mcp"]
CARD = "Email jane@example.com: We miss you, Jane"


@pytest.fixture
def deployment(processes: Processes, env: dict[str, str], slack: SlackStandIn) -> Deployment:  # noqa: F811
    return Deployment(processes, env, slack)


@pytest.mark.parametrize("example", EXAMPLES)
def test_approve_runs_the_tool_with_the_args_shown(deployment: Deployment, example: str) -> None:
    proc = deployment.run_example(example)
    deployment.desk.approve(CARD)
    printed = last_json(proc)
    assert printed["outcome"] == "approve"
    assert (printed["tool_ran"], printed["args"]) == (True, EMAIL)
    assert "jane@example.com" in printed["model_saw"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_edit_runs_the_tool_with_the_reviewers_args(deployment: Deployment, example: str) -> None:
    proc = deployment.run_example(example)
    deployment.desk.edit(CARD, {"subject": "Come back, Jane"})
    printed = last_json(proc)
    assert printed["outcome"] == "edit"
    assert (printed["tool_ran"], printed["args"]) == (True, {**EMAIL, "subject": "Come back, Jane"})
    assert "Come back, Jane" in printed["model_saw"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_reject_reason_reaches_the_model(deployment: Deployment, example: str) -> None:
    proc = deployment.run_example(example)
    deployment.desk.reject(CARD, "Discounts over 15% need a manager")
    printed = last_json(proc)
    assert printed["outcome"] == "reject"
    assert (printed["tool_ran"], printed["args"]) == (False, None)
    assert "Discounts over 15% need a manager" in printed["model_saw"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_timeout_is_reported_as_a_timeout(deployment: Deployment, example: str) -> None:
    printed = last_json(deployment.run_example(example, wait=1))
    assert printed["outcome"] == "timeout"
    assert (printed["tool_ran"], printed["args"]) == (False, None)


@pytest.mark.parametrize("example", EXAMPLES)
def test_an_example_also_reaches_the_deployment_through_redis_url(deployment: Deployment, example: str) -> None:
    proc = deployment.run_example(example, via="redis")
    deployment.desk.approve(CARD)
    printed = last_json(proc)
    assert (printed["outcome"], printed["tool_ran"], printed["args"]) == ("approve", True, EMAIL)
