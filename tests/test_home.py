"""The App Home tab (app_home_opened → views.publish) and the /handoff slash command, through the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_checks import check_home
from bot.slack.surfaces import home
from scoring.policy import parse_policy
from tests.conftest import BOT_TOKEN, REPO, work
from tests.factories import EMAIL

ALICE = "U0ALICE"
POLICY = parse_policy((REPO / "policy.yaml").read_text())


@pytest.fixture(params=["http", "socket"])
def transport(request: pytest.FixtureRequest) -> str:
    """The Home tab's event and the slash command arrive over HTTP and over Socket Mode."""
    return str(request.param)


def pending(runtime: Runtime) -> str:
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    return pid


def test_home_tab_shows_what_waits_and_category_figures(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Opening the Home tab publishes a view with my pending reviews and a line per category."""
    pid = pending(runtime)
    assert reviewer.open_home(user=ALICE).status == 200
    view = slack.wait_for(lambda s: s.home(ALICE), timeout=5)
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "*1* waiting on you · *1* pending in total" in text
    assert pid in text
    for name in runtime.policy.categories:
        assert f"*{name}*" in text
    assert slack.rejections == []


def test_slash_command_answers_only_the_asker(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """/handoff pending, oncall and status answer ephemerally to the person who typed them."""
    pid = pending(runtime)
    answers: dict[str, str] = {}
    for text in ("pending", "oncall", "status customer_email", "status nope", "help"):
        seen = len(slack.ephemerals(ALICE))
        assert reviewer.command(text, user=ALICE, channel="C0REVIEW").status == 200
        answers[text] = slack.wait_for(
            lambda s, n=seen: len(s.ephemerals(ALICE)) > n and s.ephemerals(ALICE), timeout=5
        )[-1]["text"]
    assert pid in answers["pending"]
    assert "No rotation configured" in answers["oncall"]
    assert "*customer_email* (on_uncertainty)" in answers["status customer_email"]
    assert "`nope` is not a category" in answers["status nope"]
    assert "/handoff status CATEGORY" in answers["help"]
    assert [e["user"] for e in slack.ephemerals()] == [ALICE] * 5
    assert slack.messages("C0REVIEW") == []


def test_home_view_stays_within_limits_for_a_busy_workspace() -> None:
    """Thousands of pending reviews and many categories still give one valid Home view."""
    reviews = [
        home.PendingReview(f"p{n}", "customer_email", "bot", "<!channel> " * 50, "C0R", n % 2 == 0) for n in range(3000)
    ]
    report: dict[str, Any] = {"categories": [{"category": f"cat{n}", "volume": n} for n in range(120)]}
    view = home.home_view(reviews, report, POLICY)
    assert check_home(view) == []
    assert "&lt;!channel&gt;" in json.dumps(view)
    assert len(home.command_answer("pending", pending=reviews, report=report, policy=POLICY)) <= home.ANSWER_LIMIT


@pytest.mark.parametrize(
    ("view", "error"),
    [
        ({"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}, "must be 'home'"),
        ({"type": "home", "blocks": [{"type": "divider"}] * 101}, "no more than 100 items"),
    ],
)
def test_stand_in_publishes_only_valid_home_views(slack: SlackStandIn, view: dict[str, Any], error: str) -> None:
    """The stand-in's views.publish refuses what Slack refuses, and keeps the last valid view per user."""
    client = WebClient(token=BOT_TOKEN, base_url=slack.url)
    with pytest.raises(SlackApiError) as refused:
        client.views_publish(user_id=ALICE, view=view)
    assert refused.value.response["error"] == "invalid_arguments"
    assert any(error in line for line in refused.value.response["response_metadata"]["messages"])
    assert slack.home(ALICE) is None
    client.views_publish(user_id=ALICE, view={"type": "home", "blocks": [{"type": "divider"}]})
    assert slack.home(ALICE)["blocks"][0]["type"] == "divider"  # type: ignore[index]
