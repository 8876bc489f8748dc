"""The escalation chain against a real Redis and RQ's scheduler: remind, escalate, expire; durable, once."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import JobStatus

from bot import jobs
from bot.client import Client
from bot.review import assignment, timers
from bot.review.decide import decide, make_decision
from bot.review.reconcile import reconcile
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.store.job_liveness import fetch_job
from scoring.models import Outcome
from scoring.policy import parse_policy
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, activated, free_port, wait_until, work
from tests.test_processes import Processes

POLICY = """
channel: "#reviews"
rotations:
  oncall: {members: [U0ONE, U0TWO], shift: 1d, start: 2025-01-06T09:00, timezone: America/New_York}
categories:
  refund:
    level: approve_before
    reviewers: {rotation: oncall}
    timeouts: {remind_after: 1s, escalate_after: 2s, expire_after: 3s, outcome: reject, escalate_to: next}
  slow_refund:
    level: approve_before
    reviewers: {rotation: oncall}
    timeouts: {remind_after: 1s, expire_after: 4s, outcome: reject}
  legal:
    level: approve_before
    reviewers: {rotation: oncall}
    timeouts: {remind_after: 1s, expire_after: 2s, outcome: hold}
  patient:
    level: approve_before
    timeouts: {remind_after: 1h, expire_after: 2h}
"""


def proposal(category: str) -> dict[str, Any]:
    return {"category": category, "agent": "bot", "action": {"name": "do", "args": {}}, "summary": f"Do {category}"}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis, policy_file: Path) -> Iterator[Runtime]:
    """This process's view of the same Redis, ledger and policy the worker uses."""
    with activated(settings, policy=parse_policy(POLICY)) as rt:
        yield rt


@pytest.fixture
def worker(runtime: Runtime, settings: Settings, slack: SlackStandIn, policy_file: Path) -> Iterator[Processes]:
    """`handoff worker` (RQ's scheduler on) as a separate process on the test's Redis, ledger and Slack."""
    env = {
        "PATH": "/usr/bin:/bin",
        "REDIS_URL": settings.redis_url or "",
        "SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HANDOFF_DB": str(settings.ledger_target),
        "HANDOFF_POLICY": str(policy_file),
        "HANDOFF_DATA_DIR": str(settings.data_dir),
        "PORT": str(free_port()),
    }
    procs = Processes(env)
    procs.start("worker")
    yield procs
    procs.stop_all()


def steps(runtime: Runtime, pid: str) -> list[str]:
    rows = runtime.ledger.db.execute("SELECT kind FROM escalation_steps WHERE proposal_id = ? ORDER BY seq", [pid])
    return [r[0] for r in rows]


def test_whole_chain_reminds_escalates_and_times_out(runtime: Runtime, slack: SlackStandIn, worker: Processes) -> None:
    """Nobody decides: a reminder (thread + DM to the on-call), an escalation to the next, then outcome timeout."""
    client = Client(runtime.redis, policy=runtime.policy)
    pid = client.submit(proposal("refund"))
    decision = client.wait(pid, timeout=30)
    assert decision is not None
    assert (decision.outcome, decision.action, decision.reviewer) == (Outcome.TIMEOUT, None, "policy:timeout")
    wait_until(lambda: "expired" in steps(runtime, pid), what="the expiry step")
    assert steps(runtime, pid) == ["asked", "reminded", "escalated", "expired"]
    assert runtime.ledger.outcome_counts() == {"timeout": 1}
    dms = [c for c in slack.calls if c.method == "conversations.open"]
    assert len(dms) == 2  # the on-call reminded, the next member escalated to
    texts = json.dumps([m.get("text") for m in slack.messages()])
    assert "Reminder" in texts
    assert "Escalated to" in texts
    final = slack.wait_for(lambda s: "Timed out" in json.dumps(s.messages()), timeout=15)
    assert final


def test_hold_keeps_the_review_pending_and_stops_pinging(
    runtime: Runtime, slack: SlackStandIn, worker: Processes
) -> None:
    """With outcome hold the review stays pending, is listed as held, and no more reminders go out."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal("legal"))
    wait_until(lambda: "held" in steps(runtime, pid), timeout=30, what="the review to be held")
    assert pid in runtime.ledger.held_ids()
    assert runtime.ledger.decision(pid) is None
    assert steps(runtime, pid) == ["asked", "reminded", "held"]
    assert runtime.ledger.scheduled_timers() == []
    assert slack.wait_for(lambda s: "Held" in json.dumps(s.messages()), timeout=10)


def test_redis_flushed_mid_wait_still_times_out_once_without_repeating_reminders(
    runtime: Runtime, slack: SlackStandIn, worker: Processes, redis_client: redis.Redis
) -> None:
    """Redis loses everything after the reminder; reconcile rebuilds the expiry from the ledger; one of each."""
    client = Client(runtime.redis, policy=runtime.policy)
    pid = client.submit(proposal("slow_refund"))
    wait_until(lambda: "reminded" in steps(runtime, pid), timeout=30, what="the reminder")
    redis_client.flushdb()
    report = reconcile(runtime)
    assert f"timer-{pid}-1-expire" in report.rescheduled
    decision = client.wait(pid, timeout=30)
    assert decision is not None
    assert decision.outcome is Outcome.TIMEOUT
    wait_until(lambda: "expired" in steps(runtime, pid), what="the expiry step")
    reconcile(runtime)
    assert steps(runtime, pid) == ["asked", "reminded", "expired"]
    assert runtime.ledger.outcome_counts() == {"timeout": 1}
    reminders = [m for m in slack.messages() if "Reminder" in (m.get("text") or "")]
    assert len(reminders) == 2  # one thread reply and one DM, never repeated


def test_click_and_expiry_at_the_same_instant_leave_one_outcome(runtime: Runtime, slack: SlackStandIn) -> None:
    """The expiry job and a reviewer's approval race through `decide`: exactly one outcome stands."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal("patient"))
    work(runtime)
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def expire() -> None:
        barrier.wait()
        results["timer"] = jobs.fire_timer(pid, 1, "expire")

    def click() -> None:
        barrier.wait()
        action = runtime.ledger.proposal(pid).action  # type: ignore[union-attr]
        results["click"] = decide(
            runtime, make_decision(runtime, pid, Outcome.APPROVE, reviewer="U0ALICE", action=action)
        )

    threads = [threading.Thread(target=expire), threading.Thread(target=click)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    decision = runtime.ledger.decision(pid)
    assert decision is not None
    assert sum(runtime.ledger.outcome_counts().values()) == 1
    assert len(runtime.redis.xrange(f"handoff:decision:{pid}")) == 1
    assert (results["timer"] == "expired") == (decision.outcome is Outcome.TIMEOUT)
    assert results["click"].won == (decision.outcome is Outcome.APPROVE)


def test_timer_firing_after_a_human_decided_does_nothing(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Approve first; the reminder and expiry jobs then find the review decided and send nothing."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal("patient"))
    work(runtime)
    card = [m for m in slack.messages() if f"review:{pid}:" in json.dumps(m.get("blocks") or [])][-1]
    reviewer.click(card, blocks.APPROVE, user="U0ALICE")
    wait_until(lambda: runtime.ledger.decision(pid), what="the decision")
    before = len(slack.calls)
    assert jobs.fire_timer(pid, 1, "remind") == "decided"
    assert jobs.fire_timer(pid, 1, "expire") == "decided"
    assert len(slack.calls) == before
    assert runtime.ledger.outcome_counts() == {"approve": 1}


def test_redirect_restarts_the_chain_for_the_new_assignee(runtime: Runtime, slack: SlackStandIn) -> None:
    """restart_chain replaces the pending timers with a new generation aimed at the assignee, who may decide."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal("patient"))
    work(runtime)
    assert timers.restart_chain(runtime, pid, "U0DANA")
    latest = runtime.ledger.timers(pid)
    assert {t.generation for t in latest} == {2}
    assert {t.assignee for t in latest} == {"U0DANA"}
    assert jobs.fire_timer(pid, 1, "remind") == "not due"
    assert [c.params.get("users") for c in slack.calls if c.method == "conversations.open"] == ["U0DANA"]


def test_a_timer_job_started_by_a_dead_worker_is_scheduled_again(runtime: Runtime) -> None:
    """Reconcile re-creates a timer's job whose worker died mid-job (RQ still says "started")."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal("patient"))
    work(runtime)
    job_id = jobs.timer_job_id(pid, 1, "remind")
    job = fetch_job(runtime.redis, job_id)
    assert job is not None
    job.set_status(JobStatus.STARTED)
    job.worker_name = "handoff-dead-worker"
    job.save()
    worker = {"hostname": socket.gethostname(), "pid": os.getpid()}
    runtime.redis.hset("rq:worker:handoff-dead-worker", mapping=worker)
    assert job_id not in timers.ensure_jobs(runtime, pid), "a job on a live worker is left alone"
    runtime.redis.hset("rq:worker:handoff-dead-worker", mapping={"pid": 2**22 + 17})
    assert job_id in timers.ensure_jobs(runtime, pid)


def test_a_rotation_only_categorys_first_card_names_the_on_call(runtime: Runtime, slack: SlackStandIn) -> None:
    """The first card says whom it is for, as every redraw does, instead of "anyone in this channel"."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal("refund"))
    work(runtime)
    posts = [c for c in slack.calls if c.method == "chat.postMessage" and f"review:{pid}:" in json.dumps(c.params)]
    first = json.dumps(posts[0].params["blocks"])
    proposed = runtime.ledger.proposal(pid)
    assert proposed is not None
    (on_call,) = assignment.card_facts(runtime, pid, proposed).reviewers
    assert on_call in {"U0ONE", "U0TWO"}
    assert f"for <@{on_call}>" in first
    assert "anyone in this channel" not in first
