"""The worker process: reconcile with the ledger, then run RQ jobs from handoff's queues.

A periodic `bot.jobs.tick` job (rescheduled by itself through RQ's scheduler, every
`HANDOFF_RECONCILE_EVERY` seconds, each run under its own job id) reconciles again, so work
lost to a crash or a Redis restart is found without a human noticing. The tick lives in Redis, so a
watchdog thread (on its own connection, which forked jobs never touch) queues a tick at once when
Redis has lost it, after a restart with its data gone, say.

Jobs run in `HandoffWorker`: handoff's own jobs (assess, timers, card redraws, reconcile) run in the
worker process, as in RQ's `SimpleWorker`; `execute`, which runs the agent's callback, runs in a forked
work horse, so a callback that crashes, leaks or changes global state cannot take the worker down. What
a horse would otherwise load for itself (handoff's review code, the policy's custom checks) is loaded
before any fork. docs/deploy.md, "How the worker runs jobs", gives the figures behind that choice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers

# The job bodies in bot.jobs import these when they run. Importing them in the worker, before any fork,
# is what keeps a work horse from spending most of each job importing them again.
from bot import jobs
from bot.api import webhooks  # noqa: F401  (preloaded for the work horses)
from bot.jobs import ensure_tick, next_tick_exists, schedule_tick
from bot.review import assignment, phases, timers  # noqa: F401  (preloaded for the work horses)
from bot.review.policy_file import publish_categories, resolve_checks
from bot.review.reconcile import reconcile
from bot.runtime import Runtime, activate
from bot.slack.failures import is_outside_failure
from bot.store.embedded_redis import connect
from bot.store.queues import QUEUES, SCORE_QUEUE

log = logging.getLogger(__name__)
WATCHDOG_EVERY = 30.0
IN_PROCESS = frozenset(  # handoff's own code only; anything else (an agent's callback) gets a work horse
    f"{job.__module__}.{job.__qualname__}"
    for job in (jobs.assess, jobs.refresh_card, jobs.fire_timer, jobs.tick, jobs.report_execution, jobs.deliver_webhook)
)


class PromptTeardown:
    """RQ's teardown unsubscribes from the worker's command channel and then stops the thread listening on
    it. When that thread reads the unsubscribe reply before it is stopped, it waits for a subscription that
    never comes (RQ joins it for a second), so a burst run often ends a second late. Stopping the thread
    first lets the reply end it at once."""

    pubsub: Any
    pubsub_thread: Any

    def unsubscribe(self) -> None:
        if self.pubsub_thread:
            self.pubsub_thread.stop()
            self.pubsub.unsubscribe()
            self.pubsub_thread.join(timeout=1)
            self.pubsub.close()


class InProcessWorker(PromptTeardown, SimpleWorker):
    """RQ's `SimpleWorker` (every job in process) with the prompt teardown: the demo's and the tests' worker."""


class HandoffWorker(PromptTeardown, Worker):
    """RQ's `Worker` that runs handoff's own jobs in process and forks a work horse for any other job.

    Forking a ~100 MB process costs more than most of handoff's jobs; isolation is for agent code.
    """

    def execute_job(self, job: Job, queue: Queue) -> None:
        if job.func_name in IN_PROCESS:
            SimpleWorker.execute_job(self, job, queue)  # type: ignore[arg-type]
        else:
            super().execute_job(job, queue)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """RQ logs every failed try with its traceback; Slack being down is not a bug, so it gets the one
        line `bot.jobs.note_failure` writes (RQ's exception handlers still run)."""
        error = exc_info[1] if len(exc_info) > 1 else None
        if isinstance(error, BaseException) and is_outside_failure(error):
            call_exception_handlers(self._exc_handlers, job, *exc_info)
            return
        super().handle_exception(job, *exc_info)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.func_name in IN_PROCESS:  # no monitoring loop beats for it meanwhile: cover the whole job
            return SimpleWorker.get_heartbeat_ttl(self, job, working_time)  # type: ignore[arg-type]
        return super().get_heartbeat_ttl(job, working_time)


def run_worker(runtime: Runtime, *, queues: tuple[str, ...] = QUEUES, burst: bool = False) -> bool:
    """Work until stopped (or, with `burst`, until the queues are empty); returns whether any job ran."""
    activate(runtime)
    publish_categories(runtime)
    reconcile(runtime)
    if not burst:
        every = runtime.settings.reconcile_every
        if not next_tick_exists(runtime.redis):
            schedule_tick(runtime.redis, every=every)
        _start_watchdog(runtime, every=every)
    worker = build_worker(runtime, queues=queues)
    return bool(worker.work(burst=burst, with_scheduler=not burst, logging_level="WARNING"))


WORKER_CLASSES: dict[str, type[Worker] | type[SimpleWorker]] = {
    "handoff": HandoffWorker,
    "fork": Worker,
    "simple": SimpleWorker,
}


def build_worker(runtime: Runtime, *, queues: tuple[str, ...] = QUEUES, kind: str = "handoff") -> Worker | SimpleWorker:
    """A worker of `kind` (see WORKER_CLASSES; `HandoffWorker` by default) on a preloaded process.

    `fork` (every job in a work horse) and `simple` (every job in process) are there to be measured against.
    """
    preload(runtime, llm=kind == "fork")
    return WORKER_CLASSES[kind](
        [runtime.queue(name) for name in queues],
        connection=runtime.redis,
        serializer=runtime.queue(SCORE_QUEUE).serializer,
    )


def preload(runtime: Runtime, *, llm: bool = False) -> None:
    """Load once, in the parent, what each forked job would otherwise load for itself: the review code
    (imported at the top of this module), the policy's custom checks and, with `llm` (when every job
    forks), the Anthropic client. `HandoffWorker` assesses in process, so it loads the SDK on first use."""
    resolve_checks(runtime.policy)
    if llm and runtime.llm is not None:
        runtime.llm.client()


def _start_watchdog(runtime: Runtime, *, every: float) -> None:
    connection = connect(runtime.redis_url)

    def watch() -> None:
        while True:
            time.sleep(min(WATCHDOG_EVERY, every))  # a timer, not synchronisation
            try:
                if ensure_tick(connection, every=every):
                    log.warning("no reconcile pass was scheduled (Redis lost it?); queued one now")
            except redis.RedisError as exc:
                log.warning("watchdog could not reach Redis: %s", exc)

    threading.Thread(target=watch, name="handoff-watchdog", daemon=True).start()
