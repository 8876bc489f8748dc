"""handoff's RQ queues (the jobs on them are in `bot.jobs`); light enough for the agent-side client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the queue names are read by `handoff --help`, which must not wait for RQ to load
    import redis
    from rq import Queue

SCORE_QUEUE = "score"
EXECUTE_QUEUE = "execute"
QUEUES = (EXECUTE_QUEUE, SCORE_QUEUE)  # a worker on both takes decided work first


def queue_on(connection: redis.Redis, name: str) -> Queue:
    """An RQ queue with the JSON serializer (job arguments are plain ids)."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(name, connection=connection, serializer=JSONSerializer)
