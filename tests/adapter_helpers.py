"""Helpers for the framework adapter tests: a person deciding a card while the framework waits for it.

The agent runs in a thread (it blocks in the adapter's wait); the test thread waits for the proposal,
runs the worker's jobs (RQ's SimpleWorker, as `handoff worker` does), and clicks the card, signed as
Slack signs, on the web server the agent also talks to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from tests.conftest import wait_until, work
from tests.test_flows import ALICE, card_of, inputs

T = TypeVar("T")


@dataclass
class Person:
    """A reviewer in the sandbox deciding the cards of one deployment."""

    runtime: Runtime
    slack: SlackStandIn
    reviewer: Reviewer

    def card(self, pid: str) -> dict[str, Any]:
        """Wait until the agent has submitted `pid`, run the worker's jobs, and return its card."""
        wait_until(lambda: self.runtime.board.get_proposal(pid), timeout=20, what=f"the agent to submit {pid}")
        work(self.runtime)
        return card_of(self.slack, pid)

    def execution(self, pid: str) -> str | None:
        """What the ledger holds of the agent's report on running `pid`, once the worker has recorded it."""
        work(self.runtime)
        return self.runtime.ledger.execution(pid)

    def approve(self, pid: str) -> None:
        assert self.reviewer.click(self.card(pid), blocks.APPROVE, user=ALICE).status == 200

    def edit(self, pid: str, changes: dict[str, str]) -> None:
        opened = self._modal(pid, blocks.EDIT)
        ids = inputs(opened)
        values = {ids[name]: {blocks.ARG_INPUT: value} for name, value in changes.items()}
        assert self.reviewer.submit_view(opened, values, user=ALICE).status == 200

    def reject(self, pid: str, reason: str) -> None:
        opened = self._modal(pid, blocks.REJECT)
        values = {blocks.REASON_BLOCK: {blocks.REASON_INPUT: reason}}
        assert self.reviewer.submit_view(opened, values, user=ALICE).status == 200

    def pick_alternative(self, pid: str, index: int) -> None:
        opened = self._modal(pid, blocks.ALTERNATIVE)
        values = {blocks.PICK_BLOCK: {blocks.PICK_INPUT: str(index)}}
        assert self.reviewer.submit_view(opened, values, user=ALICE).status == 200

    def _modal(self, pid: str, action_id: str) -> dict[str, Any]:
        card = self.card(pid)
        seen = len(self.slack.views())
        assert self.reviewer.click(card, action_id, user=ALICE).status == 200
        return self.slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)


@contextmanager
def meanwhile(agent: Callable[[], T]) -> Iterator[Future[T]]:
    """Run the agent in a thread while the test decides; the pool is joined on the way out."""
    with ThreadPoolExecutor(1, thread_name_prefix="agent") as pool:
        yield pool.submit(agent)
