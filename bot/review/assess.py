"""The seam the worker (and `handoff score`) calls to assess one proposal.

Hard signals first; the LLM calls only when the plan asks for them; then the pure combination. With no
client the planned soft signals are reported as unavailable, which fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bot.review.policy_file import resolve_checks
from scoring.models import Assessment, Proposal, Signal
from scoring.pipeline import LLMUsage, assess, hard_signals, plan_soft, unavailable_signals
from scoring.policy import Policy
from scoring.signals import CategoryStats, CustomCheck

if TYPE_CHECKING:  # anthropic is heavy: imported only where a key makes it needed
    from bot.llm.soft_signals import SoftSignals

NO_KEY = "no ANTHROPIC_API_KEY is set"


def assess_proposal(
    proposal: Proposal,
    proposal_id: str,
    *,
    policy: Policy,
    now: datetime,
    llm: SoftSignals | None,
    history: CategoryStats | None = None,
    checks: Mapping[str, CustomCheck] | None = None,
) -> Assessment:
    """Score and route a proposal: custom checks default to the policy's, resolved by import path."""
    found = resolve_checks(policy) if checks is None else checks
    hard = hard_signals(proposal, policy, now=now, history=history, checks=found)
    plan = plan_soft(proposal, policy, hard)
    soft: list[Signal] = []
    usage = LLMUsage()
    if plan.calls and llm is None:
        soft = unavailable_signals(plan, NO_KEY)
    elif plan.calls and llm is not None:
        result = llm.measure(proposal, policy=policy, plan=plan)
        soft, usage = result.signals, result.usage
    return assess(proposal, policy, proposal_id=proposal_id, now=now, soft=soft, usage=usage, hard=hard)
