"""Promotions proposed in Slack: a card to the policy's owners; approving it applies the promotion.

The card goes to the policy's `channel` and mentions the `owners`; only an owner's click counts. The
button value is the policy event's number; the approver is the payload's user. Applying records the
event in the ledger, which `bot.review.graduation.effective_level` reads.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.messages import tell
from bot.slack.surfaces.blocks import HEADER_LIMIT, SECTION_LIMIT, clip, escape
from bot.store import queries
from bot.store.ledger import Ledger
from bot.store.rows import PolicyEvent
from scoring.policy import Policy

APPROVE = "handoff_promotion_approve"
DECLINE = "handoff_promotion_decline"
ACTION_IDS = (APPROVE, DECLINE)


def promotion_card(seq: int, event: PolicyEvent, owners: list[str]) -> list[dict[str, Any]]:
    """The card proposing one promotion (buttons while proposed, the outcome once decided)."""
    revision = 1 if event.status == "proposed" else 2
    title = clip(f"Promotion: {event.category} to {event.to_level}", HEADER_LIMIT)
    who = " ".join(f"<@{owner}>" for owner in owners) or "_no owners in the policy_"
    text = (
        f"*{escape(event.category)}* has earned more autonomy: *{event.from_level}* → *{event.to_level}*\n"
        f"{escape(event.reason)}\nOwners: {who}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": f"ph:{seq}:{revision}", "text": {"type": "plain_text", "text": title}},
        _section(clip(text, SECTION_LIMIT), f"pw:{seq}:{revision}"),
    ]
    if event.status == "proposed":
        buttons = [_button("Apply", APPROVE, seq, style="primary"), _button("Decline", DECLINE, seq)]
        blocks.append({"type": "actions", "block_id": f"pa:{seq}:1", "elements": buttons})
    else:
        done = f"*{event.status.capitalize()}* by <@{event.decided_by}>"
        blocks.append(_section(done, f"pd:{seq}:2"))
    context = f"policy event {seq} · `handoff report` shows the effective level"
    blocks.append({"type": "context", "block_id": f"pc:{seq}:{revision}", "elements": [_mrkdwn(context)]})
    return blocks


def post_promotion_card(slack: WebClient, ledger: Ledger, policy: Policy, seq: int) -> None:
    """Post the card for a proposed promotion to the policy's channel, once."""
    event = queries.policy_event(ledger, seq)
    if event is None or event.card or event.status != "proposed":
        return
    owners = " ".join(f"<@{o}>" for o in policy.owners)
    response = slack.chat_postMessage(
        channel=policy.channel,
        text=clip(f"{owners} promotion proposed: {event.category} to {event.to_level}", 300),
        blocks=promotion_card(seq, event, policy.owners),
    )
    ledger.record_policy_card(seq, channel=str(response["channel"]), ts=str(response["ts"]))


def decide(runtime: Runtime, seq: int, *, user: str, channel: str, apply: bool) -> bool:
    """Apply or decline a proposed promotion for an owner; False (with an ephemeral note) otherwise."""
    if user not in runtime.policy.owners:
        note = "Only the policy's owners can decide promotions" + (
            "; this policy has no `owners:`" if not runtime.policy.owners else ""
        )
        tell(runtime, channel=channel, user=user, text=note + ". Nothing changed.")
        return False
    if not runtime.ledger.decide_policy_event(seq, actor=user, apply=apply):
        tell(runtime, channel=channel, user=user, text="This promotion was already decided. Nothing changed.")
        return False
    event = queries.policy_event(runtime.ledger, seq)
    if event and event.card:
        runtime.slack.chat_update(
            channel=event.card.channel,
            ts=event.card.ts,
            text=f"Promotion {event.status}: {event.category} to {event.to_level}",
            blocks=promotion_card(seq, event, runtime.policy.owners),
        )
    return True


def register(app: App, runtime: Runtime) -> None:
    """Attach the Apply and Decline listeners of promotion cards."""

    def handle(body: dict[str, Any], *, apply: bool) -> None:
        value = str(body["actions"][0].get("value", ""))
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
        if value.isdigit():
            decide(runtime, int(value), user=str(body["user"]["id"]), channel=str(channel), apply=apply)

    @app.action(APPROVE)
    def on_apply(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        handle(body, apply=True)

    @app.action(DECLINE)
    def on_decline(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        handle(body, apply=False)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": _mrkdwn(text)}


def _button(text: str, action_id: str, seq: int, *, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}, "value": str(seq)}
    return {**button, "style": style} if style else button
