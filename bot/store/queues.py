"""handoff's RQ queues and the one way to enqueue phase one; light enough for the agent-side client."""

from __future__ import annotations

import redis
from rq import Queue
from rq.serializers import JSONSerializer

SCORE_QUEUE = "score"
EXECUTE_QUEUE = "execute"
QUEUES = (EXECUTE_QUEUE, SCORE_QUEUE)  # a worker on both takes decided work first


def queue_on(connection: redis.Redis, name: str) -> Queue:
    """An RQ queue with the JSON serializer (job arguments are plain ids)."""
    return Queue(name, connection=connection, serializer=JSONSerializer)


def assess_job_id(proposal_id: str) -> str:
    return f"assess-{proposal_id}"


def enqueue_assess(connection: redis.Redis, proposal_id: str) -> None:
    """Queue phase one (`bot.review.phases.assess`) for a submitted proposal."""
    queue_on(connection, SCORE_QUEUE).enqueue(
        "bot.review.phases.assess",
        proposal_id,
        job_id=assess_job_id(proposal_id),
        result_ttl=3600,
        failure_ttl=7 * 86400,
    )
