"""Re-routing a stored assessment under another policy, for `handoff replay`: no LLM, no clock.

The stored signals are reweighted with the new policy's weights, the score recombined and routed with
the pipeline's own `route_for` at the new level and threshold. Hard signals are kept as they fired
(custom checks and input history cannot be re-run faithfully), except `unknown_category`, which is
re-decided against the new policy's categories.
"""

from __future__ import annotations

from scoring.models import Assessment, Route, Signal, SignalKind
from scoring.pipeline import combine, failed_signal, is_sampled, route_for
from scoring.policy import SOFT_SIGNALS, Level, Policy


def reroute(assessment: Assessment, category: str, policy: Policy) -> tuple[Route, bool]:
    """The route the assessment would get under `policy`, and whether it would be drawn for audit."""
    rules = policy.category(category)
    level = rules.level if rules else Level.APPROVE_BEFORE
    weights = policy.weights_for(category)
    signals = [_reweighted(s, weights) for s in assessment.signals if s.name != "unknown_category" or rules is None]
    if level is Level.ON_UNCERTAINTY and not _has_evidence(signals):
        signals.append(failed_signal("no_evidence", "nothing but the agent's own word measured this proposal"))
    route = route_for(level, score=combine(signals), threshold=rules.threshold if rules else None, signals=signals)
    audit = route is Route.AUTO and is_sampled(assessment.proposal_id, policy.version, policy.audit_rate_for(category))
    return route, audit


def _reweighted(signal: Signal, weights: dict[str, float]) -> Signal:
    if signal.kind is SignalKind.SOFT and signal.name in SOFT_SIGNALS and not signal.fired:
        return signal.model_copy(update={"weight": weights.get(signal.name, 0.0)})
    return signal


def _has_evidence(signals: list[Signal]) -> bool:
    soft = [s for s in signals if s.kind is SignalKind.SOFT]
    return any(s.fired or (s.weight > 0 and s.name != "agent_confidence") for s in soft)
