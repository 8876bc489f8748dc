"""Each decision flow driven through the sandbox with signed payloads, from the card to the agent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from scoring.models import Decision, Outcome
from tests.conftest import wait_until, work
from tests.factories import CRM, EMAIL

ALICE, BOB = "U0ALICE", "U0BOB"


@pytest.fixture(params=["http", "socket"])
def transport(request: pytest.FixtureRequest) -> str:
    """Every test here that clicks runs over HTTP and over Socket Mode."""
    return str(request.param)


def submit(runtime: Runtime, data: dict[str, Any]) -> str:
    pid = Client(runtime.redis, policy=runtime.policy).submit(data)
    work(runtime)
    return pid


def card_of(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The live card (with buttons) reviewing `pid`."""
    return slack.wait_for(lambda s: _live_card(s, pid), timeout=5)


def _live_card(slack: SlackStandIn, pid: str, *, channel: str | None = None) -> dict[str, Any] | None:
    for message in slack.messages(channel):
        if any(b.get("block_id", "").startswith(f"review:{pid}:") for b in message["blocks"]):
            return message
    return None


def _message(slack: SlackStandIn, channel: str, ts: str, *, buttons: bool) -> dict[str, Any] | None:
    """The message at (channel, ts) once it has (or no longer has) buttons."""
    for message in slack.messages(channel):
        if message["ts"] == ts and any(b["type"] == "actions" for b in message["blocks"]) == buttons:
            return message
    return None


def open_modal(slack: SlackStandIn, reviewer: Reviewer, pid: str, action_id: str, user: str = ALICE) -> dict[str, Any]:
    """Click `action_id` on the card and return the modal it opened."""
    seen = len(slack.views())
    assert reviewer.click(card_of(slack, pid), action_id, user=user).status == 200
    return slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)


def inputs(opened: dict[str, Any]) -> dict[str, str]:
    """Input block ids of a modal by their label."""
    return {b["label"]["text"]: b["block_id"] for b in opened["view"]["blocks"] if b["type"] == "input"}


def agent_receives(runtime: Runtime, pid: str) -> Decision:
    decision = Client(runtime.redis).wait(pid, timeout=5)
    assert decision is not None, "the agent received no decision"
    return decision


def test_edit_with_changed_values_reaches_the_agent_exactly(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The Edit modal is prefilled from the args; the agent gets outcome edit and exactly the edited action."""
    pid = submit(runtime, EMAIL)
    opened = open_modal(slack, reviewer, pid, blocks.EDIT)
    ids = inputs(opened)
    body = "Hi Jane,\n\n20% off a year of Pro. <@U0BOSS>"
    values = {ids["subject"]: {blocks.ARG_INPUT: "Come back, Jane"}, ids["body"]: {blocks.ARG_INPUT: body}}
    reviewer.submit_view(opened, {**values, blocks.NOTE_BLOCK: {blocks.NOTE_INPUT: "toned down"}}, user=ALICE)
    decision = agent_receives(runtime, pid)
    assert decision.outcome is Outcome.EDIT
    assert decision.action is not None
    assert decision.action.model_dump() == {
        "name": "send_email",
        "args": {"to": "jane@example.com", "subject": "Come back, Jane", "body": body},
    }
    assert decision.comment == "toned down"
    work(runtime)
    final = json.dumps(card_of_final(slack, pid), ensure_ascii=False)
    assert "What changed" in final
    assert "`subject`: `We miss you` → `Come back, Jane`" in final
    assert "&lt;@U0BOSS&gt;" in final
    assert slack.rejections == []


def card_of_final(slack: SlackStandIn, pid: str) -> list[dict[str, Any]]:
    def final(s: SlackStandIn) -> list[dict[str, Any]] | None:
        for message in s.messages():
            if any(b.get("block_id") == f"done:{pid}:2" for b in message["blocks"]):
                return list(message["blocks"])
        return None

    return slack.wait_for(final, timeout=5)


def test_invalid_edits_are_refused_inside_the_modal_next_to_the_field(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """A non-number in a number field and bad JSON are refused at their inputs; the fixed edit goes through typed."""
    pid = submit(runtime, CRM)
    opened = open_modal(slack, reviewer, pid, blocks.EDIT)
    ids = inputs(opened)
    bad = {ids["value"]: {blocks.ARG_INPUT: "a hundred"}, ids["meta (JSON)"]: {blocks.ARG_INPUT: '{"tags": ['}}
    refused = reviewer.submit_view(opened, bad, user=ALICE)
    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {ids["value"], ids["meta (JSON)"]}
    assert "whole number" in refused.json()["errors"][ids["value"]]
    assert "Not valid JSON" in refused.json()["errors"][ids["meta (JSON)"]]
    assert runtime.ledger.decision(pid) is None
    assert not slack.views()[-1]["closed"]
    good = {
        ids["value"]: {blocks.ARG_INPUT: "250"},
        ids["meta (JSON)"]: {blocks.ARG_INPUT: '{"tags": ["q1"]}'},
        ids["field"]: {blocks.ARG_INPUT: "0"},
        ids["close_date"]: {blocks.ARG_INPUT: "2026-12-24"},
        ids["notify"]: {blocks.ARG_INPUT: "1"},
    }
    reviewer.submit_view(opened, good, user=ALICE)
    decision = agent_receives(runtime, pid)
    assert decision.outcome is Outcome.EDIT
    assert decision.action is not None
    assert decision.action.args == {
        "record_id": "ACME-1",
        "field": "status",
        "value": 250,
        "close_date": "2026-12-24",
        "meta": {"tags": ["q1"]},
        "notify": False,
    }
    assert slack.rejections == []


def test_edit_that_changes_nothing_is_an_approval(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """Submitting the Edit modal untouched approves the original action (it is not counted as an override)."""
    pid = submit(runtime, CRM)
    reviewer.submit_view(open_modal(slack, reviewer, pid, blocks.EDIT), {}, user=ALICE)
    decision = agent_receives(runtime, pid)
    assert (decision.outcome, decision.action) == (Outcome.APPROVE, runtime.ledger.proposal(pid).action)  # type: ignore[union-attr]


def test_reject_needs_a_reason_and_offers_canned_ones(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Reject without a reason is refused inside the modal; a canned reason and details reach the agent."""
    pid = submit(runtime, EMAIL)
    opened = open_modal(slack, reviewer, pid, blocks.REJECT)
    refused = reviewer.submit_view(opened, {}, user=BOB)
    assert refused.json() == {
        "response_action": "errors",
        "errors": {blocks.REASON_BLOCK: "Pick a reason or say why, so the agent can do better."},
    }
    assert runtime.ledger.decision(pid) is None
    reasons = runtime.policy.reject_reasons_for("customer_email")
    values = {
        blocks.CANNED_BLOCK: {blocks.CANNED_INPUT: str(reasons.index("Against policy"))},
        blocks.REASON_BLOCK: {blocks.REASON_INPUT: "25% is the most we offer"},
    }
    reviewer.submit_view(opened, values, user=BOB)
    decision = agent_receives(runtime, pid)
    assert (decision.outcome, decision.comment, decision.action) == (
        Outcome.REJECT,
        "Against policy: 25% is the most we offer",
        None,
    )


def test_alternative_reaches_the_agent(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """Picking an alternative gives the agent outcome alternative and that alternative's action."""
    pid = submit(runtime, EMAIL)
    opened = open_modal(slack, reviewer, pid, blocks.ALTERNATIVE)
    assert reviewer.submit_view(opened, {}, user=ALICE).json()["errors"] == {
        blocks.PICK_BLOCK: "Pick one of the alternatives."
    }
    reviewer.submit_view(opened, {blocks.PICK_BLOCK: {blocks.PICK_INPUT: "0"}}, user=ALICE)
    decision = agent_receives(runtime, pid)
    assert decision.outcome is Outcome.ALTERNATIVE
    assert decision.action is not None
    assert decision.action.model_dump() == EMAIL["alternatives"][0]["action"]
    assert decision.comment == EMAIL["alternatives"][0]["summary"]


def test_redirect_to_the_agent_sends_the_instruction(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """Sending a review back to the agent is outcome redirect, with the instruction as comment and no action."""
    pid = submit(runtime, EMAIL)
    opened = open_modal(slack, reviewer, pid, blocks.REDIRECT)
    instruction = "Check with her account manager first"
    reviewer.submit_view(opened, {blocks.INSTRUCTION_BLOCK: {blocks.INSTRUCTION_INPUT: instruction}}, user=ALICE)
    decision = agent_receives(runtime, pid)
    assert (decision.outcome, decision.comment, decision.action) == (Outcome.REDIRECT, instruction, None)


def test_redirect_to_a_channel_moves_the_card_and_keeps_it_pending(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Handing a review to a channel re-posts the card there; the old card says where it went; nothing is decided."""
    pid = submit(runtime, EMAIL)
    old = card_of(slack, pid)
    opened = open_modal(slack, reviewer, pid, blocks.REDIRECT)
    reviewer.submit_view(opened, {blocks.CHANNEL_BLOCK: {blocks.CHANNEL_INPUT: "C0OPS"}}, user=ALICE)
    moved = slack.wait_for(lambda s: _live_card(s, pid, channel="C0OPS"), timeout=5)
    assert moved["channel"] == "C0OPS"
    wait_until(lambda: runtime.ledger.card(pid) == ("C0OPS", moved["ts"]), what="the ledger to point at the new card")
    previous = slack.wait_for(lambda s: _message(s, old["channel"], old["ts"], buttons=False), timeout=5)
    assert "<#C0OPS>" in json.dumps(previous["blocks"])
    assert runtime.ledger.decision(pid) is None
    assert Client(runtime.redis).wait(pid, timeout=0.2) is None
    reviewer.click(moved, blocks.APPROVE, user=BOB)
    assert agent_receives(runtime, pid).reviewer == BOB


def test_redirect_to_a_person_asks_them_in_the_thread(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Handing a review to a person mentions them under the card; the review stays open."""
    pid = submit(runtime, EMAIL)
    opened = open_modal(slack, reviewer, pid, blocks.REDIRECT)
    reviewer.submit_view(opened, {blocks.PERSON_BLOCK: {blocks.PERSON_INPUT: "U0CAROL"}}, user=ALICE)
    channel, ts = runtime.ledger.card(pid) or ("", "")
    reply = slack.wait_for(
        lambda s: [m for m in s.messages(channel) if m.get("thread_ts") == ts and "<@U0CAROL>" in m["text"]], timeout=5
    )
    assert "<@U0ALICE> handed this review to you" in reply[0]["text"]
    assert runtime.ledger.decision(pid) is None


def test_redirect_needs_exactly_one_choice(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """Nothing chosen, or two things chosen, is refused inside the modal."""
    pid = submit(runtime, EMAIL)
    opened = open_modal(slack, reviewer, pid, blocks.REDIRECT)
    assert blocks.PERSON_BLOCK in reviewer.submit_view(opened, {}, user=ALICE).json()["errors"]
    both = {
        blocks.PERSON_BLOCK: {blocks.PERSON_INPUT: "U0CAROL"},
        blocks.CHANNEL_BLOCK: {blocks.CHANNEL_INPUT: "C0OPS"},
    }
    assert blocks.CHANNEL_BLOCK in reviewer.submit_view(opened, both, user=ALICE).json()["errors"]
    assert runtime.ledger.decision(pid) is None
    assert slack.rejections == []


def test_second_reviewer_is_told_who_decided(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """After a decision, another reviewer's click on the stale card opens nothing and says who decided."""
    pid = submit(runtime, EMAIL)
    stale = card_of(slack, pid)
    reviewer.click(stale, blocks.APPROVE, user=ALICE)
    agent_receives(runtime, pid)
    wait_until(lambda: runtime.ledger.decision(pid), what="the ledger to record the decision")  # written after Redis
    views = len(slack.views())
    reviewer.click(stale, blocks.EDIT, user=BOB)
    told = slack.wait_for(lambda s: s.ephemerals(BOB), timeout=5)
    assert "Already decided: approve by <@U0ALICE>" in told[0]["text"]
    assert len(slack.views()) == views


def test_agent_reports_how_its_run_went(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """Client.report_execution records the result in the ledger and replies in the card's thread, escaped."""
    pid = submit(runtime, EMAIL)
    reviewer.click(card_of(slack, pid), blocks.APPROVE, user=ALICE)
    agent_receives(runtime, pid)
    work(runtime)
    Client(runtime.redis).report_execution(pid, False, "SMTP refused <!channel> mail")
    work(runtime)
    channel, ts = runtime.ledger.card(pid) or ("", "")
    replies = [m["text"] for m in slack.messages(channel) if m.get("thread_ts") == ts]
    assert any("Running the action failed: SMTP refused &lt;!channel&gt; mail" in r for r in replies)
    rows = runtime.ledger.db.execute("SELECT body FROM events WHERE proposal_id = ? AND kind = 'executed'", [pid])
    assert "error" in [json.loads(r[0])["status"] for r in rows]


def test_full_context_pages_reach_everything(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """A 50,000-character context is cut on the card, and Full context's pages, turned one by one, hold all of it."""
    text = "".join(f"line {n:05d}: 5 < 6 & `ok` @here\n" for n in range(1700))[:50_000]
    data = {**EMAIL, "input": {**EMAIL["input"], "context": [{"source": "s3://big.txt", "text": text}]}}
    pid = submit(runtime, data)
    card = card_of(slack, pid)
    assert len(json.dumps(card["blocks"])) < 40_000
    opened = open_modal(slack, reviewer, pid, blocks.FULL_CONTEXT)
    sections = []
    while True:
        view = next(v for v in slack.views() if v["id"] == opened["id"])["view"]
        sections += [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
        if not any(e.get("action_id") == blocks.CONTEXT_NEXT for b in view["blocks"] for e in b.get("elements", [])):
            break
        before = view["hash"]
        reviewer.click(view, blocks.CONTEXT_NEXT, user=ALICE)
        slack.wait_for(
            lambda s, before=before: next(v for v in s.views() if v["id"] == opened["id"])["view"]["hash"] != before
        )
    parts = [s.partition("\n")[2] for s in sections if s.startswith("*Context 1 of 1*")]
    assert unescape("".join(parts)) == text
    assert slack.rejections == []


LOOKALIKES = str.maketrans({"\u2217": "*", "\u02cd": "_", "\u223c": "~"})


def unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("\u200b", "")
        .replace("\u02cb", "`")
        .translate(LOOKALIKES)
    )
