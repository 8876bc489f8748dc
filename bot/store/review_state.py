"""Redis coordination: submitted proposals, pending reviews, and the decision streams.

The ledger takes each decision (one transaction picks the single winner, see `Ledger.decide`); only
then is it published here: one Lua script marks the review decided and appends the decision to the
proposal's stream, so an agent reading the stream from `0-0` sees it however late it starts waiting,
and never sees a decision the ledger does not hold.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Any

import redis

from bot.store.redis_batch import hget_many
from bot.store.rows import Submission
from scoring.models import Decision

PREFIX = "handoff:"
INBOX = PREFIX + "inbox"
MARKER = PREFIX + "state-marker"
CATEGORIES = PREFIX + "policy-categories"  # the active policy's categories, as the running deployment published them
DECIDED_TTL = 7 * 86400  # as long as reconcile republishes decisions after Redis loses them
STREAM_BLOCK_MS = 5_000  # kept below the client's socket timeout (redis_server.SOCKET_TIMEOUT)

_RESTORE = """
if redis.call('HGET', KEYS[1], 'status') == 'decided' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'decided', 'decision', ARGV[1])
if redis.call('XLEN', KEYS[2]) == 0 then redis.call('XADD', KEYS[2], '*', 'decision', ARGV[1]) end
return 1
"""


class Verdict(StrEnum):
    """How a decision attempt ended: this caller decided, someone else had, progress, or refused."""

    WON = "won"
    LOST = "lost"
    PROGRESS = "progress"  # an approval recorded toward a quorum that is not reached yet
    REFUSED = "refused"  # not counted: the policy forbids this reviewer this outcome (nothing changed)


def proposal_key(proposal_id: str) -> str:
    return f"{PREFIX}proposal:{proposal_id}"


def review_key(proposal_id: str) -> str:
    return f"{PREFIX}review:{proposal_id}"


def stream_key(proposal_id: str) -> str:
    return f"{PREFIX}decision:{proposal_id}"


def approvers_key(proposal_id: str) -> str:
    return f"{PREFIX}approvers:{proposal_id}"


class Board:
    """The Redis side of handoff's state, over one client."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._restore = client.register_script(_RESTORE)

    def lost_memory(self) -> bool:
        """True when this Redis has never been marked by handoff, or was emptied since."""
        return not self.redis.exists(MARKER)

    def remember(self) -> None:
        """Mark this Redis as holding handoff's state (see `lost_memory`)."""
        self.redis.set(MARKER, "1")

    def publish_categories(self, names: list[str], *, version: str) -> None:
        """Tell agents which categories the active policy has (their client refuses the others)."""
        self.redis.set(CATEGORIES, json.dumps({"categories": sorted(names), "policy_version": version}))

    def categories(self) -> list[str] | None:
        """The categories the deployment published, or None when no worker has published any yet."""
        raw = self.redis.get(CATEGORIES)
        return list(json.loads(raw)["categories"]) if raw else None

    def put_proposal(self, proposal_id: str, submission: Submission) -> bool:
        """Store a submitted proposal once and put it in the inbox; False if the id was taken."""
        created = bool(self.redis.set(proposal_key(proposal_id), submission.to_json(), nx=True))
        if created:
            self.redis.sadd(INBOX, proposal_id)
        return created

    def get_proposal(self, proposal_id: str) -> Submission | None:
        """The submitted proposal and when it came, or None."""
        raw = self.redis.get(proposal_key(proposal_id))
        return Submission.from_json(raw) if raw else None

    def inbox(self) -> list[str]:
        """Proposals submitted but not yet through `assess`."""
        return sorted(m.decode() for m in self.redis.smembers(INBOX))  # type: ignore[union-attr]

    def done_with_inbox(self, proposal_id: str) -> None:
        self.redis.srem(INBOX, proposal_id)

    def open_review(self, proposal_id: str) -> None:
        """Mark a review pending unless it is already pending or decided."""
        self.redis.hsetnx(review_key(proposal_id), "status", "pending")

    def decided(self, proposal_id: str) -> Decision | None:
        """The decision Redis holds for a proposal, or None."""
        raw = self.redis.hget(review_key(proposal_id), "decision")
        return Decision.model_validate_json(raw) if raw else None

    def is_pending(self, proposal_id: str) -> bool:
        return self.redis.hget(review_key(proposal_id), "status") == b"pending"

    def pending_among(self, proposal_ids: list[str]) -> set[str]:
        """Which of `proposal_ids` Redis holds as pending, read in batches."""
        statuses = hget_many(self.redis, [review_key(pid) for pid in proposal_ids], "status")
        return {pid for pid, status in zip(proposal_ids, statuses, strict=True) if status == b"pending"}

    def expire_decided(self, proposal_id: str) -> None:
        """Let a decided proposal's keys go after DECIDED_TTL (Redis runs with noeviction; the ledger keeps all)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in (proposal_key, review_key, stream_key, approvers_key):
                pipe.expire(key(proposal_id), DECIDED_TTL)
            pipe.execute()

    def restore_decided(self, decision: Decision) -> bool:
        """Re-create the decided state and stream from the ledger after Redis lost them."""
        pid = decision.proposal_id
        restored = bool(self._restore(keys=[review_key(pid), stream_key(pid)], args=[decision.model_dump_json()]))
        if restored:
            self.expire_decided(pid)
        return restored

    def wait(self, proposal_id: str, timeout: float) -> Decision | None:
        """Block until the proposal's decision is published or `timeout` seconds pass (then None)."""
        deadline = time.monotonic() + max(timeout, 0)
        key = stream_key(proposal_id)
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            block = max(1, min(STREAM_BLOCK_MS, remaining_ms))
            reply: Any = self.redis.xread({key: "0-0"}, count=1, block=block)
            if reply:
                _stream, entries = reply[0]
                return Decision.model_validate_json(entries[0][1][b"decision"])
            if remaining_ms <= block:
                return None
