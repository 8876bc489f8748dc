"""The one path every decision takes, whether a reviewer clicked, a timer fired or policy decided.

Redis's compare-and-set picks the single winner; the ledger's one-decision-per-proposal key is the
durable backup; the winner enqueues phase two (`bot.jobs.execute`) under a deterministic job id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bot.jobs import enqueue_execute, enqueue_refresh_card
from bot.runtime import Runtime
from bot.store.clock import utcnow
from bot.store.review_state import Verdict
from scoring.models import EXECUTING_OUTCOMES, Action, Assessment, Decision, Outcome, Proposal, is_policy_reviewer
from scoring.routing import owner_of


class UnknownProposalError(LookupError):
    """A decision for a proposal handoff has no record of."""


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

    A person's approval in a category needing several counts toward its quorum and decides only
    when it completes it; a rejection (or a timer, or policy) decides at once. The winner enqueues
    phase two unless `enqueue` is False (a worker that runs it inline; reconcile covers a crash).
    """
    refusal = _refusal(runtime, decision)
    if refusal:
        return DecideResult(won=False, decision=decision, verdict=Verdict.REFUSED, note=refusal)
    needed = _needed(runtime, decision)
    fingerprint = action_fingerprint(decision.action)
    verdict, standing = _attempt(runtime, decision, needed, fingerprint)
    if verdict is Verdict.UNKNOWN:
        verdict, standing = _recover(runtime, decision, needed, fingerprint)
    if verdict is Verdict.LOST:
        assert standing is not None
        return DecideResult(won=False, decision=standing, verdict=Verdict.LOST)
    pid = decision.proposal_id
    if needed > 1:
        runtime.ledger.record_approval(pid, reviewer=decision.reviewer, fingerprint=fingerprint)
    if verdict is Verdict.PROGRESS:
        approvers = tuple(runtime.board.approvers(pid))
        enqueue_refresh_card(runtime.redis, pid, revision=len(approvers))  # "1 of 2 approvals", from a worker
        return DecideResult(False, decision, Verdict.PROGRESS, approvers=approvers, needed=needed)
    stored = runtime.ledger.record_decision(decision)
    runtime.board.expire_decided(pid)
    if enqueue:
        enqueue_execute(runtime.redis, pid)
    won = stored == decision
    return DecideResult(won=won, decision=stored, verdict=Verdict.WON if won else Verdict.LOST)


def is_human_approval(decision: Decision) -> bool:
    """An outcome that runs the action, taken by a person (not policy or a timer)."""
    return decision.outcome in EXECUTING_OUTCOMES and not is_policy_reviewer(decision.reviewer)


def action_fingerprint(action: Action | None) -> str:
    """A short hash of an action: approvals toward a quorum count for one exact action."""
    body = json.dumps(action.model_dump(mode="json") if action else None, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _needed(runtime: Runtime, decision: Decision) -> int:
    if not is_human_approval(decision):
        return 1
    proposal = runtime.ledger.proposal(decision.proposal_id)
    return runtime.policy.approvals_needed(proposal.category) if proposal else 1


def _refusal(runtime: Runtime, decision: Decision) -> str:
    """Why the policy does not let this reviewer take this decision ("" when it does)."""
    if not is_human_approval(decision):
        return ""
    proposal = runtime.ledger.proposal(decision.proposal_id)
    category = runtime.policy.category(proposal.category) if proposal else None
    if proposal is None or category is None or category.owner_may_approve:
        return ""
    if owner_of(runtime.policy, proposal.agent) != decision.reviewer:
        return ""
    return f"You own {proposal.agent}, and this category does not let an agent's owner approve its proposals."


def _attempt(runtime: Runtime, decision: Decision, needed: int, fingerprint: str) -> tuple[Verdict, Decision | None]:
    if needed > 1:
        return runtime.board.vote(decision, needed=needed, fingerprint=fingerprint)
    return runtime.board.compare_and_decide(decision)


def _recover(runtime: Runtime, decision: Decision, needed: int, fingerprint: str) -> tuple[Verdict, Decision | None]:
    """Redis has no review state (never opened, or Redis restarted empty): rebuild it from the ledger."""
    pid = decision.proposal_id
    stored = runtime.ledger.decision(pid)
    if stored is not None:
        runtime.board.restore_decided(stored)
        return Verdict.LOST, stored
    if runtime.ledger.proposal(pid) is None:
        raise UnknownProposalError(f"no proposal {pid!r} in the ledger")
    runtime.board.open_review(pid)
    runtime.board.restore_approvers(pid, fingerprint, runtime.ledger.approvals(pid, fingerprint))
    return _attempt(runtime, decision, needed, fingerprint)
