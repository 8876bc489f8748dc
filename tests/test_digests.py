"""Digests: review_after actions gathered into one message per channel, category and window, each with a
Flag, and one "Looked at all — fine" that confirms only what the message showed."""

from __future__ import annotations

import json
from typing import Any

from bot.client import Client
from bot.review import flags
from bot.review.reconcile import reconcile
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces.digest_card import LOOKED_AT_ALL, LOOKED_AT_ALL_WORDS
from bot.store import digests as store
from scoring.models import Proposal
from tests.conftest import wait_until, work


def tag(n: int) -> dict[str, Any]:
    """A review_after proposal (tag_ticket) for ticket `n`."""
    return {
        "category": "tag_ticket",
        "action": {"name": "tag", "args": {"ticket_id": f"T-{n}", "tag": "billing"}},
        "summary": f"Tag ticket T-{n} as billing",
    }


def digests_in(slack: SlackStandIn) -> list[dict[str, Any]]:
    """The digest messages in their current revision, oldest first."""
    return [m for m in slack.messages() if LOOKED_AT_ALL in json.dumps(m.get("blocks") or []) or _is_digest(m)]


def _is_digest(message: dict[str, Any]) -> bool:
    return any(str(b.get("block_id", "")).startswith("dgh:") for b in message.get("blocks") or [])


def flagged_pids(message: dict[str, Any]) -> list[str]:
    """The proposal ids whose Flag button the message shows."""
    return [b["accessory"]["value"] for b in message["blocks"] if b.get("accessory", {}).get("action_id") == flags.FLAG]


def confirmations(runtime: Runtime) -> dict[str, tuple[str, str]]:
    rows = runtime.ledger.db.execute("SELECT proposal_id, reviewer, source FROM confirmations").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def test_thirty_review_after_actions_land_in_two_digests_and_looked_at_all_confirms_the_unflagged(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """30 actions: two messages (20 + 10), a Flag per item; a flag, then "Looked at all — fine" confirms the
    other 19 of that digest with source `digest`; the second digest's items stay unreviewed."""
    client = Client(runtime.redis, policy=runtime.policy)
    pids = [client.submit(tag(n)) for n in range(30)]
    work(runtime)
    messages = digests_in(slack)
    assert len(messages) == 2
    assert [len(flagged_pids(m)) for m in messages] == [20, 10]
    assert sorted(flagged_pids(messages[0]) + flagged_pids(messages[1])) == sorted(pids)
    assert all(len(m["blocks"]) <= 50 for m in messages)
    assert len([c for c in slack.calls if c.method == "chat.postMessage"]) == 2
    assert [c for c in slack.calls if c.method == "chat.update"], "items after the first update the message in place"
    words = [e["text"]["text"] for b in messages[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert words == [LOOKED_AT_ALL_WORDS]

    first = flagged_pids(messages[0])
    assert reviewer.click(messages[0], flags.FLAG, value=first[3], user="U0BOB").status == 200
    wait_until(lambda: runtime.ledger.db.execute("SELECT COUNT(*) FROM flags").fetchone()[0] == 1)
    current = wait_until(
        lambda: next((m for m in digests_in(slack) if "Flagged as wrong by <@U0BOB>" in json.dumps(m)), None),
        what="the digest to show the flag",
    )
    assert len(flagged_pids(current)) == 19
    assert reviewer.click(current, LOOKED_AT_ALL, user="U0CAROL").status == 200
    confirmed = wait_until(lambda: len(confirmations(runtime)) == 19 and confirmations(runtime), what="confirmations")
    assert set(confirmed) == set(first) - {first[3]}
    assert set(confirmed.values()) == {("U0CAROL", "digest")}
    wait_until(
        lambda: "*Looked at all — fine* by <@U0CAROL>" in json.dumps(slack.messages(), ensure_ascii=False),
        what="the marked digest",
    )
    reviewer.click(current, LOOKED_AT_ALL, user="U0DAVE")
    note = slack.wait_for(lambda s: s.ephemerals("U0DAVE"), timeout=5)[-1]
    assert "already looked at all" in note["text"]
    assert len(confirmations(runtime)) == 19
    assert slack.rejections == []


def test_looked_at_all_confirms_only_what_the_clicked_message_showed(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """An item that arrived after the clicked revision was drawn is not confirmed by it: nobody saw it."""
    client = Client(runtime.redis, policy=runtime.policy)
    seen = [client.submit(tag(n)) for n in range(2)]
    work(runtime)
    stale_copy = digests_in(slack)[0]
    late = client.submit(tag(99))
    work(runtime)
    assert late in json.dumps(digests_in(slack)[0]), "the late item is listed in the same digest"
    assert len(digests_in(slack)) == 1
    reviewer.click(stale_copy, LOOKED_AT_ALL, user="U0CAROL")
    wait_until(lambda: len(confirmations(runtime)) == 2, what="the confirmations")
    assert set(confirmations(runtime)) == set(seen)
    assert late not in confirmations(runtime)


def test_a_digest_is_redrawn_from_the_ledger_after_a_crash_and_never_posted_twice(
    runtime: Runtime, slack: SlackStandIn
) -> None:
    """An item listed in the ledger whose render never happened (a crash) is shown by reconcile, in place."""
    client = Client(runtime.redis, policy=runtime.policy)
    first = client.submit(tag(1))
    work(runtime)
    proposal = Proposal.model_validate(tag(2))
    runtime.ledger.record_proposal("p-crashed", proposal, submitted_at="2026-01-01T00:00:00+00:00")
    digest_id = store.add_item(
        runtime.ledger,
        "p-crashed",
        channel=runtime.policy.channel_for("tag_ticket"),
        category="tag_ticket",
        minutes=30,
        max_items=20,
    )
    assert store.digest_of(runtime.ledger, first) == digest_id
    assert store.stale(runtime.ledger) == [digest_id]
    posts_before = len([c for c in slack.calls if c.method == "chat.postMessage"])
    assert reconcile(runtime).redrawn_digests == [digest_id]
    assert flagged_pids(digests_in(slack)[0]) == [first, "p-crashed"]
    assert reconcile(runtime).redrawn_digests == []
    assert len([c for c in slack.calls if c.method == "chat.postMessage"]) == posts_before
    assert len(digests_in(slack)) == 1
