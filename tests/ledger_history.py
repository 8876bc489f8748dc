"""A factory for ledgers with a history: proposals, assessments, cards, decisions and flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.ledger import Ledger, utcnow
from scoring.models import Action, Assessment, Decision, Outcome, Proposal, Route, Signal, SignalKind
from scoring.policy import Policy, parse_policy

POLICY_TEXT = """
owners: [U0OWNER]
categories:
  tag_ticket: {level: review_after}
  customer_email: {level: on_uncertainty, threshold: 0.85}
  issue_refund: {level: approve_before, never_graduate: true}
export: {redact_fields: [phone]}
"""


def policy(text: str = POLICY_TEXT) -> Policy:
    return parse_policy(text, source="test policy")


def add(
    ledger: Ledger,
    pid: str,
    category: str,
    *,
    route: Route = Route.ESCALATE,
    outcome: Outcome | None = Outcome.APPROVE,
    reviewer: str = "U0ALICE",
    score: float = 0.5,
    wait_s: float = 60.0,
    audit: bool = False,
    edited: dict[str, Any] | None = None,
    hard: bool = False,
    args: dict[str, Any] | None = None,
    cost: float = 0.0,
) -> None:
    """Record one proposal's whole life; `edited` args make the decision's action differ from the proposal."""
    action = Action(name="act", args=args or {"n": 1})
    proposal = Proposal(category=category, action=action, summary=f"do {pid}", input={"request": f"please {pid}"})
    ledger.record_proposal(pid, proposal, submitted_at=utcnow())
    signals = [Signal(name="ensemble", kind=SignalKind.SOFT, value=score, weight=1.0, reason="agreement")]
    if hard:
        signals.append(Signal(name="entity_not_found", kind=SignalKind.HARD, value=0, weight=0, reason="x", fired=True))
    ledger.record_assessment(
        Assessment(
            proposal_id=pid,
            score=score,
            route=route,
            signals=signals,
            level="on_uncertainty",
            policy_version="v1",
            audit=audit,
            llm_calls=2,
            tokens=100,
            cost_usd=cost,
        )
    )
    if route is Route.ESCALATE:
        ledger.record_card(pid, channel="C1", ts=f"{len(pid)}.1")
    if outcome is None:
        return
    final = Action(name="act", args=edited) if edited is not None else action
    decided = datetime.now(UTC) + timedelta(seconds=wait_s)
    ledger.record_decision(
        Decision(
            proposal_id=pid,
            outcome=outcome,
            action=None if outcome in (Outcome.REJECT, Outcome.TIMEOUT, Outcome.REDIRECT) else final,
            reviewer=reviewer if route is Route.ESCALATE and outcome is not Outcome.TIMEOUT else f"policy:{route}",
            comment="because",
            decided_at=decided.isoformat(timespec="milliseconds"),
        )
    )


def backdate(ledger: Ledger, pid: str, *, days: float) -> None:
    """Move a proposal's stored time `days` into the past, so a history can span several days."""
    moment = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
    with ledger._transaction() as db:
        db.execute("UPDATE proposals SET stored_at = ? WHERE id = ?", [moment, pid])
