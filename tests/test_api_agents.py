"""Agents over HTTP beyond the routes: the CLI that makes them, signed webhooks, the rate limit, and the
Python client's HTTP transport."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from bot.api.webhooks import signature
from bot.app.wiring import build_runtime
from bot.cli import main
from bot.client import Client, ProposalError
from bot.jobs import WEBHOOK_RETRY_INTERVALS, webhook_job_id
from bot.runtime import Runtime, activate
from bot.settings import Settings
from bot.store.agents import AgentStore
from bot.store.queues import EXECUTE_QUEUE, QUEUES
from tests.api_helpers import Receiver, add_agent, call
from tests.conftest import wait_until, work
from tests.test_loop import TAG


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(statuses=[500, 200])
    yield hook
    hook.stop()


def test_agents_add_prints_the_token_once_and_list_and_revoke_work(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`handoff agents add --json` prints name, token and webhook secret; list shows no token; revoke ends it."""
    monkeypatch.setenv("HANDOFF_DB", str(settings.ledger_target))
    assert main(["agents", "add", "billing-bot", "--owner", "U0OWNER", "--webhook", "https://x.test/h", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["name"] == "billing-bot"
    assert added["token"].startswith("hnd_")
    assert added["webhook_secret"].startswith("whsec_")
    assert main(["agents", "add", "plain-bot", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["webhook_secret"] is None
    assert main(["agents", "add", "billing-bot"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["agents", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert added["token"] not in listed
    assert added["webhook_secret"] not in listed
    assert [a["name"] for a in json.loads(listed)] == ["billing-bot", "plain-bot"]
    assert main(["agents", "revoke", "billing-bot"]) == 0
    assert main(["agents", "revoke", "billing-bot"]) == 2
    capsys.readouterr()
    assert main(["agents", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None


def test_a_decision_is_delivered_signed_and_retried_until_a_2xx(runtime: Runtime, receiver: Receiver) -> None:
    """The first attempt gets 500 and is scheduled again by RQ; the retry is delivered with the same id and
    a valid signature; both attempts are in the ledger."""
    _token, secret = add_agent(runtime, "tagger", webhook=receiver.url)
    assert secret is not None
    pid = Client(runtime.redis, policy=runtime.policy).submit({**TAG, "agent": "tagger"})
    work(runtime)  # assess decides by policy, phase two queues the webhook, the first attempt fails
    assert [d.outcome for d in AgentStore(runtime.ledger).deliveries(pid)] == ["failed"]
    queue = runtime.queue(EXECUTE_QUEUE)
    scheduled = ScheduledJobRegistry(queue=queue)
    assert scheduled.get_job_ids() == [webhook_job_id(pid)], "the retry is scheduled, not dropped"
    job = queue.fetch_job(webhook_job_id(pid))
    assert job is not None
    assert job.retries_left == len(WEBHOOK_RETRY_INTERVALS) - 1
    assert sum(WEBHOOK_RETRY_INTERVALS) >= 24 * 3600
    backoff = (scheduled.get_scheduled_time(job) - datetime.now(UTC)).total_seconds()
    assert 0 < backoff <= WEBHOOK_RETRY_INTERVALS[0]
    scheduled.schedule(job, datetime.now(UTC))  # the backoff has passed
    worker = SimpleWorker([runtime.queue(q) for q in QUEUES], connection=runtime.redis, serializer=queue.serializer)
    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
    wait_until(lambda: len(receiver.received) == 2, what="the retried delivery")
    deliveries = AgentStore(runtime.ledger).deliveries(pid)
    assert [(d.attempt, d.outcome, d.status_code) for d in deliveries] == [(1, "failed", 500), (2, "delivered", 200)]
    (first, _), (headers, body) = receiver.received
    assert first["x-handoff-delivery"] == headers["x-handoff-delivery"] == deliveries[0].delivery_id
    expected = hmac.new(secret.encode(), f"v1:{headers['x-handoff-timestamp']}:".encode() + body, hashlib.sha256)
    assert headers["x-handoff-signature"] == "v1=" + expected.hexdigest()
    assert headers["x-handoff-signature"] == signature(secret, headers["x-handoff-timestamp"], body)
    assert json.loads(body) == json.loads(runtime.ledger.decision(pid).model_dump_json())


def test_an_agent_over_its_rate_is_429_with_retry_after(settings: Settings, redis_client: redis.Redis) -> None:
    """A token bucket per agent in Redis: past the burst, 429 and Retry-After in whole seconds."""
    from bot.app.asgi import LocalAsgiServer, asgi_app

    slow = build_runtime(settings.model_copy(update={"api_rate": 0.5}), redis_url=settings.redis_url or "")
    activate(slow)
    token, _ = add_agent(slow, "chatty")
    server = LocalAsgiServer(asgi_app(slow))
    try:
        answers = [call(server.url, "GET", "/v1/proposals/none", token=token) for _ in range(12)]
    finally:
        server.stop()
    assert [a.status for a in answers[:10]] == [404] * 10, "the burst is allowed"
    assert answers[11].status == 429
    assert int(answers[11].headers["retry-after"]) >= 1


def test_the_python_client_over_http_submits_waits_reports_and_decorates(runtime: Runtime, api_url: str) -> None:
    """`Client.from_url("http://...", token=...)`: the same submit, wait, report_execution and decorator."""
    token, _ = add_agent(runtime, "tagger")
    client = Client.from_url(api_url, token=token, policy=runtime.policy)
    with pytest.raises(ProposalError, match="summary"):
        client.submit({**TAG, "summary": ""})
    pid = client.submit({**TAG, "id": "tag-http"})
    assert client.wait(pid, timeout=0.1) is None, "pending is never an approval"
    work(runtime)
    decision = client.wait(pid, timeout=5)
    assert decision is not None
    assert decision.outcome.value == "auto"
    client.report_execution(pid, ok=True, detail="tagged")
    work(runtime)
    assert runtime.ledger.execution(pid) == "ok"

    @client.reviewed("tag_ticket", summary=lambda ticket_id, tag: f"Tag {ticket_id} as {tag}")
    def tag(ticket_id: str, tag: str) -> str:
        return f"{ticket_id}:{tag}"

    result: list[str] = []
    caller = threading.Thread(target=lambda: result.append(tag("T-7", "billing")))
    caller.start()
    wait_until(lambda: runtime.board.inbox(), what="the decorated call's proposal")
    work(runtime)
    caller.join(timeout=30)
    assert result == ["T-7:billing"]
    assert runtime.ledger.proposal(runtime.ledger.decisions_since("")[-1].proposal_id).agent == "tagger"
