"""The confidence pipeline: hard signals, soft signals, one score, one route.

`assess` is pure: the shell measures the soft signals that need Claude (see `plan_soft`) and passes
them in with the clock and the category's history. Hard signals veto; soft signals are averaged with
the policy's weights; the level decides what the score is allowed to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from scoring.models import Action, Assessment, Proposal, Route, Signal, SignalKind
from scoring.policy import Category, Level, Policy
from scoring.signals import (
    HARD_SIGNALS,
    CategoryStats,
    CheckContext,
    CustomCheck,
    as_number,
    hard,
    run_custom_check,
)

_FREE_TEXT = 80  # longer string arguments (email bodies) cannot be re-derived word for word; not compared
_UNKNOWN = Category(level=Level.APPROVE_BEFORE)


@dataclass(frozen=True)
class LLMUsage:
    """What the soft signals cost: model, calls, tokens and dollars."""

    model: str | None = None
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_read_tokens: int = 0  # input tokens read from the prompt cache (billed at a tenth), within input_tokens
    cache_write_tokens: int = 0  # input tokens written to it (billed at 1.25x), within input_tokens


@dataclass(frozen=True)
class SoftPlan:
    """Which Claude-backed signals a proposal is worth: how many ensemble variants, and a critique or not."""

    ensemble: int = 0
    critique: bool = False

    @property
    def calls(self) -> int:
        """How many LLM calls the plan makes when nothing is retried."""
        return self.ensemble + int(self.critique)


@dataclass(frozen=True)
class Derivation:
    """One ensemble variant's own answer to "what action does this input call for?" (None: none/unsure)."""

    variant: str
    action: Action | None
    reason: str = ""


def hard_signals(
    proposal: Proposal,
    policy: Policy,
    *,
    now: datetime,
    history: CategoryStats | None = None,
    checks: Mapping[str, CustomCheck] | None = None,
) -> list[Signal]:
    """Every hard signal for a proposal: the built-in checks, then the category's custom checks."""
    category = policy.category(proposal.category)
    ctx = CheckContext(now=now, policy=policy, category_name=proposal.category, history=history)
    signals = [] if category else [_unknown_category(proposal.category, policy)]
    rules = category or _UNKNOWN
    signals += [check(proposal, rules, ctx) for check in HARD_SIGNALS]
    found = checks or {}
    signals += [run_custom_check(path, found.get(path), proposal, rules, ctx) for path in rules.checks]
    return signals


def plan_soft(proposal: Proposal, policy: Policy, hard_found: Sequence[Signal]) -> SoftPlan:
    """The LLM calls worth making: none once a hard signal fired (it escalates anyway) or for a category
    that always asks (approve_before, never_graduate; unless `llm.measure_always_asked`), an ensemble where
    the score decides the route or the stakes are high, a critique at or above the critique impact."""
    category = policy.category(proposal.category)
    if category is None or any(s.fired for s in hard_found):
        return SoftPlan()
    llm, weights = policy.llm, policy.weights_for(proposal.category)
    if category.level is Level.APPROVE_BEFORE and category.never_graduate and not llm.measure_always_asked:
        return SoftPlan()
    decides = category.level is Level.ON_UNCERTAINTY or category.impact.rank >= llm.ensemble_min_impact.rank
    ensemble = llm.ensemble_size if decides and weights.get("ensemble", 0) > 0 else 0
    critique = category.impact.rank >= llm.critique_min_impact.rank and weights.get("critique", 0) > 0
    return SoftPlan(ensemble=ensemble, critique=critique)


def failed_signal(name: str, reason: str) -> Signal:
    """A soft signal that could not be measured; it fails closed (fired, value 0)."""
    return Signal(name=name, kind=SignalKind.SOFT, value=0.0, weight=0.0, reason=reason, fired=True)


def unavailable_signals(plan: SoftPlan, reason: str) -> list[Signal]:
    """The planned LLM signals reported as unavailable (no API key, no client)."""
    names = (["ensemble"] if plan.ensemble else []) + (["critique"] if plan.critique else [])
    return [failed_signal(name, f"unavailable: {reason}") for name in names]


def ensemble_signal(proposal: Proposal, derivations: Sequence[Derivation]) -> Signal:
    """Agreement between the proposed action and the variants' own derivations; divergence lowers it."""
    scores = [action_agreement(proposal.action, d.action) for d in derivations]
    value = statistics.fmean(scores) if scores else 0.0
    agreeing = sum(score >= 0.999 for score in scores)
    reason = f"{agreeing} of {len(scores)} prompt variants re-derived the same action"
    dissent = [d for d, score in zip(derivations, scores, strict=True) if score < 0.999]
    if dissent:
        chosen = dissent[0].action.name if dissent[0].action else "no action"
        reason += f"; {dissent[0].variant} chose {chosen}" + (
            f": {dissent[0].reason[:200]}" if dissent[0].reason else ""
        )
    return Signal(name="ensemble", kind=SignalKind.SOFT, value=value, weight=0.0, reason=reason)


def action_agreement(proposed: Action, derived: Action | None) -> float:
    """1 for the same action with equivalent arguments, 0 for another action; partial for some arguments."""
    if derived is None or _text(proposed.name) != _text(derived.name):
        return 0.0
    keys = [k for k, v in proposed.args.items() if not (isinstance(v, str) and len(v) > _FREE_TEXT)]
    if not keys:
        return 1.0
    return sum(k in derived.args and _equivalent(proposed.args[k], derived.args[k]) for k in keys) / len(keys)


def retrieval_consistency(proposal: Proposal) -> Signal | None:
    """How much varied queries for the same question agree (mean pairwise overlap of their results)."""
    if len(proposal.retrievals) < 2:
        return None
    sets = [frozenset(_text(r) for r in retrieval.results) for retrieval in proposal.retrievals]
    n = len(sets)
    if not any(sets):
        reason = f"none of the {n} queries returned anything"
        return Signal(name="retrieval_consistency", kind=SignalKind.SOFT, value=0.0, weight=0.0, reason=reason)
    value = statistics.fmean(len(a & b) / len(a | b) if a | b else 1.0 for a, b in combinations(sets, 2))
    reason = f"{n} varied queries share {value:.0%} of their results"
    return Signal(name="retrieval_consistency", kind=SignalKind.SOFT, value=value, weight=0.0, reason=reason)


def agent_confidence(proposal: Proposal) -> Signal | None:
    """The agent's own confidence, when it reports one; never enough on its own to act."""
    if proposal.agent_confidence is None:
        return None
    reason = f"the agent reports {proposal.agent_confidence:.2f}"
    return Signal(
        name="agent_confidence", kind=SignalKind.SOFT, value=proposal.agent_confidence, weight=0.0, reason=reason
    )


def assess(
    proposal: Proposal,
    policy: Policy,
    *,
    proposal_id: str,
    now: datetime,
    soft: Sequence[Signal] = (),
    history: CategoryStats | None = None,
    checks: Mapping[str, CustomCheck] | None = None,
    usage: LLMUsage | None = None,
    hard: Sequence[Signal] | None = None,
) -> Assessment:
    """Combine hard signals, the shell's soft signals and the pure ones into the assessment and route.

    Pass `hard` when the shell already ran `hard_signals` (to plan the LLM calls) so checks run once.
    """
    category = policy.category(proposal.category)
    level = category.level if category else Level.APPROVE_BEFORE
    weights = policy.weights_for(proposal.category)
    measured = [*soft, *(s for s in (retrieval_consistency(proposal), agent_confidence(proposal)) if s)]
    weighted = [s.model_copy(update={"weight": weights.get(s.name, 0.0)}) for s in measured]
    if level is Level.ON_UNCERTAINTY and not _has_evidence(weighted):
        weighted.append(failed_signal("no_evidence", "nothing but the agent's own word measured this proposal"))
    found = list(hard) if hard is not None else hard_signals(proposal, policy, now=now, history=history, checks=checks)
    signals = found + weighted
    score = combine(signals)
    threshold = category.threshold if category else None
    route = route_for(level, score=score, threshold=threshold, signals=signals)
    rate = policy.audit_rate_for(proposal.category)
    used = usage or LLMUsage()
    return Assessment(
        proposal_id=proposal_id,
        score=score,
        route=route,
        signals=signals,
        level=level.value,
        threshold=threshold,
        policy_version=policy.version,
        audit=route is Route.AUTO and is_sampled(proposal_id, policy.version, rate),
        audit_rate=rate if route is Route.AUTO else None,
        model=used.model,
        llm_calls=used.calls,
        tokens=used.input_tokens + used.output_tokens,
        cost_usd=used.cost_usd,
    )


def combine(signals: Sequence[Signal]) -> float:
    """The weighted mean of the soft signals (1 when none carries weight), vetoed by any fired hard signal."""
    soft = [s for s in signals if s.kind is SignalKind.SOFT and s.weight > 0]
    total = sum(s.weight for s in soft)
    score = sum(s.value * s.weight for s in soft) / total if total > 0 else 1.0
    veto = math.prod(s.value for s in signals if s.kind is SignalKind.HARD)
    return min(1.0, max(0.0, score * veto))


def route_for(level: Level, *, score: float, threshold: float | None, signals: Sequence[Signal]) -> Route:
    """Routing by level: any hard signal escalates; on_uncertainty acts only above its threshold with
    nothing fired; approve_before always asks."""
    if any(s.fired and s.kind is SignalKind.HARD for s in signals) or level is Level.APPROVE_BEFORE:
        return Route.ESCALATE
    if level is Level.REVIEW_AFTER:
        return Route.REVIEW_AFTER
    if level is Level.AUTONOMOUS:
        return Route.AUTO
    clear = not any(s.fired for s in signals) and threshold is not None and score >= threshold
    return Route.AUTO if clear else Route.ESCALATE


def is_sampled(proposal_id: str, policy_version: str, rate: float) -> bool:
    """Whether an unreviewed action is drawn for audit: a hash of the id, so replays sample the same ones."""
    digest = hashlib.sha256(f"{policy_version}\0{proposal_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _has_evidence(soft: Sequence[Signal]) -> bool:
    return any(s.fired or (s.weight > 0 and s.name != "agent_confidence") for s in soft)


def _unknown_category(name: str, policy: Policy) -> Signal:
    known = ", ".join(sorted(policy.categories))
    return hard("unknown_category", fired=True, reason=f"{name!r} is not a category in the policy ({known})")


def _text(value: Any) -> str:
    return " ".join(str(value).casefold().split()).strip("\"'")


def _equivalent(proposed: Any, derived: Any) -> bool:
    if isinstance(derived, str) and not isinstance(proposed, str):
        with contextlib.suppress(ValueError):
            derived = json.loads(derived)
    numbers = [as_number(proposed), as_number(derived)]
    if numbers[0] is not None and numbers[1] is not None:
        return math.isclose(numbers[0], numbers[1], rel_tol=0.01, abs_tol=1e-9)
    return proposed == derived or _text(proposed) == _text(derived)
