"""Whether an RQ job is still live, the one definition: waiting to run, or started on a worker that is alive.

RQ reports a job "started" until it notices its worker died, so "started" alone does not count.
"""

from __future__ import annotations

import os
import socket

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.store.redis_batch import hget_many

WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def fetch_job(connection: redis.Redis, job_id: str) -> Job | None:
    """The job with this id on handoff's queues (JSON serializer), or None when Redis has none."""
    job: Job | None = Job.fetch_many([job_id], connection=connection, serializer=JSONSerializer)[0]
    return job


def is_live(connection: redis.Redis, job: Job | None) -> bool:
    """True when `job` is waiting (queued, scheduled, deferred) or started on a worker that is still alive."""
    if job is None:
        return False
    return job.get_status(refresh=False) in WAITING or is_running(connection, job)


def live_among(connection: redis.Redis, job_ids: list[str]) -> set[str]:
    """Which of `job_ids` are live, by the same rule as `is_live`: statuses read in batches (a reconcile
    pass checks tens of thousands of timer jobs), the worker looked up only for a started job."""
    statuses = hget_many(connection, [Job.key_for(job_id) for job_id in job_ids], "status")
    live = set()
    for job_id, status in zip(job_ids, statuses, strict=True):
        state = _status(status)
        if state in WAITING:
            live.add(job_id)
        elif state == JobStatus.STARTED:
            worker: bytes | None = connection.hget(Job.key_for(job_id), "worker_name")  # type: ignore[assignment]
            if _worker_alive(connection, worker):
                live.add(job_id)
    return live


def _status(raw: bytes | None) -> JobStatus | None:
    try:
        return JobStatus(raw.decode()) if raw else None
    except ValueError:  # a status this RQ does not know: not one that is waiting or running
        return None


def is_running(connection: redis.Redis, job: Job) -> bool:
    """True when `job` is started on a worker that is still alive."""
    if job.get_status(refresh=False) != JobStatus.STARTED or not job.worker_name:
        return False
    return _worker_alive(connection, job.worker_name.encode())


def _worker_alive(connection: redis.Redis, worker_name: bytes | None) -> bool:
    """A worker on this host is alive if its process is; one on another host, while RQ still lists it
    (its registration expires with its heartbeat)."""
    if not worker_name:
        return False
    info: dict[bytes, bytes] = connection.hgetall(f"rq:worker:{worker_name.decode()}")  # type: ignore[assignment]
    if not info:
        return False
    host = info.get(b"hostname", b"").decode()
    pid = int(info.get(b"pid", b"0") or 0)
    if host != socket.gethostname() or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
