"""Every RQ job handoff runs, and the one way to enqueue each: by the function, never by a string path.

Job functions are module-level and take plain ids. Each reaches the process's Runtime through the one
seam, `bot.runtime.current()` (the worker `activate`s it), and imports its implementation when it runs,
so the agent-side client and the review modules can name a job without importing what runs it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from rq import Callback, get_current_job
from rq.job import Job, JobStatus, Retry

from bot.runtime import current
from bot.store.job_liveness import fetch_job, is_live
from bot.store.queues import EXECUTE_QUEUE, SCORE_QUEUE, queue_on

log = logging.getLogger(__name__)
WEEK = 7 * 86400
TICK_EVERY = timedelta(seconds=60)
TICK_JOB_PREFIX = "handoff-reconcile-tick-"
TICK_KEY = "handoff:reconcile-tick"  # the id of the next tick's job: each tick has its own (RQ deletes a
# finished job's id, so a reused one would delete the next run)
REPORT_DETAIL_MAX = 4000
RETRY_INTERVALS = (1, 2, 4, 8, 15, 30, 60)  # seconds between tries of a failed job (Slack down, the ledger busy)


def assess(proposal_id: str) -> str:
    """Phase one: store, score and route a submitted proposal (see `bot.review.phases.assess`)."""
    from bot.review import phases

    return phases.assess(current(), proposal_id)


def execute(proposal_id: str) -> str:
    """Phase two: finalize the card and run the decided action's callback at most once."""
    from bot.review import phases

    return phases.execute(current(), proposal_id)


def report_execution(proposal_id: str, ok: bool, detail: str) -> str:
    """Record how the agent's own run of a decided action went, and say so in the card's thread (once)."""
    from bot.review import phases

    return phases.report_execution(current(), proposal_id, ok, detail)


def refresh_card(proposal_id: str) -> bool:
    """Redraw a pending review's card (after an approval toward a quorum, a hold, a redirect)."""
    from bot.review import assignment

    return assignment.update_card(current(), proposal_id)


def fire_timer(proposal_id: str, generation: int, step: str) -> str:
    """One step of a review's escalation chain, if it is still due (see `bot.review.timers.fire`)."""
    from bot.review import timers

    return timers.fire(current(), proposal_id, generation, step)


def tick() -> str:
    """One reconcile pass, then schedule the next (even when this pass failed).

    Only the tick the chain points at schedules a successor, so a second chain never starts."""
    from bot.review.policy_file import publish_categories
    from bot.review.reconcile import reconcile

    runtime = current()
    job = get_current_job()
    try:
        publish_categories(runtime)  # again, in case Redis lost them
        report = reconcile(runtime)
    finally:
        pointer = _tick_pointer(runtime.redis)
        if job is None or pointer is None or pointer == job.id or not next_tick_exists(runtime.redis):
            schedule_tick(runtime.redis, every=runtime.settings.reconcile_every)
    return f"reassessed={len(report.reassessed)} reopened={len(report.reopened)} reexecuted={len(report.reexecuted)}"


def note_failure(job: Job, connection: Any, kind: type[BaseException], error: BaseException, *_: Any) -> None:
    """RQ failure callback: say in the log what failed and whether (and when) RQ tries again."""
    what = f"{(job.func_name or 'job').rsplit('.', 1)[-1]} of {job.args[0] if job.args else job.id}"
    reason = f"{kind.__name__}: {str(error)[:300]}"
    left = job.retries_left or 0
    if left:
        wait = RETRY_INTERVALS[min(len(RETRY_INTERVALS) - left, len(RETRY_INTERVALS) - 1)]
        log.warning("%s failed (%s); retrying in %ss, %d tries left", what, reason, wait, left)
    else:
        log.error("%s failed (%s) with no tries left; the next reconcile pass takes it up again", what, reason)


def retried() -> dict[str, Any]:
    """Enqueue options for an idempotent job: retried with backoff by RQ's scheduler, each failure logged."""
    return {
        "retry": Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        "on_failure": Callback(note_failure),
    }


def assess_job_id(proposal_id: str) -> str:
    return f"assess-{proposal_id}"


def execute_job_id(proposal_id: str) -> str:
    return f"execute-{proposal_id}"


def timer_job_id(pid: str, generation: int, step: str) -> str:
    return f"timer-{pid}-{generation}-{step}"


def enqueue_assess(connection: redis.Redis, proposal_id: str) -> None:
    """Queue phase one for a submitted proposal."""
    queue_on(connection, SCORE_QUEUE).enqueue(
        assess, proposal_id, job_id=assess_job_id(proposal_id), result_ttl=3600, failure_ttl=WEEK, **retried()
    )


def is_assess_live(connection: redis.Redis, proposal_id: str) -> bool:
    """True when a proposal's `assess` job is waiting, or running on a worker that is still alive."""
    return is_live(connection, fetch_job(connection, assess_job_id(proposal_id)))


def enqueue_execute(connection: redis.Redis, proposal_id: str) -> None:
    """Queue phase two unless a live or finished job for it exists; the job itself claims before acting.

    A job whose worker died is enqueued again; its claim keeps the callback at most once.
    """
    job_id = execute_job_id(proposal_id)
    existing = fetch_job(connection, job_id)
    if is_live(connection, existing) or (existing and existing.get_status(refresh=False) == JobStatus.FINISHED):
        return
    queue_on(connection, EXECUTE_QUEUE).enqueue(
        execute, proposal_id, job_id=job_id, result_ttl=3600, failure_ttl=WEEK, **retried()
    )


def enqueue_report_execution(connection: redis.Redis, proposal_id: str, *, ok: bool, detail: str) -> None:
    """Queue the agent's report of how running a decided action went."""
    queue_on(connection, EXECUTE_QUEUE).enqueue(
        report_execution, proposal_id, bool(ok), str(detail)[:REPORT_DETAIL_MAX], result_ttl=3600, failure_ttl=WEEK
    )


def enqueue_refresh_card(connection: redis.Redis, proposal_id: str, *, revision: int) -> None:
    """Queue a redraw of a card; one job per revision, so a repeated enqueue is a no-op."""
    queue_on(connection, SCORE_QUEUE).enqueue(
        refresh_card, proposal_id, job_id=f"card-{proposal_id}-{revision}", result_ttl=600, failure_ttl=86400
    )


def enqueue_timer(connection: redis.Redis, proposal_id: str, generation: int, step: str, *, due: datetime) -> str:
    """Schedule a timer step's job unless a live one exists; returns its job id, or "" when none was made."""
    job_id = timer_job_id(proposal_id, generation, step)
    if is_live(connection, fetch_job(connection, job_id)):
        return ""
    queue = queue_on(connection, SCORE_QUEUE)
    args = (proposal_id, generation, step)
    options = {"job_id": job_id, "result_ttl": 86400, "failure_ttl": WEEK}
    if due <= datetime.now(UTC):
        queue.enqueue(fire_timer, *args, **options)
    else:
        queue.enqueue_at(due, fire_timer, *args, **options)
    return job_id


def schedule_tick(connection: redis.Redis, *, every: float = TICK_EVERY.total_seconds(), now: bool = False) -> str:
    """Schedule the next reconcile pass under a fresh job id (queued at once with `now`); returns the id."""
    job_id = f"{TICK_JOB_PREFIX}{uuid.uuid4().hex[:12]}"
    queue = queue_on(connection, SCORE_QUEUE)
    if now:
        queue.enqueue(tick, job_id=job_id, result_ttl=0)
    else:
        queue.enqueue_in(timedelta(seconds=every), tick, job_id=job_id, result_ttl=0)
    connection.set(TICK_KEY, job_id)
    return job_id


def ensure_tick(connection: redis.Redis, *, every: float = TICK_EVERY.total_seconds()) -> bool:
    """Queue a reconcile pass now if none is scheduled or queued; True when one was queued."""
    if next_tick_exists(connection):
        return False
    schedule_tick(connection, every=every, now=True)
    return True


# Backoff between webhook attempts: quick at first, then hourly; 31 retries span just over 24 hours.
WEBHOOK_RETRY_INTERVALS = [10, 30, 60, 120, 300, 600, 1200, 1800] + [3600] * 23


def deliver_webhook(proposal_id: str, agent: str) -> str:
    """POST a decision to its agent's webhook, signed; a failed attempt raises and RQ retries it later."""
    from bot.api import webhooks

    return webhooks.deliver(current(), proposal_id, agent)


def webhook_job_id(proposal_id: str) -> str:
    return f"webhook-{proposal_id}"


def enqueue_webhook(connection: redis.Redis, proposal_id: str, *, agent: str) -> bool:
    """Queue a decision's webhook delivery once per proposal; False when one was queued before."""
    job_id = webhook_job_id(proposal_id)
    if fetch_job(connection, job_id) is not None:
        return False
    retry = Retry(max=len(WEBHOOK_RETRY_INTERVALS), interval=WEBHOOK_RETRY_INTERVALS)
    queue_on(connection, EXECUTE_QUEUE).enqueue(
        deliver_webhook, proposal_id, agent, job_id=job_id, retry=retry, result_ttl=WEEK, failure_ttl=WEEK
    )
    return True


def next_tick_exists(connection: redis.Redis) -> bool:
    """True when the job the tick chain points at still exists (scheduled, queued or running)."""
    pointer = _tick_pointer(connection)
    return pointer is not None and fetch_job(connection, pointer) is not None


def _tick_pointer(connection: redis.Redis) -> str | None:
    raw: bytes | None = connection.get(TICK_KEY)  # type: ignore[assignment]
    return raw.decode() if raw is not None else None
