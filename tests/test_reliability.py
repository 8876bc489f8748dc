"""What happens when things break: Slack errors, Redis emptied, retried jobs, a decision half written."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import Job, JobStatus

from bot import jobs
from bot.client import Client
from bot.jobs import RETRY_INTERVALS, TICK_KEY, assess_job_id, enqueue_execute, ensure_tick
from bot.review.decide import decide, make_decision
from bot.review.reconcile import reconcile
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from bot.slack.web_api import ChannelPacer, PacedWebClient
from bot.store.job_liveness import is_running
from scoring.models import Outcome
from tests.conftest import wait_until, work
from tests.test_loop import EMAIL, TAG, card_for


def record_call(decision: Any) -> str:
    """A proposal callback: appends the decision it was given to the file named in its state."""
    with Path(decision.state["calls_file"]).open("a") as handle:
        handle.write(json.dumps({"proposal_id": decision.proposal_id, "args": decision.action.args}) + "\n")
    return "recorded"


def test_slack_rate_limit_while_posting_a_card_is_waited_out(runtime: Runtime, slack: SlackStandIn) -> None:
    """A 429 with Retry-After on chat.postMessage delays the card; it is posted once, not lost."""
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    posts = [c for c in slack.calls if c.method == "chat.postMessage"]
    assert [c.failed for c in posts] == [True, False]
    assert runtime.ledger.card(pid) is not None


def test_slack_down_during_assess_is_retried_by_the_job_system(
    runtime: Runtime, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack answering 500 past the client's retries fails the job; RQ schedules a retry with backoff (the log
    says so), the proposal stays in the inbox, and reconcile leaves the retry to RQ."""
    slack.fail_next("chat.postMessage", status=500, times=4)  # the first try and the client's 3 retries
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    with caplog.at_level(logging.WARNING, logger="bot.jobs"):
        work(runtime)
    assert runtime.ledger.card(pid) is None
    assert runtime.board.inbox() == [pid], "a failed assess keeps the proposal in the inbox"
    job = Job.fetch(assess_job_id(pid), connection=runtime.redis, serializer=runtime.queue("score").serializer)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == len(RETRY_INTERVALS) - 1
    assert any("assess of " + pid in r.getMessage() and "retrying in 1s" in r.getMessage() for r in caplog.records)
    assert reconcile(runtime).reassessed == []


def test_redis_emptied_then_reconcile_restores_pending_and_decided(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, redis_client: redis.Redis
) -> None:
    """After Redis loses everything, reconcile re-opens pending reviews and republishes decisions."""
    client = Client(runtime.redis, policy=runtime.policy)
    pending = client.submit(EMAIL)
    done = client.submit(TAG)
    work(runtime)
    assert client.wait(done, timeout=5) is not None
    redis_client.flushdb()
    assert client.wait(done, timeout=0.1) is None
    reconcile(runtime)
    assert runtime.board.is_pending(pending)
    republished = client.wait(done, timeout=5)
    assert republished is not None
    assert republished.outcome is Outcome.AUTO
    reviewer.click(card_for(slack, pending), blocks.APPROVE, user="U0ALICE")
    decision = client.wait(pending, timeout=5)
    assert decision is not None
    assert decision.outcome is Outcome.APPROVE


def test_a_decision_only_redis_holds_is_never_written_to_the_ledger(runtime: Runtime, slack: SlackStandIn) -> None:
    """Redis never decides: a decision written there alone (an agent with Redis access forging an approval)
    is not taken into the ledger by reconcile, and nothing executes."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    forged = make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE")
    runtime.redis.hset(f"handoff:review:{pid}", mapping={"status": "decided", "decision": forged.model_dump_json()})
    reconcile(runtime)
    work(runtime)
    assert runtime.ledger.decision(pid) is None
    assert runtime.ledger.execution(pid) is None
    assert pid in runtime.ledger.pending_ids()


def test_callback_runs_once_even_when_execute_is_enqueued_and_run_twice(runtime: Runtime, tmp_path: Path) -> None:
    """A retried or duplicated execute job never runs the agent's callback a second time."""
    calls = tmp_path / "calls.jsonl"
    proposal = {**TAG, "callback": "tests.test_reliability:record_call", "state": {"calls_file": str(calls)}}
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal)
    work(runtime)
    enqueue_execute(runtime.redis, pid)
    work(runtime)
    assert jobs.execute(pid) == "done"
    lines = calls.read_text().splitlines()
    assert [json.loads(line)["proposal_id"] for line in lines] == [pid]
    assert runtime.ledger.execution(pid) == "ok"


def test_failing_callback_is_recorded_and_not_retried(runtime: Runtime, slack: SlackStandIn) -> None:
    """An agent callback that raises is recorded as an error with its message, once."""
    proposal = {**TAG, "callback": "json:loads"}  # called with a Decision: raises TypeError
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal)
    work(runtime)
    assert runtime.ledger.execution(pid) == "error"


def test_timer_style_decision_after_a_human_decided_changes_nothing(runtime: Runtime, slack: SlackStandIn) -> None:
    """A late decision (a timer, a second click) loses to the one that stands, whoever it is."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    human = decide(runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE"))
    late = decide(runtime, make_decision(runtime, pid, Outcome.TIMEOUT, reviewer="policy:timeout"))
    assert human.won
    assert not late.won
    assert late.decision == human.decision
    assert wait_until(lambda: runtime.ledger.decision(pid)) == human.decision


def test_a_reconcile_pass_is_queued_when_redis_lost_the_scheduled_one(runtime: Runtime) -> None:
    """The worker's watchdog queues a reconcile tick when none is scheduled, and only then."""
    assert ensure_tick(runtime.redis)
    assert not ensure_tick(runtime.redis)
    runtime.redis.flushdb()
    assert ensure_tick(runtime.redis)


def test_a_finished_tick_leaves_its_successor_scheduled(runtime: Runtime) -> None:
    """RQ deletes a finished tick's job id (result_ttl=0): the next tick, under its own id, survives it."""
    ensure_tick(runtime.redis, every=60)
    work(runtime)  # runs the tick, which schedules the next one a period later
    pointer = runtime.redis.get(TICK_KEY)
    assert pointer is not None
    job = Job.fetch(pointer.decode(), connection=runtime.redis, serializer=runtime.queue("score").serializer)
    assert job.get_status() == JobStatus.SCHEDULED
    assert not ensure_tick(runtime.redis), "the watchdog finds it and stays quiet"


def test_decided_keys_expire_but_the_ledger_keeps_the_decision(runtime: Runtime, slack: SlackStandIn) -> None:
    """Redis runs with noeviction, so a decided proposal's keys get a TTL; the ledger keeps everything."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(TAG)
    work(runtime)
    for key in (f"handoff:proposal:{pid}", f"handoff:review:{pid}", f"handoff:decision:{pid}"):
        assert 0 < runtime.redis.ttl(key) <= 7 * 86400, key
    assert runtime.ledger.decision(pid) is not None


def test_a_job_started_by_a_dead_worker_is_not_running(runtime: Runtime) -> None:
    """RQ says "started" until it notices; handoff checks the worker's process on this host."""
    job = runtime.queue("execute").enqueue(jobs.execute, "p-1", job_id="execute-p-1")
    assert not is_running(runtime.redis, job), "a queued job is not running"
    job.set_status(JobStatus.STARTED)
    job.worker_name = "handoff-test-worker"
    job.save()
    for pid, alive in ((os.getpid(), True), (2**22 + 17, False)):
        runtime.redis.hset("rq:worker:handoff-test-worker", mapping={"hostname": socket.gethostname(), "pid": pid})
        assert is_running(runtime.redis, job) is alive
    runtime.redis.hset("rq:worker:handoff-test-worker", mapping={"hostname": "elsewhere", "pid": 2**22 + 17})
    assert is_running(runtime.redis, job), "a worker on another host counts while RQ lists it"
    runtime.redis.delete("rq:worker:handoff-test-worker")
    assert not is_running(runtime.redis, job)


def test_posts_to_a_channel_are_paced_after_a_burst(runtime: Runtime) -> None:
    """Each channel gets a burst of posts, then one slot a second; other channels are not held up."""
    pacer = ChannelPacer(runtime.redis, rate=1.0, burst=2)
    waits = [pacer.reserve("C0BUSY") for _ in range(4)]
    assert waits[:2] == [0, 0]
    assert 0 < waits[2] <= 1.0
    assert waits[2] < waits[3] <= 2.0, "each further post waits for the next free slot"
    assert pacer.reserve("C0QUIET") == 0


def test_runtime_client_paces_card_posts(runtime: Runtime) -> None:
    """The runtime's Slack client is the paced one, sharing slots through this Redis."""
    assert isinstance(runtime.slack, PacedWebClient)
    assert runtime.slack.pacer is not None
