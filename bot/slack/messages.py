"""Talking to Slack's Web API from jobs and listeners: post, update, move and explain review cards.

The client (see `bot.app.wiring.slack_client`) already waits out 429s and retries 5xx; an error that
survives that propagates, so the RQ job fails and is retried instead of dropping a review.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web import SlackResponse

from bot.runtime import Runtime
from bot.slack.surfaces import cards
from bot.slack.surfaces.blocks import channel_link, clip, escape, mention
from bot.store.review_load import record_post
from scoring.models import Assessment, Decision, Proposal

CARD_CLAIM_TTL = 300
THREAD_DETAIL_LIMIT = 1500


def post(
    runtime: Runtime, *, kind: str, pid: str | None = None, category: str | None = None, **message: Any
) -> SlackResponse:
    """Post a message (chat.postMessage `message`) and count it in the ledger as `kind` for the proposal's (or
    the given) category: `handoff report`'s Slack messages per 100 proposals."""
    response = runtime.slack.chat_postMessage(**message)
    channel = str(response.get("channel") or message.get("channel", ""))
    record_post(
        runtime.ledger, kind=kind, proposal_id=pid, category=category, channel=channel, ts=str(response.get("ts") or "")
    )
    return response


def card_claim_key(pid: str) -> str:
    """Held while one job posts a proposal's card, so a concurrent retry does not post another."""
    return f"handoff:card-claim:{pid}"


def post_card(
    runtime: Runtime, pid: str, proposal: Proposal, assessment: Assessment, *, facts: cards.CardFacts
) -> None:
    """Post the review card once, with routing's `facts`; a retried job does not post a second card."""
    if runtime.ledger.card(pid) is not None:
        return
    claim = card_claim_key(pid)
    if not runtime.redis.set(claim, "1", nx=True, ex=CARD_CLAIM_TTL):
        return
    try:
        channel = runtime.policy.channel_for(proposal.category)
        _post_review_card(runtime, pid, proposal, assessment, channel=channel, facts=facts)
    except BaseException:
        runtime.redis.delete(claim)
        raise


def _post_review_card(
    runtime: Runtime, pid: str, proposal: Proposal, assessment: Assessment, *, channel: str, facts: cards.CardFacts
) -> None:
    """Post the proposal's review card in `channel` and make it the card the ledger points at."""
    response = post(
        runtime,
        kind="card",
        pid=pid,
        category=proposal.category,
        channel=channel,
        text=cards.fallback_text(proposal, pid),
        blocks=cards.review_card(pid, proposal, assessment, facts=facts),
        unfurl_links=False,
        unfurl_media=False,
    )
    runtime.ledger.record_card(pid, channel=str(response["channel"]), ts=str(response["ts"]))


def finalize_card(runtime: Runtime, pid: str, proposal: Proposal, decision: Decision) -> None:
    """Turn the card into its final state (outcome, who, when, time to decide, changes; no buttons)."""
    card = runtime.ledger.card(pid)
    if card is None:
        return
    channel, ts = card
    runtime.slack.chat_update(
        channel=channel,
        ts=ts,
        text=f"{decision.outcome.value}: {cards.fallback_text(proposal, pid)}",
        blocks=cards.final_card(pid, proposal, decision, posted_at=_seconds(ts)),
    )


def hand_to_channel(runtime: Runtime, pid: str, *, channel: str, by: str, facts: cards.CardFacts) -> None:
    """Re-post a pending review's card in `channel`; the old card says where it went and loses its buttons."""
    proposal, assessment, old = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid), runtime.ledger.card(pid)
    if proposal is None or assessment is None:
        return
    _post_review_card(runtime, pid, proposal, assessment, channel=channel, facts=facts)
    if old is not None:
        runtime.slack.chat_update(
            channel=old[0],
            ts=old[1],
            text=f"moved to {channel}: {cards.fallback_text(proposal, pid)}",
            blocks=cards.handed_card(pid, proposal, by=by, to=channel_link(channel)),
        )


def hand_to_person(runtime: Runtime, pid: str, *, person: str, by: str) -> None:
    """Ask `person` to take over a pending review, in the card's thread; the card stays as it is."""
    reply_in_thread(runtime, pid, f"{mention(person)}: {mention(by)} handed this review to you. It is still open.")


def report_execution(runtime: Runtime, pid: str, *, ok: bool, detail: str) -> None:
    """A thread reply under the card saying how running the decided action went (detail escaped)."""
    said = escape(clip(detail, THREAD_DETAIL_LIMIT)) if detail else ""
    head = ":white_check_mark: The agent ran the action" if ok else ":x: Running the action failed"
    reply_in_thread(runtime, pid, f"{head}{': ' + said if said else '.'}")


def reply_in_thread(runtime: Runtime, pid: str, text: str, *, kind: str = "thread") -> None:
    """A thread reply under the proposal's card, when it has one (counted as `kind`)."""
    card = runtime.ledger.card(pid)
    if card is not None:
        post(runtime, kind=kind, pid=pid, channel=card[0], thread_ts=card[1], text=text)


def tell(runtime: Runtime, *, channel: str, user: str, text: str) -> None:
    """An ephemeral note only `user` sees in `channel` (none when the request came without a channel)."""
    if channel:
        runtime.slack.chat_postEphemeral(channel=channel, user=user, text=text)


def tell_already_decided(runtime: Runtime, *, channel: str, user: str, decision: Decision) -> None:
    """An ephemeral note to a reviewer who clicked after someone else decided."""
    said = f"Already decided: {decision.outcome.value} by {mention(decision.reviewer)} at {decision.decided_at}."
    tell(runtime, channel=channel, user=user, text=said + " Nothing changed.")


def _seconds(ts: str) -> float | None:
    try:
        return float(ts)
    except ValueError:
        return None
