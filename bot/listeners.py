"""Bolt listeners: ack first, take the reviewer from the payload's user, decide through the shared path.

The reviewer is always `body["user"]["id"]` (Bolt has verified the signature); a button's value
carries only the proposal id.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot import blocks, slack
from bot.decisions import decide, make_decision
from bot.runtime import Runtime
from scoring.models import Outcome

log = logging.getLogger(__name__)


def is_allowed(runtime: Runtime, proposal_id: str, user: str) -> bool:
    """Whether `user` may decide this proposal: the category's reviewers, or anyone when none are set."""
    proposal = runtime.ledger.proposal(proposal_id)
    category = runtime.policy.category(proposal.category) if proposal else None
    return category is None or not category.reviewers or user in category.reviewers


def register(app: App, runtime: Runtime) -> None:
    """Attach every listener handoff has to `app`."""

    @app.action(blocks.APPROVE)
    def approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = _click(body)
        if not _authorized(runtime, pid, user, channel):
            return
        proposal = runtime.ledger.proposal(pid)
        action = proposal.action if proposal else None
        _decide(runtime, pid, Outcome.APPROVE, user=user, channel=channel, action=action)

    @app.action(blocks.REJECT)
    def reject(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = _click(body)
        if not _authorized(runtime, pid, user, channel) or not _still_open(runtime, pid, user, channel):
            return
        proposal = runtime.ledger.proposal(pid)
        if proposal is not None:
            view = blocks.reject_modal(pid, proposal)
            view["private_metadata"] = f"{pid}|{channel}"
            runtime.slack.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(blocks.REJECT_MODAL)
    def reject_submitted(ack: Ack, body: dict[str, Any]) -> None:
        values = body["view"]["state"]["values"]
        reason = (values.get(blocks.REASON_BLOCK, {}).get(blocks.REASON_INPUT, {}).get("value") or "").strip()
        if not reason:
            ack(response_action="errors", errors={blocks.REASON_BLOCK: "Say why, so the agent can do better."})
            return
        if len(reason) > blocks.REASON_MAX:
            ack(
                response_action="errors", errors={blocks.REASON_BLOCK: f"Keep it under {blocks.REASON_MAX} characters."}
            )
            return
        ack()
        pid, _, channel = body["view"]["private_metadata"].partition("|")
        user = body["user"]["id"]
        if _authorized(runtime, pid, user, channel):
            _decide(runtime, pid, Outcome.REJECT, user=user, channel=channel, comment=reason)


def _click(body: dict[str, Any]) -> tuple[str, str, str]:
    action = body["actions"][0]
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
    return str(action.get("value", "")), str(body["user"]["id"]), str(channel)


def _authorized(runtime: Runtime, pid: str, user: str, channel: str) -> bool:
    if is_allowed(runtime, pid, user):
        return True
    if channel:
        runtime.slack.chat_postEphemeral(
            channel=channel, user=user, text="You are not a reviewer for this category; nothing changed."
        )
    return False


def _still_open(runtime: Runtime, pid: str, user: str, channel: str) -> bool:
    standing = runtime.ledger.decision(pid)
    if standing is None:
        return True
    if channel:
        slack.tell_already_decided(runtime, channel=channel, user=user, decision=standing)
    return False


def _decide(runtime: Runtime, pid: str, outcome: Outcome, *, user: str, channel: str, **fields: Any) -> None:
    decision = make_decision(runtime, pid, outcome, reviewer=user, **fields)
    result = decide(runtime, decision)
    if not result.won and channel:
        slack.tell_already_decided(runtime, channel=channel, user=user, decision=result.decision)
