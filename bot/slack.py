"""Talking to Slack's Web API from jobs and listeners: post, update and explain review cards.

The client (see `runtime.slack_client`) already waits out 429s and retries 5xx; an error that
survives that propagates, so the RQ job fails and is retried instead of dropping a review.
"""

from __future__ import annotations

from bot import blocks
from bot.runtime import Runtime
from scoring.models import Assessment, Decision, Proposal

CARD_CLAIM_TTL = 300


def card_claim_key(pid: str) -> str:
    """Held while one job posts a proposal's card, so a concurrent retry does not post another."""
    return f"handoff:card-claim:{pid}"


def post_card(runtime: Runtime, pid: str, proposal: Proposal, assessment: Assessment) -> None:
    """Post the review card once; a retried job does not post a second card."""
    if runtime.ledger.card(pid) is not None:
        return
    claim = card_claim_key(pid)
    if not runtime.redis.set(claim, "1", nx=True, ex=CARD_CLAIM_TTL):
        return
    channel = runtime.policy.channel_for(proposal.category)
    try:
        response = runtime.slack.chat_postMessage(
            channel=channel,
            text=blocks.fallback_text(proposal, pid),
            blocks=blocks.review_card(pid, proposal, assessment),
            unfurl_links=False,
            unfurl_media=False,
        )
    except BaseException:
        runtime.redis.delete(claim)
        raise
    runtime.ledger.record_card(pid, channel=str(response["channel"]), ts=str(response["ts"]))


def finalize_card(runtime: Runtime, pid: str, proposal: Proposal, decision: Decision) -> None:
    """Turn the card into its final state (outcome, who, when; no buttons)."""
    card = runtime.ledger.card(pid)
    if card is None:
        return
    channel, ts = card
    runtime.slack.chat_update(
        channel=channel,
        ts=ts,
        text=f"{decision.outcome.value}: {blocks.fallback_text(proposal, pid)}",
        blocks=blocks.final_card(pid, proposal, decision),
    )


def reply_in_thread(runtime: Runtime, pid: str, text: str) -> None:
    """A thread reply under the proposal's card, when it has one."""
    card = runtime.ledger.card(pid)
    if card is not None:
        runtime.slack.chat_postMessage(channel=card[0], thread_ts=card[1], text=text)


def tell_already_decided(runtime: Runtime, *, channel: str, user: str, decision: Decision) -> None:
    """An ephemeral note to a reviewer who clicked after someone else decided."""
    who = decision.reviewer if decision.reviewer.startswith("policy:") else f"<@{decision.reviewer}>"
    runtime.slack.chat_postEphemeral(
        channel=channel,
        user=user,
        text=f"Already decided: {decision.outcome.value} by {who} at {decision.decided_at}. Nothing changed.",
    )
