"""The one path every decision takes, whether a reviewer clicked, a timer fired or policy decided.

The ledger picks the single winner in one transaction (a quorum's approvals included) before anything
is published: only then does Redis carry the decision to the agent, so nobody is told of a decision the
ledger does not hold. The winner enqueues phase two (`bot.jobs.execute`) under a deterministic job id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from bot.jobs import enqueue_execute, enqueue_refresh_card
from bot.review.authz import permission
from bot.runtime import Runtime
from bot.store import standing
from bot.store.clock import utcnow
from bot.store.ledger import DecisionRefusedError
from bot.store.review_state import Verdict
from scoring.models import (
    EXECUTING_OUTCOMES,
    Action,
    Assessment,
    Decision,
    Outcome,
    Proposal,
    is_policy_reviewer,
    is_standing_reviewer,
    standing_rule_id,
)
from scoring.routing import owner_of

log = logging.getLogger(__name__)


class UnknownProposalError(LookupError):
    """A decision for a proposal handoff has no record of."""


class NotRecordedError(RuntimeError):
    """The ledger could not be written, so the decision was not taken (and not published): try again."""


@dataclass(frozen=True)
class DecideResult:
    """`won` is True when this call's decision is the one that stands (`decision`).

    Otherwise `verdict` says why: LOST (someone decided first; `decision` is theirs), PROGRESS (an approval
    counted toward a quorum; `approvers` so far of `needed`), REFUSED (the policy forbids it; `note` says why).
    """

    won: bool
    decision: Decision
    verdict: Verdict = Verdict.WON
    approvers: tuple[str, ...] = ()
    needed: int = 1
    note: str = ""


def make_decision(
    runtime: Runtime,
    proposal_id: str,
    outcome: Outcome,
    *,
    reviewer: str,
    action: Action | None = None,
    comment: str = "",
) -> Decision:
    """Build a Decision carrying the proposal's state and the assessment's score and route."""
    proposal = runtime.ledger.proposal(proposal_id)
    if proposal is None:
        raise UnknownProposalError(f"no proposal {proposal_id!r} in the ledger")
    assessment = runtime.ledger.assessment(proposal_id)
    return decision_for(proposal_id, proposal, assessment, outcome, reviewer=reviewer, action=action, comment=comment)


def decision_for(
    proposal_id: str,
    proposal: Proposal,
    assessment: Assessment | None,
    outcome: Outcome,
    *,
    reviewer: str,
    action: Action | None = None,
    comment: str = "",
) -> Decision:
    """The Decision for a proposal the caller already holds (no ledger reads)."""
    return Decision(
        proposal_id=proposal_id,
        outcome=outcome,
        action=action,
        reviewer=reviewer,
        comment=comment,
        decided_at=utcnow(),
        state=proposal.state,
        score=assessment.score if assessment else None,
        route=assessment.route if assessment else None,
    )


def decide(runtime: Runtime, decision: Decision, *, enqueue: bool = True) -> DecideResult:
    """Decide a pending proposal exactly once; a losing caller gets the decision that stands.

    The ledger takes the decision first (one transaction picks the single winner); only then is it
    published on the proposal's stream, so no agent sees a decision the ledger does not hold. A
    person's approval in a category needing several counts toward its quorum and decides only when it
    completes it; a rejection (or a timer, or policy) decides at once. Raises NotRecordedError when the
    ledger cannot be written (nothing is published then). The winner enqueues phase two unless
    `enqueue` is False (a worker that runs it inline; reconcile covers a crash).
    """
    refusal = _refusal(runtime, decision)
    if refusal:
        return DecideResult(won=False, decision=decision, verdict=Verdict.REFUSED, note=refusal)
    needed = _needed(runtime, decision)
    rule_id = standing_rule_id(decision.reviewer)
    guard = standing.guard(rule_id, now=utcnow()) if rule_id is not None else None
    try:
        won, stands, approvers = runtime.ledger.decide(
            decision, needed=needed, fingerprint=action_fingerprint(decision.action), guard=guard
        )
    except DecisionRefusedError as exc:  # the rule was revoked, expired or flagged before this transaction
        return DecideResult(won=False, decision=decision, verdict=Verdict.REFUSED, note=str(exc))
    except runtime.ledger.errors as exc:
        log.error("decision on %s not recorded: %s", decision.proposal_id, exc)
        raise NotRecordedError(str(exc)) from exc
    pid = decision.proposal_id
    if stands is None:
        enqueue_refresh_card(runtime.redis, pid, revision=len(approvers))  # "1 of 2 approvals", from a worker
        return DecideResult(False, decision, Verdict.PROGRESS, approvers=approvers, needed=needed)
    if won and enqueue:
        enqueue_execute(runtime.redis, pid)  # before publishing: an agent that hears of it finds phase two queued
    runtime.board.restore_decided(stands)  # publish, now that the ledger holds it (phase two publishes too)
    return DecideResult(won=won, decision=stands, verdict=Verdict.WON if won else Verdict.LOST)


def is_human_approval(decision: Decision) -> bool:
    """An outcome that runs the action, taken by a person (not policy, a timer or a standing approval)."""
    by = decision.reviewer
    return decision.outcome in EXECUTING_OUTCOMES and not is_policy_reviewer(by) and not is_standing_reviewer(by)


def action_fingerprint(action: Action | None) -> str:
    """A short hash of an action: approvals toward a quorum count for one exact action."""
    body = json.dumps(action.model_dump(mode="json") if action else None, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _needed(runtime: Runtime, decision: Decision) -> int:
    if not is_human_approval(decision):
        return 1
    proposal = runtime.ledger.proposal(decision.proposal_id)
    return runtime.policy.approvals_needed(proposal.category) if proposal else 1


def _person_behind(runtime: Runtime, reviewer: str) -> str | None:
    """The person a decision speaks for: the reviewer, or a standing approval's author (None: no such rule)."""
    rule_id = standing_rule_id(reviewer)
    if rule_id is None:
        return None if is_standing_reviewer(reviewer) else reviewer
    rule = standing.rule(runtime.ledger, rule_id)
    return rule.author if rule else None


def _refusal(runtime: Runtime, decision: Decision) -> str:
    """Why the policy does not let this reviewer take this decision ("" when it does): not a reviewer of
    the category (a redirect adds nobody), or the agent's owner approving where the category forbids it.
    A standing approval is checked as its author, who must still be allowed to decide."""
    if is_policy_reviewer(decision.reviewer):
        return ""
    proposal = runtime.ledger.proposal(decision.proposal_id)
    if proposal is None:
        raise UnknownProposalError(f"no proposal {decision.proposal_id!r} in the ledger")
    person = _person_behind(runtime, decision.reviewer)
    if person is None:
        return f"{decision.reviewer} is not a standing approval handoff holds"
    allowed = permission(runtime, decision.proposal_id, person)
    if not allowed.allowed:
        return allowed.reason.removesuffix(" Nothing changed.").removesuffix("; nothing changed.")
    category = runtime.policy.category(proposal.category)
    if decision.outcome not in EXECUTING_OUTCOMES or category is None or category.owner_may_approve:
        return ""
    if owner_of(runtime.policy, proposal.agent) != person:
        return ""
    return f"You own {proposal.agent}, and this category does not let an agent's owner approve its proposals."
