"""Per-channel pacing of chat.postMessage, shared by every process through Redis.

Slack allows about one message per second per channel, with short bursts, and answers 429 past
that. A token bucket per channel (one Lua script, Redis's clock) hands each post its slot; the
client waits for the slot before posting, so a burst of notices slows down instead of failing.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

RATE_PER_SECOND = 1.0
BURST = 10

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], 3600000)
if tokens >= 0 then return 0 end
return math.ceil(-tokens / rate)
"""


class ChannelPacer:
    """Reserves posting slots per channel: `reserve(channel)` returns the seconds to wait first."""

    def __init__(self, connection: redis.Redis, *, rate: float = RATE_PER_SECOND, burst: int = BURST) -> None:
        self._reserve = connection.register_script(_RESERVE)
        self.rate, self.burst = rate, burst

    def reserve(self, channel: str) -> float:
        """Take the channel's next slot; 0 when a post may go now."""
        wait_ms = self._reserve(keys=[f"handoff:pace:{channel}"], args=[self.rate, self.burst])
        return int(wait_ms) / 1000


class PacedWebClient(WebClient):
    """A WebClient whose chat.postMessage waits for the channel's slot (see ChannelPacer)."""

    def __init__(self, *, pacer: ChannelPacer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacer = pacer

    def chat_postMessage(self, *, channel: str, **kwargs: Any) -> SlackResponse:
        if self.pacer is not None:
            delay = self.pacer.reserve(channel)
            if delay > 0:
                time.sleep(delay)  # pacing, not synchronisation: the slot is already ours
        return super().chat_postMessage(channel=channel, **kwargs)
