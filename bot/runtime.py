"""Wiring: the one place that builds Redis, the queues, the ledger, the policy and the Slack client.

RQ job functions take plain ids and find their collaborators through `current()`, which the
`worker` command (or a test) sets with `activate()` before work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from rq import Queue
from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.board import Board
from bot.checks import load_checks
from bot.ledger import Ledger
from bot.pacing import ChannelPacer, PacedWebClient
from bot.queues import queue_on
from bot.redis_server import connect
from bot.settings import Settings
from scoring.policy import Policy, PolicyError, parse_policy

if TYPE_CHECKING:  # anthropic is heavy: imported only when an API key is configured
    from bot.llm import SoftSignals


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


def load_policy(path: Path, *, explicit: bool = True) -> Policy:
    """Read and validate a policy file; without an explicit path, fall back to the packaged example.

    Custom checks are imported here, so an unimportable one is refused at load, not at assess time.
    """
    source = str(path)
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    elif explicit:
        raise PolicyError(f"{path}: no such file; set HANDOFF_POLICY to your policy's path")
    else:
        text, source = resources.files("bot.data").joinpath("default_policy.yaml").read_text(), "default policy"
    policy = parse_policy(text, source=source)
    load_checks(policy, source=source)
    return policy


class _GatewayErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler retries 500 and 503; a proxy's 502 and 504 are just as passing."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


def slack_client(settings: Settings, *, connection: redis.Redis | None = None) -> WebClient:
    """A Web API client that paces posts per channel (given Redis), waits out 429s (Retry-After) and
    retries 5xx and dropped connections."""
    return PacedWebClient(
        pacer=ChannelPacer(connection, rate=settings.post_rate)
        if connection is not None and settings.post_rate
        else None,
        token=settings.slack_bot_token.get_secret_value() or None,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=5),
            _GatewayErrorRetryHandler(max_retry_count=3),
        ],
    )


def build_runtime(settings: Settings, *, redis_url: str, policy: Policy | None = None) -> Runtime:
    """Connect everything; `redis_url` is resolved by the caller (configured or embedded)."""
    client = connect(redis_url)
    explicit = settings.policy_path != Path("policy.yaml")
    return Runtime(
        redis_url=redis_url,
        settings=settings,
        redis=client,
        board=Board(client),
        ledger=Ledger(settings.ledger_path),
        policy=policy or load_policy(settings.policy_path, explicit=explicit),
        slack=slack_client(settings, connection=client),
        llm=_soft_signals(settings),
    )


def _soft_signals(settings: Settings) -> SoftSignals | None:
    """The Claude client for soft signals, or None without ANTHROPIC_API_KEY (the pipeline then fails closed)."""
    if not settings.anthropic_api_key.get_secret_value():
        return None
    from bot.llm import build_soft_signals

    return build_soft_signals(settings)


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
