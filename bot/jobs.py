"""Every RQ job handoff runs, and the one way to enqueue each: by the function, never by a string path.

Job functions are module-level and take plain ids. Each reaches the process's Runtime through the one
seam, `bot.runtime.current()` (the worker `activate`s it), and imports its implementation when it runs,
so the agent-side client and the review modules can name a job without importing what runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from rq.job import JobStatus, Retry

from bot.runtime import current
from bot.store.job_liveness import fetch_job, is_live
from bot.store.queues import EXECUTE_QUEUE, SCORE_QUEUE, queue_on

WEEK = 7 * 86400
TICK_EVERY = timedelta(seconds=60)
TICK_JOB_ID = "handoff-reconcile-tick"
REPORT_DETAIL_MAX = 4000


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
    """One reconcile pass, then schedule the next (even when this pass failed)."""
    from bot.review.reconcile import reconcile

    runtime = current()
    try:
        report = reconcile(runtime)
    finally:
        schedule_tick(runtime.redis)
    return f"reassessed={len(report.reassessed)} reopened={len(report.reopened)} reexecuted={len(report.reexecuted)}"


def assess_job_id(proposal_id: str) -> str:
    return f"assess-{proposal_id}"


def execute_job_id(proposal_id: str) -> str:
    return f"execute-{proposal_id}"


def timer_job_id(pid: str, generation: int, step: str) -> str:
    return f"timer-{pid}-{generation}-{step}"


def enqueue_assess(connection: redis.Redis, proposal_id: str) -> None:
    """Queue phase one for a submitted proposal."""
    queue_on(connection, SCORE_QUEUE).enqueue(
        assess, proposal_id, job_id=assess_job_id(proposal_id), result_ttl=3600, failure_ttl=WEEK
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
    queue_on(connection, EXECUTE_QUEUE).enqueue(execute, proposal_id, job_id=job_id, result_ttl=3600, failure_ttl=WEEK)


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


def schedule_tick(connection: redis.Redis) -> None:
    """Schedule the next reconcile pass."""
    queue_on(connection, SCORE_QUEUE).enqueue_in(TICK_EVERY, tick, job_id=TICK_JOB_ID, result_ttl=0)


def ensure_tick(connection: redis.Redis) -> bool:
    """Queue a reconcile pass now if none is scheduled or queued; True when one was queued."""
    if fetch_job(connection, TICK_JOB_ID) is not None:
        return False
    queue_on(connection, SCORE_QUEUE).enqueue(tick, job_id=TICK_JOB_ID, result_ttl=0)
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
