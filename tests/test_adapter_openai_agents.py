"""The OpenAI Agents SDK with handoff's needs_approval: the real SDK driven by its own ScriptedModel, handoff's
API server and worker jobs, and signed clicks; the run state kept in a file across a "restart"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, FunctionTool, RunConfig, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call

from bot.adapters.core import Approvals, proposal_id_for
from bot.adapters.openai_agents import AgentApprovals, ReviewedRun, StateFileError
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from tests.adapter_helpers import Person, meanwhile
from tests.api_helpers import add_agent
from tests.conftest import SIGNING_SECRET, wait_until

ARGS = {"to": "jane@example.com", "subject": "We miss you", "body": "40% off your next year"}
ASK = "Jane churned last week; email her a discount."
OFFLINE = RunConfig(tracing_disabled=True)


class Mailbox:
    """The send_email tool: what it was run with."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def tool(self) -> FunctionTool:
        def send_email(to: str, subject: str, body: str) -> str:
            """Send an email to a customer."""
            self.sent.append({"to": to, "subject": subject, "body": body})
            return f"sent to {to}"

        return function_tool(send_email)


@pytest.fixture
def person(runtime: Runtime, slack: SlackStandIn, api_url: str) -> Person:
    return Person(runtime, slack, Reviewer(api_url + "/slack/events", SIGNING_SECRET, slack))


@pytest.fixture
def approvals(runtime: Runtime, api_url: str) -> Iterator[Approvals]:
    token, _ = add_agent(runtime, "sdk-agent")
    settings = Settings(handoff_url=api_url, handoff_token=token, wait=20)  # type: ignore[arg-type]
    gate = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"},
                     settings=settings)  # fmt: skip
    yield gate
    gate.close()


def mailer(reviews: AgentApprovals, model: ScriptedModel, mailbox: Mailbox) -> Agent[Any]:
    agent = Agent(name="mailer", instructions="Help the retention team.", tools=[mailbox.tool()], model=model)
    return reviews.require_review(agent)


def asks(*args: dict[str, str]) -> ScriptedModel:
    """A model that calls send_email once per `args` (call_1, call_2, ...), then answers "Done."."""
    steps: list[Any] = [[function_call("send_email", a, call_id=f"call_{i}")] for i, a in enumerate(args, 1)]
    return ScriptedModel([*steps, [assistant_message("Done.")]])


def run(reviews: AgentApprovals, agent: Agent[Any], state_file: Path, *, fresh: bool = True) -> ReviewedRun:
    return asyncio.run(reviews.run(agent, ASK if fresh else None, state_file=state_file, run_config=OFFLINE))


def outputs(model: ScriptedModel) -> dict[str, str]:
    """The tool outputs the model was given on its last call, by call id."""
    assert model.last_call is not None
    items = model.last_call.input
    return {i["call_id"]: i["output"] for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"}


def the_key(state_file: Path) -> str:
    return str(json.loads(state_file.read_text())["run_key"])


def test_an_approval_runs_the_tool_and_forgets_the_state(person: Person, approvals: Approvals, tmp_path: Path) -> None:
    reviews, model, mailbox = AgentApprovals(approvals), asks(ARGS), Mailbox()
    state_file = tmp_path / "runs" / "jane.json"
    with meanwhile(lambda: run(reviews, mailer(reviews, model, mailbox), state_file)) as future:
        wait_until(state_file.exists, timeout=20, what="the run state to be saved")
        pid = proposal_id_for(the_key(state_file), "call_1")
        person.approve(pid)
        done = future.result(timeout=30)
    assert mailbox.sent == [ARGS]
    assert outputs(model) == {"call_1": "sent to jane@example.com"}
    assert [(v.outcome, v.runs) for _c, v in done.reviews] == [("approve", True)]
    assert not state_file.exists(), "the state is kept only until the decision"
    proposal = person.runtime.ledger.proposal(pid)
    assert proposal is not None
    assert (proposal.summary, proposal.input.request) == ("Email jane@example.com: We miss you", ASK)
    assert person.execution(pid) == "ok", "the adapter reported that the approved call ran"


def test_an_edit_is_a_rejection_carrying_the_args_and_that_exact_call_then_runs_unreviewed(
    person: Person, approvals: Approvals, tmp_path: Path
) -> None:
    edited = {**ARGS, "body": "20% off your next year"}
    reviews, model, mailbox = AgentApprovals(approvals), asks(ARGS, edited), Mailbox()
    state_file = tmp_path / "jane.json"
    with meanwhile(lambda: run(reviews, mailer(reviews, model, mailbox), state_file)) as future:
        wait_until(state_file.exists, timeout=20, what="the run state to be saved")
        key = the_key(state_file)
        person.edit(proposal_id_for(key, "call_1"), {"body": "20% off your next year"})
        done = future.result(timeout=30)
    assert mailbox.sent == [edited]
    given = outputs(model)
    assert given["call_2"] == "sent to jane@example.com"
    assert given["call_1"].startswith("The reviewer approved send_email only with changed arguments")
    assert json.dumps(edited, sort_keys=True) in given["call_1"]
    assert [v.outcome for _c, v in done.reviews] == ["edit"]
    assert person.runtime.ledger.proposal(proposal_id_for(key, "call_2")) is None, "no second review"
    assert person.execution(proposal_id_for(key, "call_1")) == "ok", "the edited call's run is reported on its review"


def test_a_rejection_reason_reaches_the_model_and_nothing_runs(
    person: Person, approvals: Approvals, tmp_path: Path
) -> None:
    reviews, model, mailbox = AgentApprovals(approvals), asks(ARGS), Mailbox()
    state_file = tmp_path / "jane.json"
    reason = "A 40% discount needs a manager's sign-off"
    with meanwhile(lambda: run(reviews, mailer(reviews, model, mailbox), state_file)) as future:
        wait_until(state_file.exists, timeout=20, what="the run state to be saved")
        person.reject(proposal_id_for(the_key(state_file), "call_1"), reason)
        done = future.result(timeout=30)
    assert mailbox.sent == []
    assert outputs(model)["call_1"].endswith(f"Reason: {reason}")
    assert done.handed_back(done.reviews[0][0]) == outputs(model)["call_1"]


def test_a_timeout_keeps_the_state_and_a_new_process_resumes_it_with_the_decision(
    person: Person, approvals: Approvals, tmp_path: Path
) -> None:
    """No decision in the wait: the run pauses with its state in the file; a fresh gate, agent and model (as
    after a restart) load it once the reviewer has approved, and the tool runs once."""
    state_file, mailbox = tmp_path / "jane.json", Mailbox()
    approvals.timeout = 0.3
    first_model = ScriptedModel([[function_call("send_email", ARGS, call_id="call_1")]])
    first = AgentApprovals(approvals)
    paused = run(first, mailer(first, first_model, mailbox), state_file)
    assert (paused.paused, [v.outcome for _c, v in paused.reviews]) == (True, ["timeout"])
    assert mailbox.sent == []
    assert state_file.exists()
    person.approve(proposal_id_for(the_key(state_file), "call_1"))
    approvals.timeout = 20
    second, second_model = AgentApprovals(approvals), ScriptedModel([[assistant_message("Done.")]])
    resumed = run(second, mailer(second, second_model, mailbox), state_file, fresh=False)
    assert (resumed.paused, [v.outcome for _c, v in resumed.reviews]) == (False, ["approve"])
    assert mailbox.sent == [ARGS]
    assert outputs(second_model) == {"call_1": "sent to jane@example.com"}
    assert not state_file.exists()


def test_state_files_refuse_to_run_twice_or_to_be_overwritten(approvals: Approvals, tmp_path: Path) -> None:
    reviews, mailbox = AgentApprovals(approvals), Mailbox()
    agent = mailer(reviews, asks(ARGS), mailbox)
    with pytest.raises(StateFileError, match=r"state_file: .* does not exist; start the run with its input"):
        run(reviews, agent, tmp_path / "none.json", fresh=False)
    resumed = tmp_path / "resumed.json"
    resumed.write_text(json.dumps({"handoff": 1, "run_key": "k", "resumed": True, "run_state": {}}))
    with pytest.raises(StateFileError, match="may already have run; not running them twice"):
        run(reviews, agent, resumed, fresh=False)
    with pytest.raises(StateFileError, match="holds a run still waiting for review"):
        run(reviews, agent, resumed)
    assert mailbox.sent == []
