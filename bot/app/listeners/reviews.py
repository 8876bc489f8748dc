"""The review card's listeners (buttons, the full-context modal), and the steps every decision listener shares.

Ack first, take the reviewer from the payload's user, decide through the shared path. The reviewer is
always `body["user"]["id"]` (Bolt has verified the signature); a button's value carries only the
proposal id. Every decision, and every decision modal before it opens, is checked with `authorized`.
The modals' submissions are in `bot.app.listeners.decision_modals`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.payloads import clicked
from bot.review import authz
from bot.review.decide import NotRecordedError, decide, make_decision
from bot.runtime import Runtime
from bot.slack import messages
from bot.slack.surfaces import blocks, edits, modals, source_material
from bot.slack.surfaces.blocks import escape
from scoring.models import Outcome, Proposal

log = logging.getLogger(__name__)
ModalBuilder = Callable[[str, Proposal, str], dict[str, Any]]


def is_allowed(runtime: Runtime, proposal_id: str, user: str) -> bool:
    """Whether `user` may decide this proposal (see `bot.review.authz`): anyone when the category names no reviewers."""
    return authz.permission(runtime, proposal_id, user).allowed


def register(app: App, runtime: Runtime) -> None:
    """Attach the review card's button listeners (and the full-context modal's paging) to `app`."""

    @app.action(blocks.APPROVE)
    def approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = clicked(body)
        if not authorized(runtime, pid, user, channel):
            return
        proposal = runtime.ledger.proposal(pid)
        action = proposal.action if proposal else None
        decide_as(runtime, pid, Outcome.APPROVE, user=user, channel=channel, action=action)

    def opener(build: ModalBuilder) -> Callable[[Ack, dict[str, Any]], None]:
        def open_modal(ack: Ack, body: dict[str, Any]) -> None:
            ack()
            _open_decision_modal(runtime, body, build)

        return open_modal

    app.action(blocks.EDIT)(
        opener(lambda pid, p, ch: edits.edit_modal(pid, p, runtime.policy.category(p.category), channel=ch))
    )
    app.action(blocks.REJECT)(
        opener(
            lambda pid, p, ch: modals.reject_modal(
                pid, p, reasons=runtime.policy.reject_reasons_for(p.category), channel=ch
            )
        )
    )
    app.action(blocks.ALTERNATIVE)(opener(lambda pid, p, ch: modals.alternative_modal(pid, p, channel=ch)))
    app.action(blocks.REDIRECT)(opener(lambda pid, p, ch: modals.redirect_modal(pid, p, channel=ch)))

    @app.action(blocks.FULL_CONTEXT)
    def full_context(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, _, _ = clicked(body)
        proposal = runtime.ledger.proposal(pid)
        if proposal is not None:
            runtime.slack.views_open(trigger_id=body["trigger_id"], view=source_material.context_modal(pid, proposal))

    @app.action(blocks.CONTEXT_PREVIOUS)
    @app.action(blocks.CONTEXT_NEXT)
    def turn_page(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        view = body.get("view") or {}
        proposal = runtime.ledger.proposal(str(view.get("private_metadata", "")))
        page = str(body["actions"][0].get("value", "0"))
        if proposal is not None and view.get("id") and page.isdigit():
            modal = source_material.context_modal(view["private_metadata"], proposal, page=int(page))
            runtime.slack.views_update(view_id=view["id"], hash=view.get("hash"), view=modal)


def submission(body: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(proposal id, card channel, reviewer, input values) of a submitted decision modal."""
    view = body["view"]
    pid, channel = modals.split_metadata(str(view.get("private_metadata", "")))
    return pid, channel, str(body["user"]["id"]), view.get("state", {}).get("values", {})


def _open_decision_modal(runtime: Runtime, body: dict[str, Any], build: ModalBuilder) -> None:
    """Open a decision modal right after the ack (trigger ids live 3 s), if the clicker may decide."""
    pid, user, channel = clicked(body)
    if not authorized(runtime, pid, user, channel) or not is_still_open(runtime, pid, user, channel):
        return
    proposal = runtime.ledger.proposal(pid)
    if proposal is not None:
        runtime.slack.views_open(trigger_id=body["trigger_id"], view=build(pid, proposal, channel))


def same_args(args: dict[str, Any], original: dict[str, Any]) -> bool:
    """Equal including types (1 is not 1.0, True is not 1), as the agent would see them."""
    return json.dumps(args, sort_keys=True, default=str) == json.dumps(original, sort_keys=True, default=str)


def authorized(runtime: Runtime, pid: str, user: str, channel: str) -> bool:
    """True when `user` may decide `pid`; otherwise they get an ephemeral explanation and nothing changes."""
    verdict = authz.permission(runtime, pid, user)
    if not verdict.allowed:
        messages.tell(runtime, channel=channel, user=user, text=verdict.reason)
    return verdict.allowed


def is_still_open(runtime: Runtime, pid: str, user: str, channel: str) -> bool:
    standing = runtime.ledger.decision(pid)
    if standing is None:
        return True
    if channel:
        messages.tell_already_decided(runtime, channel=channel, user=user, decision=standing)
    return False


def not_recorded(outcome: Outcome, exc: Exception) -> str:
    """What a reviewer is told when the ledger could not take their decision."""
    return (
        f"Your {outcome.value} was not recorded: the ledger could not be written ({escape(str(exc)[:200])}). "
        "Nothing changed and nobody was told; try again in a moment."
    )


def decide_as(runtime: Runtime, pid: str, outcome: Outcome, *, user: str, channel: str, **fields: Any) -> None:
    decision = make_decision(runtime, pid, outcome, reviewer=user, **fields)
    try:
        result = decide(runtime, decision)
    except NotRecordedError as exc:
        if channel:
            messages.tell(runtime, channel=channel, user=user, text=not_recorded(outcome, exc))
        return
    if not result.won and channel:
        authz.tell(runtime, channel=channel, user=user, result=result)  # refused, counted toward quorum, or late
