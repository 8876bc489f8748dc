"""The worker process: reconcile with the ledger, then run RQ jobs from handoff's queues.

A periodic `bot.jobs.tick` job (rescheduled by itself through RQ's scheduler) reconciles again, so work
lost to a crash or a Redis restart is found without a human noticing. The tick lives in Redis, so a
watchdog thread (on its own connection, which forked jobs never touch) queues a tick at once when
Redis has lost it, after a restart with its data gone, say.

Jobs run in RQ's forking `Worker`: each job gets a fresh work horse, so an agent's callback that crashes,
leaks or changes global state cannot take the worker down with it. What a horse would otherwise load for
every job (handoff's review code, the policy's custom checks) is loaded once here, before the fork; see
docs/deploy.md, "How the worker runs jobs", for the figures behind that choice.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

import redis
from rq import SimpleWorker, Worker

# The job bodies in bot.jobs import these when they run. Importing them in the worker, before any fork,
# is what keeps a work horse from spending most of each job importing them again.
from bot.jobs import ensure_tick, schedule_tick
from bot.review import assignment, phases, timers  # noqa: F401  (preloaded for the work horses)
from bot.review.policy_file import resolve_checks
from bot.review.reconcile import reconcile
from bot.runtime import Runtime, activate
from bot.store.embedded_redis import connect
from bot.store.queues import QUEUES, SCORE_QUEUE

log = logging.getLogger(__name__)
WATCHDOG_EVERY = 30.0


def run_worker(
    runtime: Runtime, *, queues: tuple[str, ...] = QUEUES, burst: bool = False, simple: bool = False
) -> bool:
    """Work until stopped (or, with `burst`, until the queues are empty); returns whether any job ran."""
    activate(runtime)
    reconcile(runtime)
    if not burst:
        schedule_tick(runtime.redis)
        _start_watchdog(runtime)
    worker = build_worker(runtime, queues=queues, simple=simple)
    return bool(worker.work(burst=burst, with_scheduler=not burst, logging_level="WARNING"))


def build_worker(runtime: Runtime, *, queues: tuple[str, ...] = QUEUES, simple: bool = False) -> Worker:
    """RQ's forking `Worker` (or, with `simple`, the in-process `SimpleWorker`) on a preloaded process."""
    preload(runtime)
    worker_class = SimpleWorker if simple else Worker
    return worker_class(
        [runtime.queue(name) for name in queues],
        connection=runtime.redis,
        serializer=runtime.queue(SCORE_QUEUE).serializer,
    )


def preload(runtime: Runtime) -> None:
    """Load once, in the parent, what each forked job would otherwise load for itself.

    The policy's custom checks are imported, and the objects built so far are frozen out of the garbage
    collector, so a work horse neither re-imports them nor dirties their pages by scanning them.
    """
    resolve_checks(runtime.policy)
    gc.collect()
    gc.freeze()


def _start_watchdog(runtime: Runtime) -> None:
    connection = connect(runtime.redis_url)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_EVERY)  # a timer, not synchronisation
            try:
                if ensure_tick(connection):
                    log.warning("no reconcile pass was scheduled (Redis lost it?); queued one now")
            except redis.RedisError as exc:
                log.warning("watchdog could not reach Redis: %s", exc)

    threading.Thread(target=watch, name="handoff-watchdog", daemon=True).start()
