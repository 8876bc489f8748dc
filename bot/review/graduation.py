"""Graduation in the shell: count each category's evidence in the ledger, judge it, record the result.

`effective_level` is the level a category runs at: the policy file's, overridden by the latest applied
promotion or demotion recorded while the file still said the same level. `graduate` evaluates every
category: demotions apply at once, promotions are proposed to the policy's owners (or applied, with
`--apply` or `graduation.auto_apply`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.store import queries
from bot.store.ledger import Ledger
from scoring.graduation import Evidence, Recommendation, Verdict, evaluate
from scoring.models import policy_reviewer
from scoring.policy import Level, Policy
from scoring.stats import population_stability


@dataclass(frozen=True)
class Applied:
    """The latest applied promotion or demotion of a category: its level and since when."""

    level: Level
    since: datetime


def iso(moment: datetime) -> str:
    """A datetime in the ledger's time format, so string comparison in SQL orders correctly."""
    return moment.isoformat(timespec="milliseconds")


def applied_event(ledger: Ledger, policy: Policy, category: str) -> Applied | None:
    """The promotion or demotion in force for `category`, or None when the policy file's level rules."""
    rules = policy.category(category)
    if rules is None or rules.never_graduate:
        return None
    row = queries.applied_level(ledger, category, base_level=rules.level.value)
    return Applied(Level(row.to_level), datetime.fromisoformat(row.decided_at)) if row else None


def effective_level(ledger: Ledger, policy: Policy, category: str) -> Level:
    """The level `category` runs at now (approve_before for a category the policy does not know)."""
    rules = policy.category(category)
    if rules is None:
        return Level.APPROVE_BEFORE
    applied = applied_event(ledger, policy, category)
    return applied.level if applied else rules.level


def effective_policy(ledger: Ledger, policy: Policy, category: str) -> Policy:
    """`policy` with `category` at its effective level, for routing one proposal of that category."""
    rules = policy.category(category)
    applied = applied_event(ledger, policy, category)
    if rules is None or applied is None or applied.level == rules.level:
        return policy
    moved = rules.model_copy(update={"level": applied.level})
    return policy.model_copy(update={"categories": {**policy.categories, category: moved}})


def evidence_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> Evidence:
    """Count a category's labelled reviews and overrides since its level began, and its input drift."""
    rules = policy.graduation_for(category)
    applied = applied_event(ledger, policy, category)
    since = iso(applied.since) if applied else ""
    recent = max(since, iso(now - timedelta(days=rules.demote_window_days)))
    counts = queries.label_counts(ledger, category, since=since, recent=recent)
    return Evidence(
        samples=counts.samples,
        overrides=counts.overrides,
        since=applied.since if applied else None,
        first_sample_at=datetime.fromisoformat(counts.first_sample_at) if counts.first_sample_at else None,
        recent_samples=counts.recent_samples,
        recent_overrides=counts.recent_overrides,
        drift=drift_for(ledger, policy, category, now=now),
    )


def drift_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> float | None:
    """Population stability of proposal sizes: the last `drift_days` against the `reference_days` before."""
    rules = policy.graduation_for(category)
    split = now - timedelta(days=rules.drift_days)
    start = split - timedelta(days=rules.reference_days)
    reference, recent = queries.size_histogram(ledger, category, start=iso(start), split=iso(split))
    if min(sum(reference.values()), sum(recent.values())) < rules.drift_min_samples:
        return None
    return population_stability(reference, recent)


def verdict_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> Verdict:
    """The graduation verdict of one category of the policy."""
    rules = policy.categories[category]
    evidence = evidence_for(ledger, policy, category, now=now)
    level = effective_level(ledger, policy, category)
    return evaluate(category, rules, level, evidence, policy.graduation_for(category), now=now)


@dataclass(frozen=True)
class Step:
    """What `graduate` did about one verdict: `applied`, `proposed` (event `seq`), `pending` or `none`."""

    verdict: Verdict
    action: str
    seq: int | None = None


def graduate(ledger: Ledger, policy: Policy, *, now: datetime, apply: bool = False, actor: str = "cli") -> list[Step]:
    """Evaluate every category: apply demotions, propose (or apply) promotions; returns what happened."""
    steps = []
    for name in sorted(policy.categories):
        verdict = verdict_for(ledger, policy, name, now=now)
        if verdict.recommendation is Recommendation.HOLD or verdict.target is None:
            steps.append(Step(verdict, "none"))
            continue
        levels = (verdict.level.value, verdict.target.value, policy.categories[name].level.value)
        kind = verdict.recommendation.value
        if verdict.recommendation is Recommendation.DEMOTE or apply or policy.graduation_for(name).auto_apply:
            who = (
                policy_reviewer("graduation")
                if verdict.recommendation is Recommendation.DEMOTE and not apply
                else actor
            )
            seq = ledger.record_policy_event(name, kind=kind, levels=levels, reason=verdict.reason, actor=who)
            steps.append(Step(verdict, "applied", seq))
            continue
        open_seq = open_proposal(ledger, name, verdict.target)
        if open_seq is not None:
            steps.append(Step(verdict, "pending", open_seq))
            continue
        seq = ledger.record_policy_event(name, kind=kind, levels=levels, reason=verdict.reason)
        steps.append(Step(verdict, "proposed", seq))
    return steps


def open_proposal(ledger: Ledger, category: str, target: Level) -> int | None:
    """The number of a still-proposed promotion of `category` to `target`, if one is waiting."""
    return queries.open_promotion(ledger, category, target.value)
