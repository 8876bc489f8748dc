"""The agents' HTTP API over real HTTP: uvicorn on a free port, real Redis, the real worker, signed clicks."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.api.credentials import token_hash
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from bot.store.agents import AgentStore
from tests.api_helpers import add_agent, call
from tests.conftest import SIGNING_SECRET, wait_until, work
from tests.test_loop import EMAIL, TAG, card_for

MINE = {k: v for k, v in EMAIL.items() if k != "agent"}


def test_openapi_is_generated_and_lists_every_route(api_url: str) -> None:
    """/openapi.json is OpenAPI 3.1 built from the models, with the four routes and a Bearer scheme."""
    spec = call(api_url, "GET", "/openapi.json").body
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {
        "/v1/proposals",
        "/v1/proposals/{id}",
        "/v1/proposals/{id}/decision",
        "/v1/proposals/{id}/execution",
    }
    assert "Proposal" in spec["components"]["schemas"]
    assert "Decision" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_an_agent_submits_waits_on_the_long_poll_and_a_click_decides(
    runtime: Runtime, api_url: str, slack: SlackStandIn
) -> None:
    """Submit over HTTP, long-poll while a reviewer approves through the same server; report the run."""
    token, _ = add_agent(runtime, "retention-bot")
    accepted = call(api_url, "POST", "/v1/proposals", {**MINE, "id": "email-1"}, token=token)
    assert (accepted.status, accepted.body) == (202, {"id": "email-1", "status": "pending"})
    work(runtime)
    status = call(api_url, "GET", "/v1/proposals/email-1", token=token).body
    assert status["status"] == "pending"
    assert status["route"] == "escalate"
    assert status["decision"] is None
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(call, api_url, "GET", "/v1/proposals/email-1/decision?wait=30", token=token)
        reviewer = Reviewer(api_url + "/slack/events", SIGNING_SECRET, slack)
        assert reviewer.click(card_for(slack, "email-1"), blocks.APPROVE, user="U0ALICE").status == 200
        answer = waiting.result(timeout=30)
    assert answer.status == 200
    ledger = wait_until(lambda: runtime.ledger.decision("email-1"), what="the ledger's decision")
    assert answer.body == json.loads(ledger.model_dump_json()), "the decision JSON as `handoff submit --wait`"
    assert answer.body["outcome"] == "approve"
    assert answer.body["reviewer"] == "U0ALICE"
    assert call(api_url, "GET", "/v1/proposals/email-1", token=token).body["status"] == "decided"
    report = call(api_url, "POST", "/v1/proposals/email-1/execution", {"ok": True, "detail": "sent"}, token=token)
    assert (report.status, report.body) == (202, {"id": "email-1", "status": "accepted"})
    call(api_url, "POST", "/v1/proposals/email-1/execution", {"ok": False, "detail": "again"}, token=token)
    work(runtime)
    final = call(api_url, "GET", "/v1/proposals/email-1", token=token).body
    assert final["status"] == "executed"
    assert runtime.ledger.execution("email-1") == "ok", "a repeated report is a no-op"
    assert runtime.ledger.proposal("email-1").agent == "retention-bot", "the agent is the credential's"


def test_the_long_poll_answers_pending_when_the_wait_passes(runtime: Runtime, api_url: str) -> None:
    """No decision within `wait` is 202 pending, never an approval; `wait` outside 0..60 is 422."""
    token, _ = add_agent(runtime, "retention-bot")
    call(api_url, "POST", "/v1/proposals", {**MINE, "id": "email-2"}, token=token)
    pending = call(api_url, "GET", "/v1/proposals/email-2/decision?wait=0.2", token=token)
    assert (pending.status, pending.body) == (202, {"status": "pending"})
    too_long = call(api_url, "GET", "/v1/proposals/email-2/decision?wait=61", token=token)
    assert too_long.status == 422
    assert too_long.body["fields"][0]["path"] == "wait"


def test_resubmitting_an_id_is_idempotent_and_a_different_body_conflicts(runtime: Runtime, api_url: str) -> None:
    """Same id and body: 200 with the same answer and one queued assess; same id, other body: 409."""
    token, _ = add_agent(runtime, "tagger")
    first = call(api_url, "POST", "/v1/proposals", {**TAG, "id": "tag-1"}, token=token)
    again = call(api_url, "POST", "/v1/proposals", {**TAG, "id": "tag-1"}, token=token)
    assert (first.status, again.status) == (202, 200)
    assert first.body == again.body
    other = call(api_url, "POST", "/v1/proposals", {**TAG, "id": "tag-1", "summary": "Tag it as spam"}, token=token)
    assert other.status == 409
    assert "different body" in other.body["error"]
    assert runtime.queue("score").count == 1


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"action": {"args": {}}}, "action.name"),
        ({"summary": ""}, "summary"),
        ({"agent_confidence": 2}, "agent_confidence"),
        ({"alternatives": [{"summary": "x"}]}, "alternatives.0.action"),
        ({"colour": "red"}, "colour"),
        ({"callback": "os:getcwd"}, "callback"),
    ],
)
def test_invalid_input_is_422_naming_each_field_by_its_path(
    runtime: Runtime, api_url: str, change: dict[str, Any], path: str
) -> None:
    """Each bad field is named by its path; a Python callback is refused over HTTP."""
    token, _ = add_agent(runtime, "tagger")
    answer = call(api_url, "POST", "/v1/proposals", {**TAG, **change}, token=token)
    assert answer.status == 422
    assert path in [f["path"] for f in answer.body["fields"]], answer.body
    assert runtime.queue("score").count == 0


def test_an_unknown_category_is_422_listing_the_categories(runtime: Runtime, api_url: str) -> None:
    token, _ = add_agent(runtime, "tagger")
    answer = call(api_url, "POST", "/v1/proposals", {**TAG, "category": "tag_tickets"}, token=token)
    assert answer.status == 422
    assert answer.body["categories"] == sorted(runtime.policy.categories)
    assert "tag_ticket" in answer.body["error"]


def test_tokens_are_required_stored_as_hashes_and_revocation_is_immediate(runtime: Runtime, api_url: str) -> None:
    """No token or a wrong one is 401; the ledger holds only a hash; a revoked token fails its next request."""
    token, _ = add_agent(runtime, "tagger")
    assert call(api_url, "POST", "/v1/proposals", TAG).status == 401
    wrong = token[:-1] + ("B" if token.endswith("A") else "A")
    assert call(api_url, "POST", "/v1/proposals", TAG, token=wrong).status == 401
    assert call(api_url, "POST", "/v1/proposals", TAG, token="hnd_not-a-token").status == 401
    answer = call(api_url, "POST", "/v1/proposals", TAG, token=token)
    assert answer.status == 202
    stored = AgentStore(runtime.ledger).all()[0]
    assert stored.token_hash == token_hash(token.split("_", 2)[2])
    assert token not in json.dumps(stored)
    assert AgentStore(runtime.ledger).revoke("tagger")
    refused = call(api_url, "GET", f"/v1/proposals/{answer.body['id']}", token=token)
    assert refused.status == 401
    assert refused.headers["www-authenticate"] == "Bearer"


def test_an_agent_cannot_see_or_speak_for_another(runtime: Runtime, api_url: str) -> None:
    """Another agent's proposal is 404 on every route; naming another agent in a proposal is 403."""
    mine, _ = add_agent(runtime, "tagger")
    theirs, _ = add_agent(runtime, "retention-bot")
    assert call(api_url, "POST", "/v1/proposals", {**TAG, "id": "tag-9"}, token=mine).status == 202
    for method, path, body in [
        ("GET", "/v1/proposals/tag-9", None),
        ("GET", "/v1/proposals/tag-9/decision?wait=0", None),
        ("POST", "/v1/proposals/tag-9/execution", {"ok": True, "detail": ""}),
    ]:
        assert call(api_url, method, path, body, token=theirs).status == 404
    forged = call(api_url, "POST", "/v1/proposals", {**TAG, "agent": "tagger"}, token=theirs)
    assert forged.status == 403
    assert "retention-bot" in forged.body["error"]


def test_a_body_over_the_limit_is_413_before_it_is_read(runtime: Runtime, api_url: str) -> None:
    """By Content-Length, and for a chunked body by counting; nothing is queued."""
    token, _ = add_agent(runtime, "tagger")
    big = json.dumps({**TAG, "input": {"request": "x" * 1_100_000}}).encode()
    assert call(api_url, "POST", "/v1/proposals", raw=big, token=token).status == 413

    def chunks() -> Any:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    chunked = call(api_url, "POST", "/v1/proposals", raw=chunks(), token=token)  # type: ignore[arg-type]
    assert chunked.status == 413
    assert runtime.queue("score").count == 0


def test_the_slack_routes_are_served_beside_the_api(api_url: str) -> None:
    """/healthz and /metrics answer as before; an unsigned Slack request is refused."""
    assert call(api_url, "GET", "/healthz").body["ok"] is True
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert call(api_url, "POST", "/slack/events", raw=b"payload=%7B%7D", headers=form).status == 401
