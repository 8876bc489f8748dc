"""Slack user-group membership, cached in Redis: `usergroups.users.list` is tier 2 and paid plans only.

A successful answer is kept for `CACHE_TTL` seconds; a failure (`no_such_subteam`, `paid_teams_only`,
a 429 that outlasted the retries, a network error) is remembered for `FAILURE_TTL` seconds so a burst
of clicks does not hammer the API, and is reported to the caller, which falls back to the rotation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.runtime import Runtime

log = logging.getLogger(__name__)
CACHE_TTL = 600
FAILURE_TTL = 60


@dataclass(frozen=True)
class Membership:
    """The members of a user group, or None with the reason Slack could not tell us."""

    group: str
    users: frozenset[str] | None
    error: str = ""


def cache_key(group: str) -> str:
    return f"handoff:usergroup:{group}"


def failure_key(group: str) -> str:
    return f"handoff:usergroup-failed:{group}"


def members(runtime: Runtime, group: str) -> Membership:
    """The group's members, from the cache or Slack; `users` is None when Slack refused or failed."""
    cached = runtime.redis.get(cache_key(group))
    if cached:
        return Membership(group, frozenset(json.loads(cached)))
    failed: bytes | None = runtime.redis.get(failure_key(group))  # type: ignore[assignment]
    if failed:
        return Membership(group, None, failed.decode())
    try:
        response = _client(runtime.slack).usergroups_users_list(usergroup=group)
        users = [str(u) for u in response.get("users") or []]
    except (SlackClientError, OSError) as exc:  # OSError: Slack unreachable (URLError, timeouts)
        reason = _reason(exc)
        log.warning("user group %s unavailable (%s): routing falls back to the rotation", group, reason)
        runtime.redis.set(failure_key(group), reason, ex=FAILURE_TTL)
        return Membership(group, None, reason)
    runtime.redis.set(cache_key(group), json.dumps(users), ex=CACHE_TTL)
    return Membership(group, frozenset(users))


def resolve(runtime: Runtime, groups: list[str]) -> dict[str, frozenset[str] | None]:
    """Members of each group (None for those that could not be read)."""
    return {group: members(runtime, group).users for group in groups}


def _reason(exc: SlackClientError | OSError) -> str:
    if isinstance(exc, OSError):
        return f"Slack unreachable: {exc}"
    response = getattr(exc, "response", None)
    if response is not None:
        if response.status_code == 429:
            return "rate limited (429)"
        error = response.get("error") if hasattr(response, "get") else None
        if error:
            return str(error)
    return type(exc).__name__


def _client(slack: WebClient) -> WebClient:
    """A client for this one call: two retries on 429, so a click is not held for long."""
    return WebClient(
        token=slack.token,
        base_url=slack.base_url,
        timeout=5,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(max_retry_count=2)],
    )
