"""The worker process: reconcile with the ledger, then run RQ jobs from handoff's queues.

A periodic `tick` job (rescheduled by itself through RQ's scheduler) reconciles again, so work
lost to a crash or a Redis restart is found without a human noticing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import SimpleWorker, Worker

from bot.reconcile import reconcile
from bot.runtime import QUEUES, SCORE_QUEUE, Runtime, activate, current

log = logging.getLogger(__name__)
TICK_EVERY = timedelta(seconds=60)
TICK_JOB_ID = "handoff-reconcile-tick"


def run_worker(
    runtime: Runtime, *, queues: tuple[str, ...] = QUEUES, burst: bool = False, simple: bool = False
) -> bool:
    """Work until stopped (or, with `burst`, until the queues are empty); returns whether any job ran."""
    activate(runtime)
    reconcile(runtime)
    if not burst:
        schedule_tick(runtime)
    worker_class = SimpleWorker if simple else Worker
    worker = worker_class(
        [runtime.queue(name) for name in queues],
        connection=runtime.redis,
        serializer=runtime.queue(SCORE_QUEUE).serializer,
    )
    return bool(worker.work(burst=burst, with_scheduler=not burst, logging_level="WARNING"))


def schedule_tick(runtime: Runtime) -> None:
    """Schedule the next reconcile pass."""
    runtime.queue(SCORE_QUEUE).enqueue_in(TICK_EVERY, "bot.worker.tick", job_id=TICK_JOB_ID, result_ttl=0)


def tick() -> str:
    """RQ job: one reconcile pass, then schedule the next."""
    runtime = current()
    report = reconcile(runtime)
    schedule_tick(runtime)
    return f"reassessed={len(report.reassessed)} reopened={len(report.reopened)} reexecuted={len(report.reexecuted)}"
