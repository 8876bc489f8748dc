"""Whether an RQ job is really alive: RQ reports a job "started" until it notices its worker died."""

from __future__ import annotations

import os
import socket

import redis
from rq.job import Job, JobStatus


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
