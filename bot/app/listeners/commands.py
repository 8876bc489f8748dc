"""Listeners for the App Home tab (`app_home_opened` → `views.publish`) and the `/handoff` slash command.

Both read the ledger and answer only the person who asked: the Home tab is per user, and the
command's reply is ephemeral (acked at once, then sent to the command's response_url). Both list the
active standing approvals; the Home tab's Revoke button and `/handoff standing revoke ID` revoke one
(its author or a policy owner only, see `bot.review.standing`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.app.listeners.payloads import clicked
from bot.insights.report import build_report
from bot.review import standing
from bot.runtime import Runtime
from bot.slack.surfaces import home
from bot.slack.surfaces import standing as standing_surface
from bot.slack.surfaces.blocks import STANDING_REVOKE

UNKNOWN_RULE = "That standing approval is unknown; nothing changed."
Allowed = Callable[[Runtime, str, str], bool]


def register(app: App, runtime: Runtime, *, is_allowed: Allowed) -> None:
    """Attach the Home tab and `/handoff` listeners; `is_allowed` says who may decide a proposal."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(runtime, str(event["user"]), is_allowed)

    @app.action(STANDING_REVOKE)
    def revoke_clicked(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        value, user, _ = clicked(body)
        note = standing.revoke(runtime, int(value), user=user) if value.isdigit() else UNKNOWN_RULE
        publish_home(runtime, user, is_allowed, note=note)

    @app.command("/handoff")
    def handoff_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        user = str(command.get("user_id", ""))
        word, _, rest = str(command.get("text", "")).strip().partition(" ")
        if word.lower() == "standing":
            respond(text=standing_answer(runtime, rest, user=user), response_type="ephemeral")
            return
        pending = pending_reviews(runtime, user, is_allowed)
        text = home.command_answer(
            str(command.get("text", "")), pending=pending, report=_report(runtime), policy=runtime.policy
        )
        respond(text=text, response_type="ephemeral")


def publish_home(runtime: Runtime, user: str, is_allowed: Allowed, *, note: str = "") -> None:
    """Publish `user`'s Home tab: what waits, the standing approvals (Revoke where they may), the figures."""
    rules = standing.listed(runtime)
    revocable = [standing.may_revoke(runtime, rule, user) for rule in rules]
    view = home.home_view(
        pending_reviews(runtime, user, is_allowed),
        _report(runtime),
        runtime.policy,
        standing=standing_surface.home_blocks(rules, may_revoke=revocable),
        note=note,
    )
    runtime.slack.views_publish(user_id=user, view=view)


def standing_answer(runtime: Runtime, rest: str, *, user: str) -> str:
    """The reply to `/handoff standing` (the list) and `/handoff standing revoke ID`."""
    verb, _, target = rest.strip().partition(" ")
    if not verb:
        return standing_surface.listing(standing.listed(runtime))
    target = target.strip().lstrip("#")
    if verb.lower() == "revoke" and target.isdigit() and len(target) < 12:
        return standing.revoke(runtime, int(target), user=user)
    return "Say `/handoff standing` to list standing approvals, or `/handoff standing revoke ID` to revoke one."


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
