"""Whether an RQ job is still live, the one definition: waiting to run, or started on a worker that is alive.

RQ reports a job "started" until it notices its worker died, so "started" alone does not count.
"""

from __future__ import annotations

import os
import socket

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

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


def is_running(connection: redis.Redis, job: Job) -> bool:
    """True when `job` is started on a worker that is still alive.

    A worker on this host is alive if its process is; one on another host, while RQ still lists it
    (its registration expires with its heartbeat).
    """
    if job.get_status(refresh=False) != JobStatus.STARTED or not job.worker_name:
        return False
    info: dict[bytes, bytes] = connection.hgetall(f"rq:worker:{job.worker_name}")  # type: ignore[assignment]
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
