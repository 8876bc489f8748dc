"""What the API does with a request, in the web process's threads: take a proposal in, find an agent's
proposal, say where it stands, take an execution report. The agent is always the credential's."""

from __future__ import annotations

import uuid

from bot.api.errors import ApiError
from bot.api.models import Accepted, ExecutionReport, ProposalStatus
from bot.jobs import enqueue_assess, enqueue_report_execution
from bot.runtime import Runtime
from bot.store.clock import utcnow
from bot.store.rows import Agent, Submission
from scoring.models import Decision, Proposal


def submit(runtime: Runtime, agent: Agent, proposal: Proposal) -> tuple[int, Accepted]:
    """Take a proposal in for `agent`: 202 when new, 200 when the same id came with the same body."""
    if "agent" in proposal.model_fields_set and proposal.agent != agent.name:
        raise ApiError(403, f"agent: this token belongs to {agent.name!r}; omit agent or send {agent.name!r}")
    if proposal.callback is not None:
        raise ApiError(
            422,
            "callback: runs Python in handoff's worker and is refused over HTTP; register a webhook "
            "(handoff agents add NAME --webhook URL) or wait for the decision",
            fields=[{"path": "callback", "message": "not accepted over HTTP"}],
        )
    known = sorted(runtime.policy.categories)
    if proposal.category not in runtime.policy.categories:
        raise ApiError(
            422,
            f"category: {proposal.category!r} is not in the policy; use one of {', '.join(known)}",
            fields=[{"path": "category", "message": "not in the policy"}],
            categories=known,
        )
    pid = proposal.id or uuid.uuid4().hex
    proposal = proposal.model_copy(update={"id": pid, "agent": agent.name})
    if runtime.board.put_proposal(pid, Submission(proposal, submitted_at=utcnow())):
        enqueue_assess(runtime.redis, pid)
        return 202, Accepted(id=pid)
    earlier = _stored(runtime, pid)
    if earlier is None or earlier.model_dump(mode="json") != proposal.model_dump(mode="json"):
        raise ApiError(409, f"id: {pid!r} was submitted before with a different body; use a new id")
    return 200, Accepted(id=pid)


def owned(runtime: Runtime, agent: Agent, proposal_id: str) -> Proposal:
    """The agent's proposal of that id; 404 for none or another agent's (which is not told apart)."""
    proposal = _stored(runtime, proposal_id)
    if proposal is None or proposal.agent != agent.name:
        raise ApiError(404, f"no proposal {proposal_id!r} of agent {agent.name!r}; check the id you were given")
    return proposal


def status(runtime: Runtime, proposal_id: str) -> ProposalStatus:
    """Pending, decided or executed, with the route and score once assessed and the decision once decided."""
    assessment = runtime.ledger.assessment(proposal_id)
    decision = decision_of(runtime, proposal_id)
    executed = runtime.ledger.execution(proposal_id) in ("ok", "error")
    state = "executed" if executed else "decided" if decision is not None else "pending"
    return ProposalStatus(
        id=proposal_id,
        status=state,
        route=assessment.route if assessment else None,
        score=assessment.score if assessment else None,
        decision=decision,
    )


def decision_of(runtime: Runtime, proposal_id: str) -> Decision | None:
    """The decision, from the ledger or (just taken, not yet recorded) from Redis."""
    return runtime.ledger.decision(proposal_id) or runtime.board.decided(proposal_id)


def report(runtime: Runtime, proposal_id: str, execution: ExecutionReport) -> None:
    """Queue the agent's execution report; refused before there is a decision to have run."""
    if decision_of(runtime, proposal_id) is None:
        raise ApiError(409, f"{proposal_id} has no decision yet; wait for it before reporting an execution")
    enqueue_report_execution(runtime.redis, proposal_id, ok=execution.ok, detail=execution.detail)


def _stored(runtime: Runtime, proposal_id: str) -> Proposal | None:
    """The submitted proposal: Redis holds it from submission, the ledger from assessment on."""
    submission = runtime.board.get_proposal(proposal_id)
    if submission is not None:
        return submission.proposal
    return runtime.ledger.proposal(proposal_id)
