"""examples/<framework>.py run as the README says: a subprocess against `handoff web` and `handoff worker`
(separate processes), over HANDOFF_URL and HANDOFF_TOKEN; a reviewer clicks the card; the last line of
the example's output is the JSON the examples promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from tests.conftest import BOT_TOKEN, REPO, SIGNING_SECRET, free_port, wait_until
from tests.test_flows import ALICE, inputs
from tests.test_processes import Processes

pytestmark = pytest.mark.slow
EXAMPLES = ["langgraph", "openai_agents"]
EMAIL = {"to": "jane@example.com", "subject": "We miss you", "body": "Here is 40% off your next year."}


@dataclass
class Deployment:
    base: str
    token: str
    slack: SlackStandIn
    processes: Processes

    def run_example(self, name: str, *, wait: float = 60) -> subprocess.Popen[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HANDOFF_URL": self.base,
            "HANDOFF_TOKEN": self.token,
            "HANDOFF_WAIT": str(wait),
        }
        example = subprocess.Popen(
            [sys.executable, str(REPO / "examples" / f"{name}.py")],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.running.append(example)  # type: ignore[arg-type]
        return example


@pytest.fixture
def deployment(tmp_path: Path, slack: SlackStandIn, redis_url: str, redis_client: Any) -> Iterator[Deployment]:
    """`handoff web` and `handoff worker` as the README starts them, and an agent token from `handoff agents add`."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REDIS_URL": redis_url,
        "SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HANDOFF_DB": str(tmp_path / "ledger.db"),
        "HANDOFF_POLICY": str(REPO / "policy.yaml"),
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_LOG_LEVEL": "WARNING",
        "PORT": str(port),
    }
    procs = Processes(env)
    try:
        added = subprocess.run(
            [sys.executable, "-m", "bot.cli", "agents", "add", "example-bot", "--json"],
            env=env, cwd=REPO, capture_output=True, text=True, check=True,
        )  # fmt: skip
        procs.start("web")
        procs.start("worker")
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base + "/healthz"), timeout=30, what="handoff web to answer /healthz")
        yield Deployment(base, json.loads(added.stdout)["token"], slack, procs)
    finally:
        procs.stop_all()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def finished(example: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = example.communicate(timeout=120)
    assert example.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def card(slack: SlackStandIn) -> dict[str, Any]:
    """The example's card, once the worker has posted it."""

    def live(s: SlackStandIn) -> dict[str, Any] | None:
        cards = [m for m in s.messages() if any(b.get("block_id", "").startswith("review:") for b in m["blocks"])]
        return cards[-1] if cards else None

    return slack.wait_for(live, timeout=60)


def modal(deployment: Deployment, reviewer: Reviewer, action_id: str) -> dict[str, Any]:
    found = card(deployment.slack)
    seen = len(deployment.slack.views())
    assert reviewer.click(found, action_id, user=ALICE).status == 200
    return deployment.slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=10)


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_approved_example_runs_the_tool_with_its_args(deployment: Deployment, name: str) -> None:
    example = deployment.run_example(name)
    reviewer = Reviewer(deployment.base + "/slack/events", SIGNING_SECRET, deployment.slack)
    assert reviewer.click(card(deployment.slack), blocks.APPROVE, user=ALICE).status == 200
    printed = finished(example)
    assert printed == {
        "outcome": "approve",
        "tool_ran": True,
        "args": EMAIL,
        "model_saw": "Email sent to jane@example.com.",
    }


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_edited_example_runs_the_tool_with_the_edited_args(deployment: Deployment, name: str) -> None:
    example = deployment.run_example(name)
    reviewer = Reviewer(deployment.base + "/slack/events", SIGNING_SECRET, deployment.slack)
    opened = modal(deployment, reviewer, blocks.EDIT)
    changed = {inputs(opened)["body"]: {blocks.ARG_INPUT: "Here is 20% off your next year."}}
    assert reviewer.submit_view(opened, changed, user=ALICE).status == 200
    printed = finished(example)
    edited = {**EMAIL, "body": "Here is 20% off your next year."}
    assert (printed["outcome"], printed["tool_ran"], printed["args"]) == ("edit", True, edited)
    assert "20% off your next year" in printed["model_saw"], "the model is told what ran instead"


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_rejected_example_does_not_run_and_the_model_sees_the_reason(deployment: Deployment, name: str) -> None:
    example = deployment.run_example(name)
    reviewer = Reviewer(deployment.base + "/slack/events", SIGNING_SECRET, deployment.slack)
    opened = modal(deployment, reviewer, blocks.REJECT)
    reason = "A 40% discount needs a manager's sign-off"
    assert reviewer.submit_view(opened, {blocks.REASON_BLOCK: {blocks.REASON_INPUT: reason}}, user=ALICE).status == 200
    printed = finished(example)
    assert (printed["outcome"], printed["tool_ran"], printed["args"]) == ("reject", False, None)
    assert reason in printed["model_saw"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_nobody_decides_reports_a_timeout(deployment: Deployment, name: str) -> None:
    example = deployment.run_example(name, wait=1)
    card(deployment.slack)  # the card is up; nobody clicks it
    printed = finished(example)
    assert printed == {"outcome": "timeout", "tool_ran": False, "args": None, "model_saw": ""}
