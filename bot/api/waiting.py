"""The long-poll: wait for a decision on the proposal's Redis stream without holding a thread.

Each waiter is a coroutine blocked in `XREAD BLOCK` on the async client, in chunks shorter than the
socket timeout; a decision appended to the stream wakes it at once, and a late waiter reading from
`0-0` sees a decision that was published before it started.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio

from bot.store.review_state import stream_key

BLOCK_CHUNK_MS = 5_000
SOCKET_TIMEOUT = 15.0
MAX_WAITERS = 10_000


class DecisionWaiter:
    """Async waits on decision streams over one pool of Redis connections (one per waiting request)."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.asyncio.Redis.from_url(
            redis_url, socket_timeout=SOCKET_TIMEOUT, max_connections=MAX_WAITERS
        )

    async def wait(self, proposal_id: str, timeout: float) -> bytes | None:
        """The decision's JSON as published, or None when `timeout` seconds pass first."""
        deadline = time.monotonic() + max(timeout, 0)
        key = stream_key(proposal_id)
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                reply: Any = await self.client.xread({key: "0-0"}, count=1)
            else:
                reply = await self.client.xread({key: "0-0"}, count=1, block=min(BLOCK_CHUNK_MS, remaining_ms))
            if reply:
                _stream, entries = reply[0]
                return bytes(entries[0][1][b"decision"])
            if remaining_ms <= BLOCK_CHUNK_MS:
                return None

    async def close(self) -> None:
        await self.client.aclose()
