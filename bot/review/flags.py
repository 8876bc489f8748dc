"""Review after the fact: every review_after or audited action is listed in its channel's digest
(`bot.review.digests`), or, with the category's `digest: false`, gets a message of its own with
"Looks right" and "Flag as wrong" buttons.

`post_review_after` is called by phase two (`bot.jobs.execute`) once an action that ran without review is
decided. A click (`bot.app.listeners.flags`) on "Looks right" records a confirmation (a clean labelled
review); on "Flag as wrong" a flag (an override), which also revokes the standing approval that allowed
the action, if one did; either marks the message. An action nobody answered
stays unreviewed and never counts toward graduation. Button values are the proposal id only; the person
is the payload's user.
"""

from __future__ import annotations

import logging

from bot.review import digests, standing
from bot.review.authz import permission
from bot.runtime import Runtime
from bot.slack.messages import post, tell
from bot.slack.surfaces.blocks import clip, escape
from bot.slack.surfaces.flag_card import FLAG, LOOKS_RIGHT, flag_card
from bot.store import queries
from bot.store.rows import MessageRef
from scoring.models import Assessment, Decision, Proposal, Route, is_standing_reviewer

__all__ = ["FLAG", "LOOKS_RIGHT", "confirm", "flag", "needs_review_after", "post_review_after", "review_message"]

log = logging.getLogger(__name__)
CLAIM_TTL = 300


def needs_review_after(assessment: Assessment | None, decision: Decision | None = None) -> bool:
    """Whether an action runs before any human saw it and still gets a human look: review_after, audit, or
    allowed by a standing approval (`decision` by `standing:<rule id>`)."""
    if decision is not None and decision.executes and is_standing_reviewer(decision.reviewer):
        return True
    return assessment is not None and (assessment.route is Route.REVIEW_AFTER or assessment.audit)


def review_message(runtime: Runtime, pid: str) -> MessageRef | None:
    """The proposal's review-after message, or None."""
    return queries.review_message(runtime.ledger, pid)


def post_review_after(
    runtime: Runtime, pid: str, proposal: Proposal, assessment: Assessment | None, *, decision: Decision | None = None
) -> None:
    """Post the flaggable message once for an action that ran unreviewed (see `needs_review_after`); anything
    else is left alone."""
    if not needs_review_after(assessment, decision) or review_message(runtime, pid) is not None:
        return
    assert assessment is not None
    rule = runtime.policy.digest_for(proposal.category)
    if rule is not None:
        digests.add(runtime, pid, proposal, rule)
        return
    claim = f"handoff:review-after-claim:{pid}"
    if not runtime.redis.set(claim, "1", nx=True, ex=CLAIM_TTL):
        return
    try:
        response = post(
            runtime,
            kind="review_after",
            pid=pid,
            category=proposal.category,
            channel=runtime.policy.channel_for(proposal.category),
            text=clip(f"Ran without review: {escape(proposal.summary)} ({pid})", 300),
            blocks=flag_card(pid, proposal, assessment),
            unfurl_links=False,
            unfurl_media=False,
        )
    except BaseException:
        runtime.redis.delete(claim)
        raise
    runtime.ledger.record_review_message(pid, channel=str(response["channel"]), ts=str(response["ts"]))


def confirm(runtime: Runtime, pid: str, *, user: str, channel: str) -> bool:
    """Record that `user` found `pid` right and mark its message; False (and an ephemeral note) when refused."""
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    if proposal is None or not needs_review_after(assessment, runtime.ledger.decision(pid)):
        text = "Only actions that ran without review can be confirmed; nothing changed."
        tell(runtime, channel=channel, user=user, text=text)
        return False
    assert assessment is not None
    allowed = permission(runtime, pid, user)
    if not allowed.allowed:
        text = allowed.reason or "You are not a reviewer for this category; nothing changed."
        tell(runtime, channel=channel, user=user, text=text)
        return False
    if not runtime.ledger.record_confirmation(pid, reviewer=user, source="looks_right"):
        text = "Someone already answered for this action; it counts once. Nothing changed."
        tell(runtime, channel=channel, user=user, text=text)
        return False
    _redraw(runtime, pid, f"Looks right: {escape(proposal.summary)} ({pid})", proposal, assessment, confirmed_by=user)
    return True


def flag(runtime: Runtime, pid: str, *, user: str, channel: str) -> bool:
    """Record `user`'s flag on `pid` and mark its message; False (and an ephemeral note) when refused."""
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    if proposal is None or not needs_review_after(assessment, runtime.ledger.decision(pid)):
        tell(
            runtime,
            channel=channel,
            user=user,
            text="Only actions that ran without review can be flagged; nothing changed.",
        )
        return False
    assert assessment is not None
    allowed = permission(runtime, pid, user)
    if not allowed.allowed:
        tell(
            runtime,
            channel=channel,
            user=user,
            text=allowed.reason or "You are not a reviewer for this category; nothing changed.",
        )
        return False
    revoking = standing.revocation_for_flag(runtime, pid, flagger=user)  # in the flag's own transaction
    if not runtime.ledger.record_flag(pid, flagger=user, then=revoking):
        row = queries.flag_on(runtime.ledger, pid)
        assert row is not None
        tell(
            runtime,
            channel=channel,
            user=user,
            text=f"Already flagged by <@{row.flagger}> at {row.flagged_at}; it counts once. Nothing changed.",
        )
        return False
    _redraw(
        runtime, pid, f"Flagged as wrong: {escape(proposal.summary)} ({pid})", proposal, assessment, flagged_by=user
    )
    return True


def _redraw(
    runtime: Runtime,
    pid: str,
    text: str,
    proposal: Proposal,
    assessment: Assessment,
    *,
    flagged_by: str | None = None,
    confirmed_by: str | None = None,
) -> None:
    """Show a flag or confirmation: in the action's digest when it has one, else on its own message."""
    where = review_message(runtime, pid)
    if not digests.redraw_for(runtime, pid) and where is not None:
        runtime.slack.chat_update(
            channel=where.channel,
            ts=where.ts,
            text=clip(text, 300),
            blocks=flag_card(pid, proposal, assessment, flagged_by=flagged_by, confirmed_by=confirmed_by),
        )
