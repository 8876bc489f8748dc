"""Promotions proposed in Slack: a card to the policy's owners; an owner's Apply applies the promotion.

The card (`bot.slack.surfaces.promotion_card`) goes to the policy's `channel` and mentions the `owners`;
only an owner's click counts (`bot.review.authz.promotion_permission`). The button value is the policy
event's number; the approver is the payload's user. Applying records the event in the ledger, which
`bot.review.graduation.effective_level` reads.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.review.authz import promotion_permission
from bot.runtime import Runtime
from bot.slack.messages import tell
from bot.slack.surfaces.blocks import clip
from bot.slack.surfaces.promotion_card import promotion_card
from bot.store import queries
from bot.store.ledger import Ledger
from bot.store.review_load import record_post
from scoring.policy import Policy


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
    record_post(
        ledger, kind="promotion", category=event.category, channel=str(response["channel"]), ts=str(response["ts"])
    )


def decide(runtime: Runtime, seq: int, *, user: str, channel: str, apply: bool) -> bool:
    """Apply or decline a proposed promotion for an owner; False (with an ephemeral note) otherwise."""
    allowed = promotion_permission(runtime.policy, user)
    if not allowed.allowed:
        tell(runtime, channel=channel, user=user, text=allowed.reason)
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
