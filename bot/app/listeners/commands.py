"""Listeners for the App Home tab (`app_home_opened` → `views.publish`) and the `/handoff` slash command.

Both read the ledger and answer only the person who asked: the Home tab is per user, and the
command's reply is ephemeral (acked at once, then sent to the command's response_url).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.insights.report import build_report
from bot.runtime import Runtime
from bot.slack.surfaces import home

Allowed = Callable[[Runtime, str, str], bool]


def register(app: App, runtime: Runtime, *, is_allowed: Allowed) -> None:
    """Attach the Home tab and `/handoff` listeners; `is_allowed` says who may decide a proposal."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        view = home.home_view(pending_reviews(runtime, user, is_allowed), _report(runtime), runtime.policy)
        runtime.slack.views_publish(user_id=user, view=view)

    @app.command("/handoff")
    def handoff_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        user = str(command.get("user_id", ""))
        pending = pending_reviews(runtime, user, is_allowed)
        text = home.command_answer(
            str(command.get("text", "")), pending=pending, report=_report(runtime), policy=runtime.policy
        )
        respond(text=text, response_type="ephemeral")


def pending_reviews(runtime: Runtime, user: str, is_allowed: Allowed) -> list[home.PendingReview]:
    """Every escalated proposal still waiting, oldest first, marked when `user` may decide it."""
    reviews = []
    for pid in runtime.ledger.pending_ids():
        proposal = runtime.ledger.proposal(pid)
        if proposal is None:
            continue
        card = runtime.ledger.card(pid)
        reviews.append(
            home.PendingReview(
                pid=pid,
                category=proposal.category,
                agent=proposal.agent,
                summary=proposal.summary,
                channel=card[0] if card else None,
                mine=is_allowed(runtime, pid, user),
            )
        )
    return reviews


def _report(runtime: Runtime) -> dict[str, Any]:
    return build_report(runtime.ledger, runtime.policy, verify=False)
