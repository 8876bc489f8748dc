"""A token bucket per key in Redis: one Lua script refills by elapsed time and takes a token atomically."""

from __future__ import annotations

import math

import redis.asyncio

from bot.store.review_state import PREFIX

# KEYS bucket; ARGV rate (tokens/s), capacity. Returns {1, 0} when a token was taken, else {0, ms until one is}.
_TAKE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = capacity, now_ms end
tokens = math.min(capacity, tokens + math.max(0, now_ms - at) * rate / 1000)
local taken = 0
if tokens >= 1 then tokens = tokens - 1; taken = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now_ms)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
if taken == 1 then return {1, 0} end
return {0, math.ceil((1 - tokens) * 1000 / rate)}
"""


class RateLimiter:
    """`rate` requests per second per key, with bursts of up to `capacity`, on an asyncio Redis client (the
    web process checks it on its event loop)."""

    def __init__(self, client: redis.asyncio.Redis, *, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._take = client.register_script(_TAKE)

    async def take(self, key: str) -> float:
        """Take a token for `key`: 0 when allowed, else the whole seconds to wait before one is available."""
        taken, wait_ms = await self._take(keys=[f"{PREFIX}rate:{key}"], args=[self.rate, self.capacity])
        return 0.0 if int(taken) else max(1, math.ceil(int(wait_ms) / 1000))
