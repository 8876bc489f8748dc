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
from bot.store.category_stats import Windows
from bot.store.ledger import Ledger
from bot.store.rows import DayCount, LabelCounts, SizeHistogram
from scoring.graduation import Evidence, Recommendation, Verdict, Watch, evaluate
from scoring.models import policy_reviewer
from scoring.policy import GraduationPolicy, Level, Policy
from scoring.stats import population_stability, raised_audit_rate


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


def last_promotion(ledger: Ledger, policy: Policy, category: str) -> datetime | None:
    """When the latest applied promotion of `category` (under the policy file's level) took effect, if any."""
    rules = policy.category(category)
    if rules is None or rules.never_graduate:
        return None
    moment = queries.last_promotion(ledger, category, base_level=rules.level.value)
    return datetime.fromisoformat(moment) if moment else None


def effective_level(ledger: Ledger, policy: Policy, category: str) -> Level:
    """The level `category` runs at now (approve_before for a category the policy does not know)."""
    rules = policy.category(category)
    if rules is None:
        return Level.APPROVE_BEFORE
    applied = applied_event(ledger, policy, category)
    return applied.level if applied else rules.level


def effective_policy(ledger: Ledger, policy: Policy, category: str, *, now: datetime | None = None) -> Policy:
    """`policy` with `category` at its effective level, for routing one proposal of that category.

    With `now`, the category's audit rate is also raised when too few actions are audited a day to keep
    its demotion detector fed (`graduation.audits_per_day`).
    """
    rules = policy.category(category)
    if rules is None:
        return policy
    applied = applied_event(ledger, policy, category)
    level = applied.level if applied else rules.level
    update: dict[str, object] = {"level": level} if level != rules.level else {}
    if now is not None and level in (Level.AUTONOMOUS, Level.ON_UNCERTAINTY):
        rate = audit_rate_for(ledger, policy, category, now=now)
        if rate != policy.audit_rate_for(category):
            update["audit_rate"] = rate
    if not update:
        return policy
    moved = rules.model_copy(update=update)
    return policy.model_copy(update={"categories": {**policy.categories, category: moved}})


def audit_rate_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> float:
    """The policy's audit rate, raised so the last week's auto-run volume yields `audits_per_day` audits.

    A category whose audit rate is 0 is never audited: that is an explicit choice, not thin evidence.
    """
    base, wanted = policy.audit_rate_for(category), policy.graduation_for(category).audits_per_day
    if base <= 0 or wanted <= 0:
        return base
    week = queries.auto_run_count(ledger, category, since=iso(now - timedelta(days=7)))
    return raised_audit_rate(base, auto_per_day=week / 7, audits_per_day=wanted)


def windows_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> Windows:
    """Where `category`'s evidence starts: labelled reviews since its last promotion (a demotion is no fresh
    start), the demotion detector since its level began, and the input sizes' reference and recent windows."""
    rules = policy.graduation_for(category)
    applied, promoted = applied_event(ledger, policy, category), last_promotion(ledger, policy, category)
    split = now - timedelta(days=rules.drift_days)
    return Windows(
        labels_since=iso(promoted) if promoted else "",
        watch_since=iso(applied.since) if applied else "",
        sizes_start=iso(split - timedelta(days=rules.reference_days)),
        sizes_split=iso(split),
    )


def evidence_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> Evidence:
    """Count a category's labelled reviews, overrides and active days since its last promotion, and feed its
    demotion detector with each day's labelled actions that ran before review since its level began."""
    windows = windows_for(ledger, policy, category, now=now)
    return evidence_from(
        policy,
        category,
        labels=queries.label_counts(ledger, category, since=windows.labels_since),
        watched=queries.watched_days(ledger, category, since=windows.watch_since),
        sizes=queries.size_histogram(ledger, category, start=windows.sizes_start, split=windows.sizes_split),
    )


def evidence_from(
    policy: Policy, category: str, *, labels: LabelCounts, watched: list[DayCount], sizes: SizeHistogram
) -> Evidence:
    """The evidence of `category` from its counts in the windows of `windows_for`, however they were read."""
    rules = policy.graduation_for(category)
    watch = Watch()
    for day in watched:
        watch = watch.add(day.reviews, day.overrides, rules)
    return Evidence(
        samples=labels.samples,
        overrides=labels.overrides,
        active_days=labels.active_days,
        unreviewed=labels.unreviewed,
        watch=watch,
        drift=_drift(rules, sizes),
    )


def drift_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> float | None:
    """Population stability of proposal sizes: the last `drift_days` against the `reference_days` before."""
    windows = windows_for(ledger, policy, category, now=now)
    sizes = queries.size_histogram(ledger, category, start=windows.sizes_start, split=windows.sizes_split)
    return _drift(policy.graduation_for(category), sizes)


def _drift(rules: GraduationPolicy, sizes: SizeHistogram) -> float | None:
    reference, recent = sizes
    if min(sum(reference.values()), sum(recent.values())) < rules.drift_min_samples:
        return None
    return population_stability(reference, recent)


def verdict_for(ledger: Ledger, policy: Policy, category: str, *, now: datetime) -> Verdict:
    """The graduation verdict of one category of the policy."""
    return verdict_from(ledger, policy, category, evidence_for(ledger, policy, category, now=now))


def verdict_from(ledger: Ledger, policy: Policy, category: str, evidence: Evidence) -> Verdict:
    """The graduation verdict of one category of the policy, given its evidence."""
    level = effective_level(ledger, policy, category)
    return evaluate(category, policy.categories[category], level, evidence, policy.graduation_for(category))


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
