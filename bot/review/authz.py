"""Authorization: who may decide a review, and what they are told when they may not (or not yet).

The user is always the request's `user.id` (Bolt verified the signature), never a value from a
button. Allowed are the category's users, the members of its user groups (cached; when Slack
cannot list a group, its members are unknown and the category's rotation stands in), the members of
its rotation and its escalation secondary. A redirect never adds anyone: it may only pass a review to
another of these people. A category naming no reviewers may be decided by anyone who can see the card;
a category missing from the active policy, only by the policy's `owners`. `bot.review.decide` checks this
again on every decision, whatever path it came by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.review.quarantine import isolated
from bot.runtime import Runtime
from bot.slack import messages, usergroups
from bot.store.review_state import Verdict
from scoring.models import Proposal
from scoring.policy import Policy
from scoring.routing import eligible

if TYPE_CHECKING:
    from bot.review.decide import DecideResult

UNREADABLE = (
    "This proposal's stored record cannot be read; it is quarantined for an operator (see `handoff report`). "
    "Nothing changed."
)


@dataclass(frozen=True)
class Permission:
    """Whether a user may decide a review, and if not, the explanation they get."""

    allowed: bool
    reason: str = ""


def permission(runtime: Runtime, pid: str, user: str) -> Permission:
    """May `user` decide proposal `pid`? (Quorum and the owner rule are checked when deciding.)"""
    proposal = _readable(runtime, pid)
    if proposal is None:
        return Permission(False, UNREADABLE) if runtime.ledger.quarantined_id(pid) else Permission(True)
    category = runtime.policy.category(proposal.category)
    if category is None:
        if user in runtime.policy.owners:
            return Permission(True)
        owners = ", ".join(f"<@{o}>" for o in runtime.policy.owners) or "nobody: the policy names no owners"
        return Permission(
            False,
            f"{proposal.category} is not in the active policy, so only the policy's owners ({owners}) may "
            "decide it. Nothing changed.",
        )
    groups = usergroups.resolve(runtime, category.reviewers.usergroups)
    allowed = eligible(runtime.policy, category, groups)
    if allowed is None or user in allowed:
        return Permission(True)
    failed = [g for g, members in groups.items() if members is None]
    reason = f"You are not a reviewer for {proposal.category}; nothing changed."
    if failed:
        reason += f" (Slack could not list the reviewer group {', '.join(failed)}; its members cannot be checked now.)"
    return Permission(False, reason)


def promotion_permission(policy: Policy, user: str) -> Permission:
    """May `user` apply or decline a proposed promotion? Only the policy's owners may."""
    if user in policy.owners:
        return Permission(True)
    missing = "; this policy has no `owners:`" if not policy.owners else ""
    return Permission(False, f"Only the policy's owners can decide promotions{missing}. Nothing changed.")


def _readable(runtime: Runtime, pid: str) -> Proposal | None:
    """The stored proposal; one that cannot be read is quarantined (and None)."""
    with isolated(runtime, pid, "click"):
        return runtime.ledger.proposal(pid)
    return None


def tell(runtime: Runtime, *, channel: str, user: str, result: DecideResult) -> None:
    """An ephemeral note to a reviewer whose click did not decide: refused, counted, or too late."""
    if result.verdict is Verdict.REFUSED:
        text = f"{result.note} Nothing changed."
    elif result.verdict is Verdict.PROGRESS:
        text = (
            f"Your approval is recorded: {len(result.approvers)} of {result.needed}. "
            "It runs once enough distinct reviewers approve."
        )
    else:
        messages.tell_already_decided(runtime, channel=channel, user=user, decision=result.decision)
        return
    messages.tell(runtime, channel=channel, user=user, text=text)
