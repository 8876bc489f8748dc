"""A reviewer's desk for the adapter tests: find the card an agent's tool call raised, then approve it, edit
it, or reject it with a reason, by signed clicks on the Slack stand-in, as a person would.

`pump` runs queued jobs when the test has no worker process (`work(runtime)`); with a real `handoff worker`
running it is left as a no-op.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from tests.conftest import REPO, SIGNING_SECRET, wait_until
from tests.test_processes import Processes, _healthy


@dataclass
class Desk:
    """Where a test decides the cards an adapter's proposals raise."""

    slack: SlackStandIn
    reviewer: Reviewer
    pump: Callable[[], None] = lambda: None
    timeout: float = 60.0

    def card(self, needle: str) -> dict[str, Any]:
        """The newest card whose blocks mention `needle` (a proposal id, or a phrase of its summary)."""

        def found(slack: SlackStandIn) -> dict[str, Any] | None:
            self.pump()
            cards = [m for m in slack.messages() if needle in json.dumps(m.get("blocks") or [])]
            return cards[-1] if cards and _has_buttons(cards[-1]) else None

        return self.slack.wait_for(found, timeout=self.timeout)

    def approve(self, needle: str, *, user: str = "U0ALICE") -> dict[str, Any]:
        card = self.card(needle)
        assert self.reviewer.click(card, blocks.APPROVE, user=user).status == 200
        return card

    def edit(self, needle: str, changes: dict[str, str], *, user: str = "U0ALICE") -> dict[str, Any]:
        """Open Edit on the card and submit the modal with `changes` (arg name -> new text)."""
        card = self.card(needle)
        before = len(self.slack.views())
        assert self.reviewer.click(card, blocks.EDIT, user=user).status == 200
        opened = self.slack.wait_for(lambda s: len(s.views()) > before and s.views(), timeout=self.timeout)[-1]
        values = {}
        for block in opened["view"]["blocks"]:
            label = (block.get("label") or {}).get("text")
            if label in changes:
                values[block["block_id"]] = {blocks.ARG_INPUT: changes[label]}
        assert set(changes) <= {(b.get("label") or {}).get("text") for b in opened["view"]["blocks"]}
        assert self.reviewer.submit_view(opened, values, user=user).status == 200
        return card

    def reject(self, needle: str, reason: str, *, user: str = "U0BOB") -> dict[str, Any]:
        card = self.card(needle)
        before = len(self.slack.views())
        assert self.reviewer.click(card, blocks.REJECT, user=user).status == 200
        opened = self.slack.wait_for(lambda s: len(s.views()) > before and s.views(), timeout=self.timeout)[-1]
        values = {blocks.REASON_BLOCK: {blocks.REASON_INPUT: reason}}
        assert self.reviewer.submit_view(opened, values, user=user).status == 200
        return card


def _has_buttons(message: dict[str, Any]) -> bool:
    return any(block.get("type") == "actions" for block in message.get("blocks") or [])


class Deployment:
    """`handoff web` and `handoff worker` as separate processes, as the README starts them, with one agent's
    token: what an example reaches through HANDOFF_URL and HANDOFF_TOKEN."""

    def __init__(self, processes: Processes, env: dict[str, str], slack: SlackStandIn) -> None:
        self.processes = processes
        self.env = env
        self.url = f"http://127.0.0.1:{env['PORT']}"
        added = subprocess.run(
            [sys.executable, "-m", "bot.cli", "agents", "add", "example-agent", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=60,
        )
        self.token = str(json.loads(added.stdout)["token"])
        processes.start("web")
        processes.start("worker")
        wait_until(lambda: _healthy(self.url + "/healthz"), timeout=60, what="handoff web to answer /healthz")
        self.desk = Desk(slack, Reviewer(self.url + "/slack/events", SIGNING_SECRET, slack))

    def agent_env(self, **extra: str) -> dict[str, str]:
        """What an agent process gets: the deployment's URL and token, and nothing of handoff's own secrets."""
        keep = {k: v for k, v in self.env.items() if k in ("PATH", "HOME", "LANG")}
        return {**keep, "HANDOFF_URL": self.url, "HANDOFF_TOKEN": self.token, **extra}

    def run_example(self, name: str, *, wait: float = 60, via: str = "http") -> subprocess.Popen[str]:
        """Start `python examples/<name>.py` with the agent's environment (over HTTP, or with only REDIS_URL
        when `via="redis"`); read what it printed with `last_json`."""
        env = self.agent_env(HANDOFF_WAIT=f"{wait:g}")
        if via == "redis":
            env = {k: v for k, v in env.items() if k not in ("HANDOFF_URL", "HANDOFF_TOKEN")}
            env["REDIS_URL"] = self.env["REDIS_URL"]
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "examples" / f"{name}.py")],
            env=env,
            cwd=REPO,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.running.append(proc)  # type: ignore[arg-type]
        return proc


def last_json(proc: subprocess.Popen[str], *, timeout: float = 120) -> dict[str, Any]:
    """The JSON object an example prints as its last line, once it exits 0."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{err}"
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, f"printed nothing\n{err}"
    printed: dict[str, Any] = json.loads(lines[-1])
    assert set(printed) == {"outcome", "tool_ran", "args", "model_saw"}, printed
    return printed
