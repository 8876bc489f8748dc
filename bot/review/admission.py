"""Intake: what a worker accepts as a proposal from Redis. Anything else is refused, durably, and the
agent is told with a decision that names the problem.

The agent-side client checks the same rules, but agents can write Redis directly: this is the check
that counts. A refusal is recorded in the ledger first, then published as a `reject` decision by
`policy:refused` on the proposal's stream, so `handoff submit --wait` prints why and stops waiting.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.client import ProposalError, parse_proposal
from bot.runtime import Runtime
from bot.store.clock import utcnow
from bot.store.review_state import proposal_key
from scoring.models import MAX_PROPOSAL_BYTES, Decision, Outcome, Proposal

log = logging.getLogger(__name__)
REFUSED_REVIEWER = "policy:refused"
MAX_ENVELOPE_BYTES = MAX_PROPOSAL_BYTES + 10_000


def admit(runtime: Runtime, pid: str) -> Proposal | None:
    """The stored proposal, or the submitted one once it passes intake (then stored); None when there is
    none or it was refused."""
    stored = runtime.ledger.proposal(pid)
    if stored is not None:
        return stored
    if runtime.ledger.refusal(pid) is not None:
        return None
    raw: bytes | None = runtime.redis.get(proposal_key(pid))  # type: ignore[assignment]
    if raw is None:
        return None
    try:
        proposal, submitted_at = parse_envelope(raw, runtime)
    except ProposalError as exc:
        refuse(runtime, pid, str(exc), _peek(raw))
        return None
    runtime.ledger.record_proposal(pid, proposal, submitted_at=submitted_at)
    return proposal


def parse_envelope(raw: bytes, runtime: Runtime) -> tuple[Proposal, str]:
    """The proposal and submission time in a Redis envelope, checked against the active policy."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise ProposalError(f"proposal: {len(raw) / 1e6:.1f} MB is over the {MAX_PROPOSAL_BYTES / 1e6:.0f} MB limit")
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProposalError(f"proposal: not valid JSON ({type(exc).__name__}); submit one JSON object") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("proposal"), dict):
        raise ProposalError("proposal: expected a JSON object; submit through handoff's client")
    proposal = parse_proposal(envelope["proposal"], policy=runtime.policy)
    submitted_at = envelope.get("submitted_at")
    return proposal, submitted_at if isinstance(submitted_at, str) and len(submitted_at) < 40 else utcnow()


def refuse(runtime: Runtime, pid: str, reason: str, peek: dict[str, str] | None = None) -> None:
    """Record the refusal, then tell the waiting agent (a `reject` by `policy:refused` naming the reason)."""
    seen = {key: _printable(value) for key, value in (peek or {}).items()}
    reason = _printable(reason)
    if runtime.ledger.record_refusal(
        pid, reason=reason, category=seen.get("category", ""), agent=seen.get("agent", "")
    ):
        log.warning("refused proposal %s at intake: %s", pid, reason)
    decision = Decision(
        proposal_id=pid,
        outcome=Outcome.REJECT,
        action=None,
        reviewer=REFUSED_REVIEWER,
        comment=reason,
        decided_at=utcnow(),
    )
    runtime.board.restore_decided(decision)


def _printable(text: str) -> str:
    """Text that SQLite and Redis can store (lone surrogates replaced)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _peek(raw: bytes) -> dict[str, str]:
    """The category and agent of an envelope, as far as they can be read (for the refusals table)."""
    try:
        proposal: Any = json.loads(raw).get("proposal", {})
        return {key: str(proposal.get(key, ""))[:100] for key in ("category", "agent")}
    except (ValueError, RecursionError, AttributeError):
        return {}
