"""The worker process: reconcile with the ledger, then run RQ jobs from handoff's queues.

A periodic `tick` job (rescheduled by itself through RQ's scheduler) reconciles again, so work
lost to a crash or a Redis restart is found without a human noticing. The tick lives in Redis, so a
watchdog thread (on its own connection, which forked jobs never touch) queues a tick at once when
Redis has lost it, after a restart with its data gone, say.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import redis
from rq import SimpleWorker, Worker
from rq.job import Job

from bot.review.reconcile import reconcile
from bot.runtime import Runtime, activate, current
from bot.store.embedded_redis import connect
from bot.store.queues import QUEUES, SCORE_QUEUE, queue_on

log = logging.getLogger(__name__)
TICK_EVERY = timedelta(seconds=60)
TICK_JOB_ID = "handoff-reconcile-tick"
WATCHDOG_EVERY = 30.0


def run_worker(
    runtime: Runtime, *, queues: tuple[str, ...] = QUEUES, burst: bool = False, simple: bool = False
) -> bool:
    """Work until stopped (or, with `burst`, until the queues are empty); returns whether any job ran."""
    activate(runtime)
    reconcile(runtime)
    if not burst:
        schedule_tick(runtime)
        _start_watchdog(runtime)
    worker_class = SimpleWorker if simple else Worker
    worker = worker_class(
        [runtime.queue(name) for name in queues],
        connection=runtime.redis,
        serializer=runtime.queue(SCORE_QUEUE).serializer,
    )
    return bool(worker.work(burst=burst, with_scheduler=not burst, logging_level="WARNING"))


def schedule_tick(runtime: Runtime) -> None:
    """Schedule the next reconcile pass."""
    runtime.queue(SCORE_QUEUE).enqueue_in(TICK_EVERY, "bot.app.worker.tick", job_id=TICK_JOB_ID, result_ttl=0)


def tick() -> str:
    """RQ job: one reconcile pass, then schedule the next (even when this pass failed)."""
    runtime = current()
    try:
        report = reconcile(runtime)
    finally:
        schedule_tick(runtime)
    return f"reassessed={len(report.reassessed)} reopened={len(report.reopened)} reexecuted={len(report.reexecuted)}"


def ensure_tick(connection: redis.Redis) -> bool:
    """Queue a reconcile pass now if none is scheduled or queued; True when one was queued."""
    if Job.exists(TICK_JOB_ID, connection=connection):
        return False
    queue_on(connection, SCORE_QUEUE).enqueue("bot.app.worker.tick", job_id=TICK_JOB_ID, result_ttl=0)
    log.warning("no reconcile pass was scheduled (Redis lost it?); queued one now")
    return True


def _start_watchdog(runtime: Runtime) -> None:
    connection = connect(runtime.redis_url)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_EVERY)  # a timer, not synchronisation
            try:
                ensure_tick(connection)
            except redis.RedisError as exc:
                log.warning("watchdog could not reach Redis: %s", exc)

    threading.Thread(target=watch, name="handoff-watchdog", daemon=True).start()
