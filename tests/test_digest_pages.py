"""Long digests page like the full-context modal: a message shows what fits, "See all" opens the pages,
each item keeps its Flag, and "Looked at all — fine" waits on the last page."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.client import Client
from bot.review import flags
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_checks import check_blocks, check_view
from bot.slack.surfaces.digest_card import LOOKED_AT_ALL, MESSAGE_ITEMS, digest_card
from bot.slack.surfaces.digest_pages import DIGEST_NEXT, DIGEST_PAGES, PAGE_ITEMS, digest_modal
from bot.store.rows import Digest, DigestItem
from scoring.policy import DigestRule, Reviewers
from tests.conftest import wait_until, work
from tests.factories import INJECTION

CAROL, MALLORY = "U0CAROL", "U0MALLORY"


def tag(n: int) -> dict[str, Any]:
    return {
        "category": "tag_ticket",
        "action": {"name": "tag", "args": {"ticket_id": f"T-{n}", "tag": "billing"}},
        "summary": f"Tag ticket T-{n} as billing",
    }


@pytest.fixture
def long_digests(runtime: Runtime) -> Runtime:
    """tag_ticket gathers up to 60 actions a digest, and only Carol reviews it."""
    rules = runtime.policy.categories["tag_ticket"]
    runtime.policy.categories["tag_ticket"] = rules.model_copy(
        update={"digest": DigestRule(minutes=30, max_items=60), "reviewers": Reviewers(users=[CAROL])}
    )
    return runtime


def flag_values(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["accessory"]["value"] for b in blocks if b.get("accessory", {}).get("action_id") == flags.FLAG]


def digest_message(slack: SlackStandIn) -> dict[str, Any]:
    return slack.wait_for(lambda s: next((m for m in s.messages() if "dgh:" in json.dumps(m["blocks"])), None))


def latest_view(slack: SlackStandIn, seen: int) -> dict[str, Any]:
    return slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)


def page_of(slack: SlackStandIn, view_id: str, page: int) -> dict[str, Any]:
    """The open modal once it shows `page` (from 0)."""
    return slack.wait_for(
        lambda s: next(
            (v for v in s.views() if v["id"] == view_id and v["view"]["private_metadata"].endswith(f":{page}")), None
        ),
        timeout=5,
    )


def confirmed(runtime: Runtime) -> int:
    return int(runtime.ledger.db.execute("SELECT COUNT(*) FROM confirmations WHERE source = 'digest'").fetchone()[0])


def test_fifty_actions_page_through_a_modal_with_a_flag_each_and_looked_at_all_on_the_last_page(
    long_digests: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """50 actions in one digest: the message shows 40 and "See all 50"; the modal pages 20, 20, 10; a flag on
    page 2 is recorded and shown; "Looked at all — fine" on page 3 confirms the other 49."""
    runtime = long_digests
    client = Client(runtime.redis, policy=runtime.policy)
    pids = [client.submit(tag(n)) for n in range(50)]
    work(runtime)
    message = digest_message(slack)
    assert len([c for c in slack.calls if c.method == "chat.postMessage"]) == 1
    assert len(message["blocks"]) <= 50
    assert flag_values(message["blocks"]) == pids[:MESSAGE_ITEMS]
    assert LOOKED_AT_ALL not in json.dumps(message["blocks"]), "looking at all means paging through all"

    seen = len(slack.views())
    assert reviewer.click(message, DIGEST_PAGES, user=CAROL).status == 200
    opened = latest_view(slack, seen)
    assert flag_values(opened["view"]["blocks"]) == pids[:PAGE_ITEMS]
    assert reviewer.click(opened, DIGEST_NEXT, user=CAROL).status == 200
    second = page_of(slack, opened["id"], 1)
    assert flag_values(second["view"]["blocks"]) == pids[PAGE_ITEMS : 2 * PAGE_ITEMS]

    assert reviewer.click(second, flags.FLAG, value=pids[25], user=CAROL).status == 200
    wait_until(lambda: flags.queries.flag_on(runtime.ledger, pids[25]) is not None, what="the flag")
    flagged = slack.wait_for(
        lambda s: next((v for v in s.views() if v["id"] == opened["id"] and "Flagged as wrong" in json.dumps(v)), None)
    )
    assert pids[25] not in flag_values(flagged["view"]["blocks"])

    assert reviewer.click(flagged, DIGEST_NEXT, user=CAROL).status == 200
    last = page_of(slack, opened["id"], 2)
    assert flag_values(last["view"]["blocks"]) == pids[2 * PAGE_ITEMS :]
    assert reviewer.click(last, LOOKED_AT_ALL, user=CAROL).status == 200
    wait_until(lambda: confirmed(runtime) == 49, what="49 confirmations")
    slack.wait_for(
        lambda s: "*Looked at all — fine* by <@U0CAROL>" in json.dumps(digest_message(s), ensure_ascii=False)
    )
    slack.wait_for(
        lambda s: "*Looked at all — fine* by <@U0CAROL>" in json.dumps(s.views()[-1]["view"], ensure_ascii=False)
    )


def test_someone_who_may_not_review_the_category_cannot_open_its_pages(
    long_digests: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The pages show the category's actions to its reviewers only; anyone else is told, and nothing opens."""
    client = Client(long_digests.redis, policy=long_digests.policy)
    for n in range(45):
        client.submit(tag(n))
    work(long_digests)
    seen = len(slack.views())
    assert reviewer.click(digest_message(slack), DIGEST_PAGES, user=MALLORY).status == 200
    note = slack.wait_for(lambda s: next((e for e in s.ephemerals() if e.get("user") == MALLORY), None))
    assert "not a reviewer for tag_ticket" in note["text"]
    assert len(slack.views()) == seen


@pytest.mark.parametrize("count", [41, 200])
def test_long_digests_stay_within_slack_limits_with_hostile_text(count: int) -> None:
    """Each page and the message pass Slack's checks with the longest, most hostile summaries."""
    digest = Digest(
        9, "C0REVIEW", INJECTION, "2026-11-24T10:00:00+00:00", "2026-11-24T10:30:00+00:00", "1.1", 0, None, None
    )
    items = [
        DigestItem(f"p-{n}", n + 1, INJECTION, INJECTION * 40, INJECTION, "U0BOB" if n % 7 == 0 else None, None, None)
        for n in range(count)
    ]
    assert check_blocks(digest_card(digest, items)) == []
    for page in range(-(-count // PAGE_ITEMS)):
        view = digest_modal(digest, items, page=page)
        assert check_view(view) == []
        assert "<!channel>" not in json.dumps(view)
