"""Reconcile: make Redis and the queues agree with the ledger, the durable source of truth.

Runs when a worker starts and periodically after. It re-enqueues proposals whose `assess` job was
lost (a worker killed mid-job, Redis restarted empty), re-opens pending reviews Redis forgot,
restores decided state and streams from the ledger, and enqueues phase two for decided proposals
that have not run it. It also starts the escalation chain of a posted card that has none,
re-schedules every timer the ledger still owes (one past due fires at once), so no reminder, escalation
or expiry is lost with Redis, redraws every digest message that is missing or behind the ledger, and
revokes every standing approval an allowed action of which was flagged without revoking it.
Every step is idempotent.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.jobs import enqueue_assess, enqueue_execute, is_assess_live
from bot.review import digests, standing, timers
from bot.review.quarantine import is_quarantined, isolated
from bot.runtime import Runtime
from bot.slack.messages import card_claim_key
from bot.store import queries
from bot.store.rows import PendingFacts
from scoring.models import Proposal

log = logging.getLogger(__name__)
REPUBLISH_WINDOW = timedelta(days=7)
CHUNK = 1000  # pending reviews read from the ledger and Redis at a time
READ_BACK_MAX = 100_000
_READ_BACK: set[bytes] = set()  # digests of stored proposals this process has read back
HEAD_KEY = "handoff:ledger-head"


@dataclass
class Report:
    """What one reconcile pass repaired."""

    reassessed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    reexecuted: list[str] = field(default_factory=list)
    republished: int = 0
    rescheduled: list[str] = field(default_factory=list)
    redrawn_digests: list[int] = field(default_factory=list)
    revoked_rules: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        repaired = self.reassessed or self.reopened or self.reexecuted or self.republished or self.rescheduled
        return bool(repaired or self.redrawn_digests or self.revoked_rules)


def reconcile(runtime: Runtime) -> Report:
    """One pass over the inbox, the pending reviews and the unexecuted decisions; a proposal that fails
    is quarantined (see `bot.review.quarantine`) and the pass goes on with the others."""
    report = Report()
    if runtime.board.lost_memory():
        report.republished = _republish_recent(runtime)
    for pid in runtime.board.inbox():
        with isolated(runtime, pid, "reconcile:inbox"):
            _inbox(runtime, pid, report)
    pending = runtime.ledger.pending_ids()
    for start in range(0, len(pending), CHUNK):  # read in batches: a pass over 10,000 reviews stays short
        chunk = pending[start : start + CHUNK]
        facts, in_redis = queries.pending_facts(runtime.ledger, chunk), runtime.board.pending_among(chunk)
        for pid in chunk:
            with isolated(runtime, pid, "reconcile:pending"):
                _pending(runtime, pid, facts.get(pid), pid in in_redis, report)
    for pid in runtime.ledger.unexecuted_ids():
        with isolated(runtime, pid, "reconcile:execute"):
            decision = runtime.ledger.decision(pid)
            if decision is not None:
                runtime.board.restore_decided(decision)
                enqueue_execute(runtime.redis, pid)
                report.reexecuted.append(pid)
    report.rescheduled.extend(timers.ensure_jobs(runtime))
    publish_head(runtime)
    report.redrawn_digests.extend(digests.repair(runtime))
    report.revoked_rules.extend(standing.repair(runtime))
    if report:
        log.info("reconcile repaired: %s", report)
    return report


def _inbox(runtime: Runtime, pid: str, report: Report) -> None:
    handled = runtime.ledger.decision(pid) or runtime.ledger.card(pid) or runtime.ledger.refusal(pid)
    if handled or is_quarantined(runtime, pid):
        runtime.board.done_with_inbox(pid)
    elif not is_assess_live(runtime.redis, pid):
        _reassess(runtime, pid)
        report.reassessed.append(pid)


def _pending(runtime: Runtime, pid: str, facts: PendingFacts | None, in_redis: bool, report: Report) -> None:
    facts = facts or PendingFacts("", carded=False, chained=False)  # no stored proposal: assess it again
    if facts.body:  # a record that cannot be read back is quarantined here, not at a click
        _read_back(facts.body)
    if not in_redis:  # Redis never decides: a decision it holds alone is not trusted
        runtime.board.open_review(pid)
        report.reopened.append(pid)
    if facts.carded and not facts.chained:
        timers.start_chain(runtime, pid)
    if not facts.carded and not is_assess_live(runtime.redis, pid):
        _reassess(runtime, pid)
        report.reassessed.append(pid)


def _read_back(body: str) -> None:
    """Validate a stored proposal once per process: stored records never change, and a pass over 10,000
    pending reviews should not parse all of them again every minute. Bounded: forgets all when full."""
    digest = hashlib.blake2b(body.encode(), digest_size=16).digest()
    if digest in _READ_BACK:
        return
    Proposal.model_validate_json(body)
    if len(_READ_BACK) >= READ_BACK_MAX:
        _READ_BACK.clear()
    _READ_BACK.add(digest)


def publish_head(runtime: Runtime) -> None:
    """Keep the ledger's chain head in Redis, outside the file; say so loudly if the ledger fell behind it."""
    head = runtime.ledger.head()
    raw: bytes | None = runtime.redis.get(HEAD_KEY)  # type: ignore[assignment]
    published = raw.decode() if raw else ""
    if published and int(published.partition(":")[0]) > int(head.partition(":")[0]):
        log.error(
            "the ledger ends at %s but Redis saw it reach %s: events were removed; run `handoff verify --head %s`",
            head,
            published,
            published,
        )
        return
    runtime.redis.set(HEAD_KEY, head)


def _republish_recent(runtime: Runtime) -> int:
    """Redis came back empty: put recent decisions back on their streams so late waiters still see them."""
    if runtime.ledger.counts()["proposals"] == 0:  # a first start: an empty Redis and an empty ledger lost nothing
        runtime.board.remember()
        return 0
    since = (datetime.now(UTC) - REPUBLISH_WINDOW).isoformat(timespec="milliseconds")
    restored = sum(runtime.board.restore_decided(d) for d in runtime.ledger.decisions_since(since))
    runtime.board.remember()
    log.warning("Redis had lost handoff's state; republished %d recent decisions from the ledger", restored)
    return restored


def _reassess(runtime: Runtime, pid: str) -> None:
    """Enqueue `assess` again; a card claim left by the dead job is released first.

    If the dead job's post did reach Slack, the proposal gets a second card: a duplicate card is
    better than none, and both decide through the same exactly-once path.
    """
    runtime.redis.delete(card_claim_key(pid))
    enqueue_assess(runtime.redis, pid)
