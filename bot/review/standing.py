"""Standing approvals: "Approve and allow the same action from this agent for N hours".

A reviewer who may decide a proposal approves it and, in the same modal, makes a rule scoped to its
category, agent, action name and the argument fields they pick (exact values), for at most the
category's `standing_approvals.max_hours`. The rule is created only once their approval is the decision
that stands (a replayed submission finds it made already).

When a later proposal escalates, `allowed_decision` looks for an active rule it matches; the proposal is
then decided through the one exactly-once path (`bot.review.decide`) as an approval by
`standing:<rule id>`, whose transaction checks again that the rule still stands (revoked, expired or
flagged meanwhile: the proposal gets its card as usual). Phase two lists the action in its channel's
digest: it ran with nobody looking. A flag on any action a rule allowed revokes the rule in the flag's
own transaction; its author
or a policy owner may revoke it at any time (App Home, `/handoff standing revoke ID`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.review.authz import permission
from bot.runtime import Runtime
from bot.store import standing as store
from bot.store.clock import utcnow
from bot.store.ledger import Step
from bot.store.rows import StandingRule
from scoring.models import Assessment, Decision, Outcome, Proposal, Route, standing_reviewer, standing_rule_id

log = logging.getLogger(__name__)
MAX_ACTIVE_PER_CATEGORY = 50  # keeps matching and listing bounded
MAX_FIELDS = 40  # argument fields a modal offers and a rule may pin
HOUR_CHOICES = (1, 2, 4, 8, 12, 24, 48, 72, 168)
NOT_RECORDED = (
    "Your approval stands, but the standing approval could not be recorded (the ledger could not be written): "
    "nothing is allowed without asking. Use Approve and remember… on the next such card."
)


@dataclass(frozen=True)
class Remembered:
    """What remembering a decision did: the rule (None when refused) and what to tell the reviewer."""

    rule: StandingRule | None
    message: str


def hour_choices(max_hours: int) -> list[int]:
    """The durations the modal offers: the usual steps up to the policy's cap, and the cap itself."""
    return sorted({h for h in HOUR_CHOICES if h <= max_hours} | {max_hours})


def offered_hours(runtime: Runtime, category: str) -> int:
    """The longest rule a reviewer may make for `category` (0: standing approvals are off there)."""
    cap = runtime.policy.standing_for(category)
    return cap.max_hours if cap else 0


def pickable_fields(proposal: Proposal) -> list[str]:
    """The argument fields a rule may pin, in the order the agent sent them (bounded)."""
    return list(proposal.action.args)[:MAX_FIELDS]


def remember(runtime: Runtime, pid: str, *, user: str, hours: int, fields: list[str]) -> Remembered:
    """Make the rule of `user`'s approval of `pid` (their approval must be the decision that stands)."""
    proposal, decision = runtime.ledger.proposal(pid), runtime.ledger.decision(pid)
    if proposal is None or decision is None:
        return Remembered(None, "That proposal has no decision yet; no standing approval was made.")
    if decision.reviewer != user or decision.outcome is not Outcome.APPROVE:
        return Remembered(None, "Your approval is not the decision that stands, so no standing approval was made.")
    allowed = permission(runtime, pid, user)
    if not allowed.allowed:
        return Remembered(None, allowed.reason or f"You are not a reviewer for {proposal.category}.")
    cap = offered_hours(runtime, proposal.category)
    if cap == 0:
        return Remembered(None, f"Standing approvals are off for {proposal.category}; your approval alone stands.")
    if not 1 <= hours <= cap:
        return Remembered(None, f"A standing approval for {proposal.category} lasts 1 to {cap} hours; none was made.")
    unknown = [f for f in fields if f not in proposal.action.args]
    if unknown or len(fields) > MAX_FIELDS:
        return Remembered(None, "Those fields are not all arguments of this action; no standing approval was made.")
    now = datetime.now(UTC)
    try:
        rule, created = store.create(
            runtime.ledger,
            source_proposal_id=pid,
            scope=(proposal.category, proposal.agent, proposal.action.name),
            fields={name: proposal.action.args[name] for name in fields},
            author=user,
            expires_at=(now + timedelta(hours=hours)).isoformat(timespec="milliseconds"),
            max_active=MAX_ACTIVE_PER_CATEGORY,
            now=now.isoformat(timespec="milliseconds"),
        )
    except runtime.ledger.errors as exc:  # the approval stands; only the rule is missing
        log.error("standing rule from %s not recorded: %s", pid, exc)
        return Remembered(None, NOT_RECORDED)
    if rule is None:
        return Remembered(
            None,
            f"{proposal.category} has {MAX_ACTIVE_PER_CATEGORY} standing approvals already; revoke one first "
            "(`/handoff standing`). Your approval stands.",
        )
    if created:
        log.info("standing rule %s made by %s from %s (%s, %dh)", rule.id, user, pid, proposal.category, hours)
    return Remembered(rule, describe_made(rule))


def describe_made(rule: StandingRule) -> str:
    """What the author is told once their rule exists (plain words; ids only, no untrusted text)."""
    return (
        f"Standing approval #{rule.id} is on until {rule.expires_at}: the same action from the same agent is "
        f"approved without asking. Revoke it in the App Home or with `/handoff standing revoke {rule.id}`."
    )


def allowed_decision(runtime: Runtime, pid: str, proposal: Proposal, assessment: Assessment) -> Decision | None:
    """The approval a standing rule gives this escalated proposal, or None when no rule allows it.

    A rule allows only while the category still has standing approvals and within the policy's current
    cap from its creation."""
    cap = offered_hours(runtime, proposal.category)
    if cap == 0 or assessment.route is not Route.ESCALATE:
        return None
    now = datetime.now(UTC)
    scope = (proposal.category, proposal.agent, proposal.action.name)
    rule = store.match(
        runtime.ledger, scope=scope, args=proposal.action.args, now=now.isoformat(timespec="milliseconds")
    )
    if rule is None:
        return None
    if datetime.fromisoformat(rule.created_at) + timedelta(hours=cap) <= now:
        log.info("standing rule %s outlived the policy's %dh cap; %s goes to a person", rule.id, cap, pid)
        return None
    return Decision(  # `bot.review.decide` checks that its author may still decide it
        proposal_id=pid,
        outcome=Outcome.APPROVE,
        action=proposal.action,
        reviewer=standing_reviewer(rule.id),
        comment=f"Allowed by standing approval #{rule.id} of {rule.author}, made on {rule.source_proposal_id}",
        decided_at=utcnow(),
        state=proposal.state,
        score=assessment.score,
        route=assessment.route,
    )


def may_revoke(runtime: Runtime, rule: StandingRule, user: str) -> bool:
    """A rule's author and the policy's owners may revoke it."""
    return user == rule.author or user in runtime.policy.owners


def revoke(runtime: Runtime, rule_id: int, *, user: str) -> str:
    """Revoke a rule for `user`; what to tell them."""
    rule = store.rule(runtime.ledger, rule_id)
    if rule is None:
        return f"There is no standing approval #{rule_id}; nothing changed."
    if not may_revoke(runtime, rule, user):
        return f"Only its author (<@{rule.author}>) or a policy owner can revoke standing approval #{rule_id}."
    if not store.revoke(runtime.ledger, rule_id, by=user, reason="revoked by hand"):
        return f"Standing approval #{rule_id} was revoked already; nothing changed."
    log.info("standing rule %s revoked by %s", rule_id, user)
    return f"Standing approval #{rule_id} is revoked: the next such action asks a person again."


def revocation_for_flag(runtime: Runtime, pid: str, *, flagger: str) -> Step | None:
    """What a flag on `pid` also does in its transaction: revoke the standing approval that allowed it, if one did."""
    decision = runtime.ledger.decision(pid)
    rule_id = standing_rule_id(decision.reviewer) if decision else None
    if rule_id is None:
        return None
    log.info("standing rule %s is revoked by %s's flag on %s", rule_id, flagger, pid)
    return store.revoking(rule_id, pid=pid, flagger=flagger)


def repair(runtime: Runtime) -> list[int]:
    """Revoke the rules a flag recorded without its revocation should have revoked; their ids."""
    revoked = []
    for rule_id, pid, flagger in store.flagged_but_active(runtime.ledger):
        if store.revoke(runtime.ledger, rule_id, by=f"flag:{pid}", reason=f"{flagger} flagged {pid}, which it allowed"):
            revoked.append(rule_id)
    return revoked


def listed(runtime: Runtime, *, category: str | None = None) -> list[StandingRule]:
    """Rules that may allow an action now, oldest first (none of a category whose policy turned them off)."""
    rules = store.active(runtime.ledger, now=utcnow(), category=category)
    return [rule for rule in rules if offered_hours(runtime, rule.category) > 0]
