"""Batched Redis reads for passes over every pending review and timer: the same answers as one by one."""

from __future__ import annotations

import os
import socket

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.store.job_liveness import fetch_job, is_live, live_among
from bot.store.redis_batch import hget_many
from bot.store.review_state import Board, review_key


def test_hget_many_reads_every_key_in_order_across_chunks(redis_client: redis.Redis) -> None:
    keys = [f"h{n}" for n in range(7)]
    for n, key in enumerate(keys):
        if n % 3:
            redis_client.hset(key, mapping={"f": str(n), "g": "x"})
    redis_client.hset("h0", "g", "only another field")
    expected = [redis_client.hget(key, "f") for key in keys]
    assert hget_many(redis_client, keys, "f", chunk=3) == expected
    assert hget_many(redis_client, [], "f") == []


def test_live_among_agrees_with_is_live_for_every_status(redis_client: redis.Redis) -> None:
    alive = {"hostname": socket.gethostname(), "pid": os.getpid()}
    redis_client.hset("rq:worker:alive", mapping=alive)
    redis_client.hset("rq:worker:dead", mapping={"hostname": socket.gethostname(), "pid": 2**22 + 17})
    ids = ["missing"]
    for status in JobStatus:
        for worker in ("", "alive", "dead", "gone"):
            job = Job.create("bench.bench_loop.noop", connection=redis_client, serializer=JSONSerializer)
            job.set_status(status, pipeline=None)
            job.worker_name = worker or None
            job.save()
            ids.append(job.id)
    expected = {job_id for job_id in ids if is_live(redis_client, fetch_job(redis_client, job_id))}
    assert live_among(redis_client, ids) == expected
    assert expected, "some are live"
    assert set(ids) - expected, "some are not"


def test_pending_among_is_what_is_pending_says(redis_client: redis.Redis) -> None:
    board = Board(redis_client)
    board.open_review("a")
    board.open_review("b")
    redis_client.hset(review_key("b"), "status", "decided")
    ids = ["a", "b", "c"]
    assert board.pending_among(ids) == {pid for pid in ids if board.is_pending(pid)} == {"a"}
