"""Wiring: the one place that builds Redis, the queues, the ledger, the policy and the Slack client
into a `Runtime` from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.review.policy_file import configured_policy
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.web_api import ChannelPacer, PacedWebClient
from bot.store.embedded_redis import connect
from bot.store.ledger import Ledger
from bot.store.review_state import Board
from scoring.policy import Policy

if TYPE_CHECKING:  # anthropic is heavy: imported only when an API key is configured
    from bot.llm.soft_signals import SoftSignals


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
    return Runtime(
        redis_url=redis_url,
        settings=settings,
        redis=client,
        board=Board(client),
        ledger=Ledger(settings.ledger_target),
        policy=policy or configured_policy(settings),
        slack=slack_client(settings, connection=client),
        llm=_soft_signals(settings),
    )


def _soft_signals(settings: Settings) -> SoftSignals | None:
    """The Claude client for soft signals, or None without ANTHROPIC_API_KEY (the pipeline then fails closed)."""
    if not settings.anthropic_api_key.get_secret_value():
        return None
    from bot.llm.soft_signals import build_soft_signals

    return build_soft_signals(settings)
