"""The Runtime: everything a handoff process talks to, handed to jobs, listeners and commands.

`bot.app.wiring.build_runtime` builds one from settings; job functions reach it through the one seam
in `bot.jobs` (`activate` in the worker, `current` in a job), everything else takes it as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.store.queues import queue_on

if TYPE_CHECKING:  # the types only: bot.jobs (and through it the agent-side client) imports this module
    import redis
    from rq import Queue
    from slack_sdk import WebClient

    from bot.llm.soft_signals import SoftSignals
    from bot.settings import Settings
    from bot.store.ledger import Ledger
    from bot.store.review_state import Board
    from scoring.policy import Policy


@dataclass
class Runtime:
    """Everything a handoff process talks to, built from settings."""

    settings: Settings
    redis: redis.Redis
    board: Board
    ledger: Ledger
    policy: Policy
    slack: WebClient
    llm: SoftSignals | None = None
    redis_url: str = ""

    def queue(self, name: str) -> Queue:
        """One of handoff's RQ queues on this runtime's Redis."""
        return queue_on(self.redis, name)

    def close(self) -> None:
        """Release the connections this runtime holds (Redis, the ledger, Claude's HTTP pool)."""
        if self.llm is not None:
            self.llm.close()
        self.redis.close()
        self.ledger.close()


_active: Runtime | None = None


def activate(runtime: Runtime) -> None:
    """Make `runtime` the one job functions in this process use."""
    global _active
    _active = runtime


def current() -> Runtime:
    """The runtime activated in this process; job functions call this."""
    if _active is None:
        raise RuntimeError("no handoff runtime is active; start jobs with `handoff worker`")
    return _active
