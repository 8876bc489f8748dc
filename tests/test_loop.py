"""The review loop in one process: submit, assess, card, signed click, decision, agent, ledger."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import redis

from bot.app.web import LocalServer, wsgi_app
from bot.client import Client, ReviewPendingError, ReviewRejectedError
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from scoring.models import Outcome
from tests.conftest import wait_until, work

EMAIL = {
    "category": "customer_email",
    "agent": "retention-bot",
    "action": {"name": "send_email", "args": {"to": "jane@example.com", "subject": "Hi", "body": "40% off"}},
    "summary": "Send Jane a 40% discount to win her back",
    "input": {"request": "Customer churned last week; try to win her back."},
    "rationale": ["Churned accounts respond to discounts", "Jane was a customer for 4 years"],
    "state": {"ticket": 42},
}
TAG = {
    "category": "tag_ticket",
    "action": {"name": "tag", "args": {"ticket_id": "T-1", "tag": "billing"}},
    "summary": "Tag ticket T-1 as billing",
}


@pytest.fixture(params=["http", "socket"])
def transport(request: pytest.FixtureRequest) -> str:
    """Every test here that clicks runs over HTTP and over Socket Mode."""
    return str(request.param)


def submit_and_assess(runtime: Runtime, proposal: dict[str, Any]) -> str:
    pid = Client(runtime.redis, policy=runtime.policy).submit(proposal)
    work(runtime)
    return pid


def decided(runtime: Runtime, pid: str) -> Any:
    """The ledger's decision, once the deciding process has written it (it publishes to Redis first)."""
    return wait_until(lambda: runtime.ledger.decision(pid), timeout=10, what=f"the ledger to record {pid}'s decision")


def card_for(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    cards = [m for m in slack.messages() if pid in json.dumps(m.get("blocks") or [])]
    assert cards, f"no card mentions {pid}"
    return cards[0]


def test_escalation_is_decided_by_a_click_and_reaches_the_agent(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """An escalated email waits for a human; the approval reaches the waiting agent with the action."""
    pid = submit_and_assess(runtime, EMAIL)
    card = card_for(slack, pid)
    assert runtime.ledger.decision(pid) is None
    response = reviewer.click(card, blocks.APPROVE, user="U0ALICE")
    assert response.status == 200
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None
    assert decision.outcome is Outcome.APPROVE
    assert decision.reviewer == "U0ALICE"
    assert decision.action is not None
    assert decision.action.args["to"] == "jane@example.com"
    assert decision.state == {"ticket": 42}
    assert decision.route == "escalate"
    assert decided(runtime, pid) == decision
    work(runtime)
    final = card_for(slack, pid)
    assert "Approved" in json.dumps(final["blocks"])
    assert not [b for b in final["blocks"] if b["type"] == "actions"], "buttons must be gone"
    assert runtime.ledger.verify_chain()
    assert slack.rejections == []


def test_reject_requires_a_reason_that_reaches_the_agent(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Reject opens a modal; an empty reason is refused inside it; the reason reaches the agent."""
    pid = submit_and_assess(runtime, EMAIL)
    reviewer.click(card_for(slack, pid), blocks.REJECT, user="U0BOB")
    opened = slack.wait_for(lambda s: s.views(), timeout=5)[-1]
    empty = reviewer.submit_view(opened["view"], {blocks.REASON_BLOCK: {blocks.REASON_INPUT: "  "}}, user="U0BOB")
    assert empty.json()["response_action"] == "errors"
    assert blocks.REASON_BLOCK in empty.json()["errors"]
    assert runtime.ledger.decision(pid) is None
    reason = "A 40% discount needs a manager's sign-off"
    reviewer.submit_view(opened["view"], {blocks.REASON_BLOCK: {blocks.REASON_INPUT: reason}}, user="U0BOB")
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None
    assert (decision.outcome, decision.comment, decision.action) == (Outcome.REJECT, reason, None)


def test_review_after_category_is_decided_by_policy(runtime: Runtime, slack: SlackStandIn) -> None:
    """A review_after category acts at once through the same decision path, without a card."""
    pid = submit_and_assess(runtime, TAG)
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None
    assert decision.outcome is Outcome.AUTO
    assert decision.reviewer == "policy:review_after"
    posted = [json.dumps(m.get("blocks") or []) for m in slack.messages() if pid in json.dumps(m.get("blocks") or [])]
    assert not [b for b in posted if blocks.APPROVE in b], "no review card: only the review-after message"


@pytest.mark.parametrize("transport", ["http"])
def test_forged_and_stale_requests_get_401_and_change_nothing(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """A bad signature or a timestamp older than five minutes is refused before anything happens."""
    pid = submit_and_assess(runtime, EMAIL)
    card = card_for(slack, pid)
    payload = reviewer.click_payload(card, blocks.APPROVE, user="U0MALLORY")
    forged = reviewer.post(payload, signature="v0=" + "0" * 64)
    stale = reviewer.post(payload, timestamp=int(time.time()) - 301)
    assert (forged.status, stale.status) == (401, 401)
    assert runtime.ledger.decision(pid) is None
    assert runtime.board.is_pending(pid)


def test_eight_concurrent_clicks_leave_exactly_one_decision(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Eight reviewers clicking at once: one decision stands, the other seven are told who decided."""
    pid = submit_and_assess(runtime, EMAIL)
    card = card_for(slack, pid)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def click(n: int) -> None:
        barrier.wait()
        statuses.append(reviewer.click(card, blocks.APPROVE, user=f"U0REVIEWER{n}").status)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert statuses == [200] * 8
    decision = decided(runtime, pid)
    assert decision is not None
    assert runtime.ledger.outcome_counts() == {"approve": 1}
    told = slack.wait_for(lambda s: len(s.ephemerals()) >= 7 and s.ephemerals(), timeout=10)
    assert len(told) == 7
    assert all(decision.reviewer in e["text"] for e in told)
    stream = runtime.redis.xrange(f"handoff:decision:{pid}")
    assert len(stream) == 1


def test_same_id_twice_gives_one_proposal_and_one_decision(runtime: Runtime, slack: SlackStandIn) -> None:
    """Resubmitting a proposal id is a no-op: one proposal, one card, one decision."""
    client = Client(runtime.redis, policy=runtime.policy)
    first = client.submit({**TAG, "id": "tag-once"})
    second = client.submit({**TAG, "id": "tag-once", "summary": "something else"})
    work(runtime)
    assert first == second == "tag-once"
    assert runtime.ledger.counts()["proposals"] == 1
    assert runtime.ledger.counts()["decisions"] == 1
    assert runtime.ledger.proposal("tag-once").summary == TAG["summary"]  # type: ignore[union-attr]


def test_wait_that_times_out_returns_no_approval(runtime: Runtime) -> None:
    """A wait with no decision returns None, and the decorator raises instead of running the tool."""
    client = Client(runtime.redis, policy=runtime.policy)
    pid = client.submit(EMAIL)
    assert client.wait(pid, timeout=0.2) is None

    ran: list[str] = []

    @client.reviewed("customer_email", summary="Send an email", timeout=0.2)
    def send_email(to: str, subject: str, body: str) -> None:
        ran.append(to)

    with pytest.raises(ReviewPendingError):
        send_email(to="x@example.com", subject="s", body="b")
    assert ran == []


def test_decorated_tool_runs_only_when_approved(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """The decorator runs the tool with the decided arguments, and raises with the reason on rejection."""
    client = Client(runtime.redis, policy=runtime.policy)
    sent: list[dict[str, str]] = []

    @client.reviewed("customer_email", summary=lambda to, **_: f"Email {to}", timeout=10)
    def send_email(to: str, subject: str, body: str) -> str:
        sent.append({"to": to, "subject": subject})
        return "sent"

    results: dict[str, Any] = {}

    def agent(name: str, to: str) -> None:
        try:
            results[name] = send_email(to, "Hello", body="Hi")  # positional arguments bind by name
        except ReviewRejectedError as exc:
            results[name] = exc

    approved = threading.Thread(target=agent, args=("a", "a@example.com"))
    approved.start()
    card = slack.wait_for(lambda s: _card_after_work(runtime, s, "a@example.com"), timeout=10)
    reviewer.click(card, blocks.APPROVE, user="U0ALICE")
    approved.join(timeout=10)
    assert results["a"] == "sent"
    assert sent == [{"to": "a@example.com", "subject": "Hello"}]

    rejected = threading.Thread(target=agent, args=("b", "b@example.com"))
    rejected.start()
    card = slack.wait_for(lambda s: _card_after_work(runtime, s, "b@example.com"), timeout=10)
    reviewer.click(card, blocks.REJECT, user="U0BOB")
    view = slack.wait_for(lambda s: s.views(), timeout=5)[-1]["view"]
    reviewer.submit_view(view, {blocks.REASON_BLOCK: {blocks.REASON_INPUT: "wrong customer"}}, user="U0BOB")
    rejected.join(timeout=10)
    assert isinstance(results["b"], ReviewRejectedError)
    assert results["b"].decision.comment == "wrong customer"
    assert len(sent) == 1


def _card_after_work(runtime: Runtime, slack: SlackStandIn, needle: str) -> dict[str, Any] | None:
    work(runtime)
    cards = [m for m in slack.messages() if needle in json.dumps(m.get("blocks") or [])]
    return cards[-1] if cards else None


def test_click_after_redis_lost_everything_still_decides_once(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, redis_client: redis.Redis
) -> None:
    """Redis restarting empty does not lose a pending review: the ledger restores it on the click."""
    pid = submit_and_assess(runtime, EMAIL)
    card = card_for(slack, pid)
    redis_client.flushdb()
    reviewer.click(card, blocks.APPROVE, user="U0ALICE")
    reviewer.click(card, blocks.APPROVE, user="U0CAROL")
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None
    assert decision.reviewer in {"U0ALICE", "U0CAROL"}
    told = slack.wait_for(lambda s: s.ephemerals(), timeout=5)
    assert [e["user"] for e in told] == [{"U0ALICE", "U0CAROL"}.difference({decision.reviewer}).pop()]
    assert decided(runtime, pid) == decision
    assert runtime.ledger.outcome_counts() == {"approve": 1}


def test_healthz_and_metrics_answer(runtime: Runtime, web_url: str) -> None:
    """The health check reports Redis and the ledger; metrics are in Prometheus text format."""
    base = web_url.removesuffix("/slack/events")
    with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"ok": True, "redis": True, "ledger": True}
    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "handoff_pending_reviews 0" in text
    assert 'handoff_queue_depth{queue="score"}' in text


def test_socket_mode_health_routes_serve_without_slack_events(runtime: Runtime) -> None:
    """In Socket Mode the web process still answers /healthz and /metrics, and takes no HTTP events."""
    server = LocalServer(wsgi_app(runtime, slack_events=False))
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
            assert json.loads(response.read())["ok"] is True
        request = urllib.request.Request(server.url + "/slack/events", data=b"payload=%7B%7D", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 404
        info.value.close()
    finally:
        server.stop()
