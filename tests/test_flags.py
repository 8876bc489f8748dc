"""Review after the fact: a flaggable message per review_after action, flags as overrides, promotion cards."""

from __future__ import annotations

import json
from typing import Any

from bot.client import Client
from bot.review import flags
from bot.review.graduation import effective_level
from bot.review.promotions import post_promotion_card
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import promotion_card
from scoring.policy import Level
from tests.conftest import wait_until, work

TAG = {
    "category": "tag_ticket",
    "action": {"name": "tag", "args": {"ticket_id": "T-1", "tag": "billing"}},
    "summary": "Tag ticket T-1 as billing",
}


def per_item(runtime: Runtime) -> None:
    """The policy option of one review-after message per action (`digest: false`) for tag_ticket."""
    categories = dict(runtime.policy.categories)
    categories["tag_ticket"] = categories["tag_ticket"].model_copy(update={"digest": False})
    runtime.policy = runtime.policy.model_copy(update={"categories": categories})


def message_with(slack: SlackStandIn, action_id: str) -> dict[str, Any]:
    found = [m for m in slack.messages() if action_id in json.dumps(m.get("blocks") or [])]
    assert found, f"no message has a {action_id} element"
    return found[-1]


def test_review_after_action_gets_one_flaggable_message(runtime: Runtime, slack: SlackStandIn) -> None:
    """A review_after action runs, then one message with a Flag as wrong button is posted, even on a rerun."""
    per_item(runtime)
    pid = Client(runtime.redis, policy=runtime.policy).submit(TAG)
    work(runtime)
    message = message_with(slack, flags.FLAG)
    assert pid in json.dumps(message["blocks"])
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    assert proposal is not None
    flags.post_review_after(runtime, pid, proposal, assessment)
    assert len([m for m in slack.messages() if flags.FLAG in json.dumps(m.get("blocks") or [])]) == 1
    assert slack.rejections == []


def test_flag_is_recorded_once_and_a_second_flag_is_told_ephemerally(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The first click records the flag (flagger from the payload) and marks the message; the next changes nothing."""
    per_item(runtime)
    pid = Client(runtime.redis, policy=runtime.policy).submit(TAG)
    work(runtime)
    message = message_with(slack, flags.FLAG)
    assert reviewer.click(message, flags.FLAG, user="U0BOB").status == 200
    row = wait_until(
        lambda: runtime.ledger.db.execute("SELECT flagger FROM flags WHERE proposal_id = ?", [pid]).fetchone(),
        what="the flag to be recorded",
    )
    assert row[0] == "U0BOB"
    wait_until(lambda: "Flagged as wrong" in json.dumps(slack.messages()), what="the message to show the flag")
    reviewer.click(message, flags.FLAG, user="U0CAROL")
    note = slack.wait_for(lambda s: s.ephemerals("U0CAROL"), timeout=5)[-1]
    assert "Already flagged by <@U0BOB>" in note["text"]
    assert runtime.ledger.db.execute("SELECT COUNT(*) FROM flags").fetchone()[0] == 1


def test_promotion_card_applies_only_for_an_owner(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """A non-owner's Apply is refused ephemerally; an owner's applies the promotion to the effective level."""
    runtime.policy = runtime.policy.model_copy(update={"owners": ["U0OWNER"]})
    seq = runtime.ledger.record_policy_event(
        "tag_ticket", kind="promote", levels=("review_after", "autonomous", "review_after"), reason="clean record"
    )
    post_promotion_card(runtime.slack, runtime.ledger, runtime.policy, seq)
    card = message_with(slack, promotion_card.APPROVE)
    reviewer.click(card, promotion_card.APPROVE, user="U0STRANGER")
    note = slack.wait_for(lambda s: s.ephemerals("U0STRANGER"), timeout=5)[-1]
    assert "Only the policy's owners" in note["text"]
    assert effective_level(runtime.ledger, runtime.policy, "tag_ticket") is Level.REVIEW_AFTER
    reviewer.click(card, promotion_card.APPROVE, user="U0OWNER")
    wait_until(
        lambda: effective_level(runtime.ledger, runtime.policy, "tag_ticket") is Level.AUTONOMOUS,
        what="the promotion to apply",
    )
    wait_until(lambda: "Applied" in json.dumps(slack.messages()), what="the card to show the outcome")
    assert slack.rejections == []


def test_looks_right_records_a_clean_review_once(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """ "Looks right" records who said so and marks the message; a second answer is refused; a flag still counts."""
    per_item(runtime)
    pid = Client(runtime.redis, policy=runtime.policy).submit(TAG)
    work(runtime)
    message = message_with(slack, flags.LOOKS_RIGHT)
    words = [e["text"]["text"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert words == ["Looks right", "Flag as wrong"]
    assert reviewer.click(message, flags.LOOKS_RIGHT, user="U0BOB").status == 200
    row = wait_until(
        lambda: runtime.ledger.db.execute(
            "SELECT reviewer, source FROM confirmations WHERE proposal_id = ?", [pid]
        ).fetchone(),
        what="the confirmation to be recorded",
    )
    assert tuple(row) == ("U0BOB", "looks_right")
    wait_until(lambda: "*Looks right* to <@U0BOB>" in json.dumps(slack.messages()), what="the message to show it")
    reviewer.click(message, flags.LOOKS_RIGHT, user="U0CAROL")
    note = slack.wait_for(lambda s: s.ephemerals("U0CAROL"), timeout=5)[-1]
    assert "already answered" in note["text"]
    reviewer.click(message, flags.FLAG, user="U0CAROL")
    wait_until(lambda: runtime.ledger.db.execute("SELECT COUNT(*) FROM flags").fetchone()[0] == 1, what="the flag")
    assert slack.rejections == []
