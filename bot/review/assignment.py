"""Routing: whom a review is asked of right now, and the card's line that says so (with quorum progress).

Reviewers come from the policy (users, user groups, a rotation); user groups are read through the
cache in `bot.slack.usergroups`, and when Slack cannot tell us a group's members the review is routed to
the category's rotation (or the channel) and the card and the log say so.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bot.runtime import Runtime
from bot.slack import usergroups
from bot.slack.messages import finalize_card
from bot.slack.surfaces import blocks, cards
from bot.slack.surfaces.cards import CardFacts
from bot.store.precedents import precedents_for
from scoring.models import Proposal
from scoring.routing import Assignee, assignee, schedule

log = logging.getLogger(__name__)


def route(runtime: Runtime, proposal: Proposal, now: datetime) -> Assignee:
    """Whom to ask about `proposal` at `now`, with the user-group fallback applied (and logged)."""
    category = runtime.policy.category(proposal.category)
    if category is None:
        return Assignee(None, "", "anyone in the channel")
    groups = usergroups.resolve(runtime, category.reviewers.usergroups)  # a failure is logged there
    failed = [g for g, users in groups.items() if users is None]
    return assignee(runtime.policy, category, now, groups_ok=not failed)


def redirected_to(runtime: Runtime, pid: str) -> str | None:
    """The user a review was redirected to (its chain restarted for them), if any."""
    timers = runtime.ledger.timers(pid)
    if not timers or timers[0].generation < 2:
        return None
    user = timers[0].assignee
    return user if user.startswith(("U", "W")) else None


def card_facts(runtime: Runtime, pid: str, proposal: Proposal, *, now: datetime | None = None) -> CardFacts:
    """What routing adds to a card, the first one and every redraw: who is asked (the redirect's assignee,
    the on-call, else the category's users and groups), the expiry deadline, if the category has one, and
    how similar past proposals went."""
    found = precedents_for(runtime.ledger, pid, proposal)
    category = runtime.policy.category(proposal.category)
    if category is None:
        return CardFacts(precedents=found)
    moment = now or datetime.now(UTC)
    user = redirected_to(runtime, pid) or route(runtime, proposal, moment).user
    asked = (user,) if user else cards.reviewer_ids(category)
    deadline = next((t.due_at for t in runtime.ledger.timers(pid) if t.step == "expire"), None)
    if deadline is None and "expire" in (due := schedule(category.timeouts, moment)):
        deadline = due["expire"].isoformat()
    hours = category.standing_approvals.max_hours if category.standing_approvals else 0
    return CardFacts(
        irreversible=category.irreversible, reviewers=asked, deadline=deadline, precedents=found, standing_hours=hours
    )


def status_line(runtime: Runtime, pid: str, proposal: Proposal, *, now: datetime | None = None) -> str:
    """What the card's own routing line cannot say: fallbacks, approval progress, held ("" if nothing)."""
    parts = []
    if redirected_to(runtime, pid) is None:
        routed = route(runtime, proposal, now or datetime.now(UTC))
        if routed.fallback:
            parts.append(f"Routed to {routed.mention}: {routed.why}")
    needed = runtime.policy.approvals_needed(proposal.category)
    if needed > 1:
        approvers = runtime.ledger.approvers(pid)
        who = ", ".join(f"<@{a}>" for a in approvers)
        parts.append(f"*{len(approvers)} of {needed} approvals*" + (f": {who}" if who else ""))
    if pid in runtime.ledger.held_ids():
        parts.append("*Held*: nobody decided in time; no more reminders")
    return " · ".join(parts)


def annotated_card(runtime: Runtime, pid: str, proposal: Proposal, *, revision: int) -> list[dict[str, Any]]:
    """The review card with routing facts, and our status line as a context block under its header."""
    assessment = runtime.ledger.assessment(pid)
    assert assessment is not None
    card = cards.review_card(pid, proposal, assessment, revision=revision, facts=card_facts(runtime, pid, proposal))
    line = status_line(runtime, pid, proposal)
    if not line:
        return card
    note = blocks.context(line, f"routing:{pid}:{revision}")
    at = 1 if card and card[0].get("type") == "header" else 0
    return [*card[:at], note, *card[at:]]


def update_card(runtime: Runtime, pid: str) -> bool:
    """Redraw a pending review's card with its status line; False when there is nothing to redraw.

    A decision can land while we redraw: checked again afterwards, the final card is put back.
    """
    proposal = runtime.ledger.proposal(pid)
    card = runtime.ledger.card(pid)
    if proposal is None or card is None or _decided(runtime, pid):
        return False
    revision = 10 + len(runtime.ledger.approvers(pid)) + len(runtime.ledger.timers(pid))
    runtime.slack.chat_update(
        channel=card[0],
        ts=card[1],
        text=cards.fallback_text(proposal, pid),
        blocks=annotated_card(runtime, pid, proposal, revision=revision),
    )
    decision = runtime.ledger.decision(pid)
    if decision is not None:
        finalize_card(runtime, pid, proposal, decision)
    return True


def _decided(runtime: Runtime, pid: str) -> bool:
    return runtime.ledger.decision(pid) is not None or runtime.board.decided(pid) is not None
