"""Authorization: who may decide a review, and what they are told when they may not (or not yet).

The user is always the request's `user.id` (Bolt verified the signature), never a value from a
button. Allowed are the category's users, the members of its user groups (cached; when Slack
cannot list a group, its members are unknown and the category's rotation stands in), the members of
its rotation, its escalation secondary, and whoever the review was redirected to. A category naming
no reviewers may be decided by anyone who can see the card.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.review.assignment import redirected_to
from bot.review.decide import DecideResult
from bot.runtime import Runtime
from bot.slack import messages, usergroups
from bot.store.review_state import Verdict
from scoring.policy import Policy
from scoring.routing import eligible


@dataclass(frozen=True)
class Permission:
    """Whether a user may decide a review, and if not, the explanation they get."""

    allowed: bool
    reason: str = ""


def permission(runtime: Runtime, pid: str, user: str) -> Permission:
    """May `user` decide proposal `pid`? (Quorum and the owner rule are checked when deciding.)"""
    proposal = runtime.ledger.proposal(pid)
    category = runtime.policy.category(proposal.category) if proposal else None
    if proposal is None or category is None:
        return Permission(True)
    groups = usergroups.resolve(runtime, category.reviewers.usergroups)
    allowed = eligible(runtime.policy, category, groups)
    if allowed is None or user in allowed or user == redirected_to(runtime, pid):
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
