"""What reviewing asks of people, in `handoff report` and `/metrics`: Slack messages per 100 proposals
(every message handoff posts is counted where it is posted), the share of decisions standing rules took,
the share of actions that ran before review someone looked at, and the wait to a decision."""

from __future__ import annotations

import json
from typing import Any

from bot.client import Client
from bot.insights.metrics import BUCKETS, render_metrics
from bot.insights.report import build_report, format_report
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from bot.slack.surfaces.digest_card import LOOKED_AT_ALL
from bot.store import review_load
from bot.store.ledger import Ledger
from bot.store.metric_totals import LedgerTotals
from bot.store.migrations import MIGRATIONS
from scoring.models import Outcome, Route
from tests.conftest import wait_until, work
from tests.factories import EMAIL
from tests.ledger_backends import rewind_schema
from tests.ledger_history import add, policy


def tag(n: int) -> dict[str, Any]:
    return {
        "category": "tag_ticket",
        "action": {"name": "tag", "args": {"ticket_id": f"T-{n}", "tag": "billing"}},
        "summary": f"Tag ticket T-{n} as billing",
    }


def category(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["categories"] if c["category"] == name)


def posted(slack: SlackStandIn) -> int:
    return len([c for c in slack.calls if c.method == "chat.postMessage"])


def test_every_message_slack_received_is_counted_once_in_the_report(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Twelve review_after actions (one digest), two escalations (cards, thread replies): the report's count of
    messages per category equals what the Slack stand-in received, and "Looked at all" moves the looked-at share."""
    client = Client(runtime.redis, policy=runtime.policy)
    for n in range(12):
        client.submit(tag(n))
    emails = [client.submit({**EMAIL, "id": f"p-mail-{n}"}) for n in range(2)]
    work(runtime)
    card = slack.wait_for(lambda s: next((m for m in s.messages() if f"review:{emails[0]}:" in json.dumps(m)), None))
    assert reviewer.click(card, blocks.APPROVE, user="U0ALICE").status == 200
    wait_until(lambda: runtime.ledger.decision(emails[0]) is not None, what="the approval")
    work(runtime)

    report = build_report(runtime.ledger, runtime.policy)
    tags, mails = category(report, "tag_ticket"), category(report, "customer_email")
    assert tags["slack_messages"] == {"total": 1, "digest": 1}
    assert tags["messages_per_100_proposals"] == round(100 / 12, 2)
    assert tags["review_after_messages_per_100"] == round(100 / 12, 2)
    assert mails["slack_messages"]["card"] == 2
    assert tags["slack_messages"]["total"] + mails["slack_messages"]["total"] == posted(slack)
    assert tags["looked_at_share"] == 0.0

    digest = next(m for m in slack.messages() if LOOKED_AT_ALL in json.dumps(m))
    assert reviewer.click(digest, LOOKED_AT_ALL, user="U0CAROL").status == 200
    wait_until(lambda: category(build_report(runtime.ledger, runtime.policy), "tag_ticket")["looked_at_share"] == 1.0)
    text = format_report(build_report(runtime.ledger, runtime.policy))
    line = next(line for line in text.splitlines() if line.startswith("tag_ticket: "))
    assert "; 8.33 Slack messages per 100 proposals (8.33 per 100 that ran before review);" in line
    assert "looked at after running 100.0% of 12" in line
    metrics = render_metrics(runtime)
    assert 'handoff_slack_messages_total{category="tag_ticket",kind="digest"} 1' in metrics
    assert 'handoff_slack_messages_total{category="customer_email",kind="card"} 2' in metrics


def test_per_action_messages_count_one_each(runtime: Runtime, slack: SlackStandIn) -> None:
    """With `digest: false` each action that ran before review has its own message, and each is counted."""
    runtime.policy.categories["tag_ticket"] = runtime.policy.categories["tag_ticket"].model_copy(
        update={"digest": False}
    )
    client = Client(runtime.redis, policy=runtime.policy)
    for n in range(5):
        client.submit(tag(n))
    work(runtime)
    tags = category(build_report(runtime.ledger, runtime.policy), "tag_ticket")
    assert tags["slack_messages"] == {"total": 5, "review_after": 5}
    assert tags["review_after_messages_per_100"] == 100.0
    assert posted(slack) == 5


def test_standing_share_counts_decisions_taken_by_standing_rules(ledger_target: str) -> None:
    """Decisions whose reviewer is `standing:<rule id>` are the standing share of the category's decisions."""
    ledger = Ledger(ledger_target)
    for n in range(3):
        add(ledger, f"s{n}", "customer_email", reviewer=f"standing:{n}")
    add(ledger, "h1", "customer_email", reviewer="U0ALICE")
    add(ledger, "policy", "customer_email", route=Route.AUTO, outcome=Outcome.AUTO, reviewer="policy:auto")
    add(ledger, "other", "tag_ticket", reviewer="standings-bot")  # a name that only starts alike
    report = build_report(ledger, policy(), verify=False)
    email, tags = category(report, "customer_email"), category(report, "tag_ticket")
    assert (email["standing_decisions"], email["standing_share"]) == (3, 0.6)
    assert (tags["standing_decisions"], tags["standing_share"]) == (0, 0.0)
    assert "decided by standing rules 60.0%" in format_report(report)
    ledger.close()


def test_the_migration_counts_the_messages_a_ledger_already_recorded(ledger_target: str) -> None:
    """A ledger from before messages were counted gets its cards, review-after messages and digests counted."""
    path = ledger_target
    ledger = Ledger(path)
    add(ledger, "e1", "customer_email")
    add(ledger, "t1", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    ledger.record_review_message("t1", channel="C0REVIEW", ts="2.0")
    ledger.db.execute("DROP TABLE slack_posts")
    rewind_schema(ledger, to=[m.__name__ for m in MIGRATIONS].index("_slack_post_table"))
    ledger.close()
    reopened = Ledger(path)
    assert review_load.posts_by_category(reopened) == {"customer_email": {"card": 1}, "tag_ticket": {"review_after": 1}}
    reopened.close()


def test_a_report_without_proposals_says_so(ledger_target: str) -> None:
    """A category with no proposals has no rates, not zeros."""
    ledger = Ledger(ledger_target)
    email = category(build_report(ledger, policy(), verify=False), "customer_email")
    assert email["messages_per_100_proposals"] is None
    assert email["standing_share"] is None
    assert email["looked_at_share"] is None
    ledger.close()


def test_metrics_count_the_messages_posted_since_the_last_scrape(runtime: Runtime, slack: SlackStandIn) -> None:
    """A web process keeps its counters across scrapes: a digest posted between two scrapes is added, without
    counting the whole ledger again."""
    totals = LedgerTotals(BUCKETS)
    assert "handoff_slack_messages_total{" not in render_metrics(runtime, totals)
    Client(runtime.redis, policy=runtime.policy).submit(tag(1))
    work(runtime)
    assert 'handoff_slack_messages_total{category="tag_ticket",kind="digest"} 1' in render_metrics(runtime, totals)
    assert totals.full_counts == 1
    assert posted(slack) == 1
