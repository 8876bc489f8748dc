"""Poison proposals: bounded at intake with an error naming the path; a bad stored record is quarantined
and never stops a pass, start-up or the other proposals."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import jobs
from bot.app.worker import run_worker
from bot.client import Client, ProposalError
from bot.insights.report import build_report
from bot.jobs import enqueue_assess
from bot.review.admission import REFUSED_REVIEWER
from bot.review.reconcile import reconcile
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.slack.surfaces import blocks
from bot.store import queries
from bot.store.clock import utcnow
from bot.store.review_state import proposal_key
from scoring.models import Outcome
from tests.conftest import work
from tests.ledger_backends import raw_execute
from tests.test_loop import EMAIL, card_for


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


def smuggle(runtime: Runtime, pid: str, proposal: Any) -> None:
    """Write a submission straight into Redis, as an agent that skips the client's checks can."""
    envelope = json.dumps({"proposal": proposal, "submitted_at": utcnow()})
    runtime.redis.set(proposal_key(pid), envelope)
    runtime.redis.sadd("handoff:inbox", pid)
    enqueue_assess(runtime.redis, pid)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (deep(200), "action.args.a.a.…"),
        ({"n": float("nan")}, "action.args.n: is nan"),
        ({"n": 10**40}, "action.args.n: is an integer of 41 digits"),
        ({"s": "ok \ud800"}, "action.args.s: holds a lone surrogate"),
    ],
)
def test_client_refuses_unbounded_args_naming_the_path(runtime: Runtime, args: Any, message: str) -> None:
    """The agent-side client refuses before anything is stored, naming the path of the bad part."""
    with pytest.raises(ProposalError, match=r"^proposal: ") as info:
        Client(runtime.redis, policy=runtime.policy).submit({**EMAIL, "action": {"name": "x", "args": args}})
    assert message in str(info.value)
    assert runtime.board.inbox() == []


def test_a_deep_proposal_written_to_redis_is_refused_and_the_agent_told(runtime: Runtime, slack: Any) -> None:
    """A 200-level proposal that bypasses the client is refused by the worker; the agent gets a rejection
    naming the path, the ledger records the refusal, and no card is posted."""
    smuggle(runtime, "poison1", {**EMAIL, "action": {"name": "x", "args": deep(200)}})
    work(runtime)
    decision = Client(runtime.redis).wait("poison1", timeout=5)
    assert decision is not None
    assert decision.outcome is Outcome.REJECT
    assert decision.reviewer == REFUSED_REVIEWER
    assert "action.args.a.a" in decision.comment
    assert "nested deeper than 64 levels" in decision.comment
    assert runtime.ledger.refusal("poison1") == decision.comment
    assert runtime.ledger.proposal("poison1") is None
    assert not slack.messages()
    assert runtime.board.inbox() == []


def test_unparsable_envelope_is_refused(runtime: Runtime) -> None:
    """Bytes that are not a JSON object in Redis are refused, not retried forever."""
    runtime.redis.set(proposal_key("garbage"), b"[" * 100_000)
    runtime.redis.sadd("handoff:inbox", "garbage")
    enqueue_assess(runtime.redis, "garbage")
    work(runtime)
    assert "not valid JSON" in (runtime.ledger.refusal("garbage") or "")
    assert runtime.board.inbox() == []


def plant_poison(runtime: Runtime, pid: str) -> None:
    """A pending, posted review whose stored body cannot be read back (stored before intake had bounds)."""
    body = json.dumps({**EMAIL, "id": pid, "action": {"name": "x", "args": deep(200)}})
    now = utcnow()
    assessment = {"proposal_id": pid, "score": 0.1, "route": "escalate", "level": "x", "policy_version": "v"}
    for statement, params in [
        (
            "INSERT INTO proposals (id, category, agent, summary, body, submitted_at, stored_at)"
            " VALUES (?, 'customer_email', 'retention-bot', 'poison', ?, ?, ?)",
            [pid, body, now, now],
        ),
        (
            "INSERT INTO assessments (proposal_id, score, route, policy_version, body, assessed_at)"
            " VALUES (?, 0.1, 'escalate', 'v', ?, ?)",
            [pid, json.dumps(assessment), now],
        ),
        ("INSERT INTO cards (proposal_id, channel, ts, posted_at) VALUES (?, 'C0REVIEW', '1.0', ?)", [pid, now]),
        (
            "INSERT INTO timers (proposal_id, generation, step, due_at, assignee, state)"
            " VALUES (?, 1, 'expire', '2000-01-01T00:00:00+00:00', '', 'scheduled')",
            [pid],
        ),
    ]:
        raw_execute(runtime.ledger, statement, params)


def test_a_poison_record_is_quarantined_and_start_up_goes_on(
    runtime: Runtime, web_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """After Redis restarts empty, a worker starting with a poison record in the ledger still assesses the
    next proposal; the record is quarantined, logged once, counted in /metrics and listed by the report."""
    plant_poison(runtime, "poison2")
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    with caplog.at_level(logging.ERROR, logger="bot.quarantine"):
        run_worker(runtime, burst=True)  # start-up reconcile, then the queued jobs
        reconcile(runtime)
        work(runtime)
    assert runtime.ledger.card(pid) is not None, "the good proposal was assessed and posted"
    quarantined = queries.quarantined(runtime.ledger)
    assert [row["proposal_id"] for row in quarantined] == ["poison2"]
    assert "ValidationError" in quarantined[0]["error"]
    assert len([r for r in caplog.records if "poison2" in r.getMessage()]) == 1, "logged once"
    metrics_url = web_url.replace("/slack/events", "/metrics")
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        assert "handoff_quarantined_records 1" in response.read().decode()
    report = build_report(runtime.ledger, runtime.policy)
    assert report["quarantined"][0]["proposal_id"] == "poison2"
    assert "poison2" not in runtime.ledger.pending_ids()


_ANY_CHARACTER = st.characters(exclude_categories=())  # control characters and lone surrogates too
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(_ANY_CHARACTER, max_size=12)
)
_VALUES = st.one_of(
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
        max_leaves=25,
    ),
    st.integers(min_value=1, max_value=120).map(deep),
    st.integers(min_value=1, max_value=300).map(lambda n: {f"k{i}": i for i in range(n)}),  # wide
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_VALUES, summary=st.text(_ANY_CHARACTER, min_size=1, max_size=40), click=st.booleans())
def test_intake_fuzz_refuses_cleanly_or_carries_through(
    runtime: Runtime, slack: Any, reviewer: Reviewer, value: Any, summary: str, click: bool
) -> None:
    """Whatever intake accepts is stored, read back unchanged, carded, and decided by a click or an expiry;
    whatever it refuses gets an error naming where, with nothing stored."""
    args = {"to": "jane@example.com", "subject": "s", "body": "b", "fuzz": value}
    data = {**EMAIL, "summary": summary, "action": {"name": "send_email", "args": args}, "state": value}
    client = Client(runtime.redis, policy=runtime.policy)
    try:
        pid = client.submit(data)
    except ProposalError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert refused.startswith("proposal: ")
        assert ": " in refused.removeprefix("proposal: "), "the error names the path"
        assert runtime.board.inbox() == []
        return
    work(runtime)
    stored = runtime.ledger.proposal(pid)
    assert stored is not None
    assert (stored.action.args, stored.state, stored.summary) == (args, value, summary)
    assert runtime.ledger.card(pid) is not None, "an accepted proposal gets its card"
    if click:
        response = reviewer.click(card_for(slack, pid), blocks.APPROVE, user="U0ALICE")
        assert response.status == 200
    else:
        runtime.queue("score").enqueue(jobs.fire_timer, pid, 1, "expire")
        work(runtime)
    decision = client.wait(pid, timeout=5)
    assert decision is not None
    assert decision.outcome is (Outcome.APPROVE if click else Outcome.TIMEOUT)
    assert decision.state == value
    assert runtime.ledger.decision(pid) == decision
    assert queries.quarantined(runtime.ledger) == []
    assert slack.rejections == []


def test_a_click_on_an_unreadable_proposal_tells_the_reviewer(runtime: Runtime, slack: Any, reviewer: Reviewer) -> None:
    """Approve on a card whose stored proposal cannot be read says so (and quarantines it), instead of a
    silent 200."""
    plant_poison(runtime, "poison3")
    button = {"type": "button", "action_id": blocks.APPROVE, "text": {"type": "plain_text", "text": "Approve"}}
    card = {
        "channel": "C0REVIEW",
        "ts": "1.0",
        "blocks": [{"type": "actions", "block_id": "b", "elements": [{**button, "value": "poison3"}]}],
    }
    assert reviewer.click(card, blocks.APPROVE, user="U0ALICE").status == 200
    told = slack.wait_for(lambda s: s.ephemerals("U0ALICE"), timeout=5)
    assert "cannot be read; it is quarantined" in told[-1]["text"]
    assert runtime.ledger.quarantined_id("poison3")
    assert runtime.ledger.decision("poison3") is None
