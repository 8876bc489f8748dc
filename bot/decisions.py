"""The one path every decision takes, whether a reviewer clicked, a timer fired or policy decided.

Redis's compare-and-set picks the single winner; the ledger's one-decision-per-proposal key is the
durable backup; the winner enqueues phase two (`jobs.execute`) under a deterministic job id.
"""

from __future__ import annotations

from dataclasses import dataclass

from rq.job import Job, JobStatus

from bot.board import Verdict
from bot.ledger import utcnow
from bot.runtime import EXECUTE_QUEUE, Runtime
from scoring.models import Action, Decision, Outcome


class UnknownProposalError(LookupError):
    """A decision for a proposal handoff has no record of."""


@dataclass(frozen=True)
class DecideResult:
    """`won` is True when this call's decision is the one that stands (`decision`)."""

    won: bool
    decision: Decision


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


def decide(runtime: Runtime, decision: Decision) -> DecideResult:
    """Decide a pending proposal exactly once; a losing caller gets the decision that stands."""
    verdict, standing = runtime.board.compare_and_decide(decision)
    if verdict is Verdict.UNKNOWN:
        verdict, standing = _recover(runtime, decision)
    if verdict is Verdict.LOST:
        assert standing is not None
        return DecideResult(won=False, decision=standing)
    stored = runtime.ledger.record_decision(decision)
    enqueue_execute(runtime, decision.proposal_id)
    return DecideResult(won=stored == decision, decision=stored)


def _recover(runtime: Runtime, decision: Decision) -> tuple[Verdict, Decision | None]:
    """Redis has no review state (never opened, or Redis restarted empty): rebuild it from the ledger."""
    pid = decision.proposal_id
    stored = runtime.ledger.decision(pid)
    if stored is not None:
        runtime.board.restore_decided(stored)
        return Verdict.LOST, stored
    if runtime.ledger.proposal(pid) is None:
        raise UnknownProposalError(f"no proposal {pid!r} in the ledger")
    runtime.board.open_review(pid)
    return runtime.board.compare_and_decide(decision)


def execute_job_id(proposal_id: str) -> str:
    return f"execute-{proposal_id}"


def enqueue_execute(runtime: Runtime, proposal_id: str) -> None:
    """Enqueue phase two unless a live job for it exists; the job itself claims before acting."""
    queue = runtime.queue(EXECUTE_QUEUE)
    job_id = execute_job_id(proposal_id)
    existing = Job.fetch_many([job_id], connection=runtime.redis, serializer=queue.serializer)[0]
    if existing is not None and existing.get_status(refresh=False) in _LIVE:
        return
    queue.enqueue("bot.jobs.execute", proposal_id, job_id=job_id, result_ttl=3600, failure_ttl=7 * 86400)


_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.FINISHED}
