"""Hard signals: deterministic checks that send a proposal to a human whatever the model says.

Every check has one signature, `(proposal, category, ctx) -> Signal`, and returns a signal whether
or not it fired, so the assessment records what passed as well as what did not. `HARD_SIGNALS` is the
pipeline's list; custom checks from `policy.yaml` run after it (see `run_custom_check`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scoring.models import AgentInput, Proposal, Signal, SignalKind, Strict
from scoring.policy import Category, Policy

_DATE = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)
_MAD_TO_SIGMA = 1.4826
_MIN_SPREAD = 0.25  # in log space: a category whose inputs all have one size still allows about x1.3


class CategoryStats(Strict):
    """What a category's past inputs looked like: robust centre and spread of their size (log scale)."""

    samples: int = 0
    chars_median: float = 0.0
    chars_mad: float = 0.0
    items_median: float = 0.0
    items_mad: float = 0.0

    @classmethod
    def from_inputs(cls, inputs: Iterable[AgentInput]) -> CategoryStats:
        """Summarise past inputs (the shell reads them from the ledger)."""
        sizes = [input_size(item) for item in inputs]
        if not sizes:
            return cls()
        chars = [math.log1p(c) for c, _ in sizes]
        items = [math.log1p(i) for _, i in sizes]
        return cls(
            samples=len(sizes),
            chars_median=statistics.median(chars),
            chars_mad=_mad(chars),
            items_median=statistics.median(items),
            items_mad=_mad(items),
        )


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the proposal: the time, the category's history, the policy."""

    now: datetime
    policy: Policy
    category_name: str
    history: CategoryStats | None = None


Check = Callable[[Proposal, Category, CheckContext], Signal]
CustomCheck = Callable[[Proposal, Category, CheckContext], Signal | str | None]


def hard(name: str, *, fired: bool, reason: str) -> Signal:
    """A hard signal: value 0 when fired (it vetoes the score), 1 when the check passed."""
    return Signal(name=name, kind=SignalKind.HARD, value=0.0 if fired else 1.0, weight=1.0, reason=reason, fired=fired)


def entity_not_found(proposal: Proposal, category: Category, ctx: CheckContext) -> Signal:
    """Fires when a reference in the request resolved to no record at all."""
    missing = [e for e in proposal.entities if not e.matches]
    if missing:
        names = ", ".join(f"{e.reference!r}" + (f" ({e.field})" if e.field else "") for e in missing)
        return hard("entity_not_found", fired=True, reason=f"no record matches {names}")
    count = len(proposal.entities)
    reason = f"all {count} references resolved" if count else "no references to resolve"
    return hard("entity_not_found", fired=False, reason=reason)


def ambiguous_entity(proposal: Proposal, category: Category, ctx: CheckContext) -> Signal:
    """Fires when a reference matched several records, so the agent may have picked the wrong one."""
    for entity in proposal.entities:
        if len(entity.matches) > 1:
            shown = ", ".join(entity.matches[:3]) + (", ..." if len(entity.matches) > 3 else "")
            reason = f"{entity.reference!r} matches {len(entity.matches)} records: {shown}"
            return hard("ambiguous_entity", fired=True, reason=reason)
    return hard("ambiguous_entity", fired=False, reason="every reference matches at most one record")


def required_arg_missing(proposal: Proposal, category: Category, ctx: CheckContext) -> Signal:
    """Fires when an argument the category requires is absent, null or blank."""
    args = proposal.action.args
    missing = [n for n in category.required_args if args.get(n) is None or str(args[n]).strip() == ""]
    if missing:
        which = ", ".join(repr(n) for n in missing)
        return hard("required_arg_missing", fired=True, reason=f"required argument {which} is missing or empty")
    return hard("required_arg_missing", fired=False, reason=f"all {len(category.required_args)} required arguments set")


def stale_context(proposal: Proposal, category: Category, ctx: CheckContext) -> Signal:
    """Fires when the context is older than the category allows, or the proposal refers to a past date
    newer than anything the agent's context or knowledge covers."""
    now = _aware(ctx.now)
    known = [d for item in proposal.input.context for d in find_dates(f"{item.source} {item.text}")]
    newest = max(known, default=None)
    if category.max_age_hours is not None and newest is not None:
        age = now - newest
        if age > timedelta(hours=category.max_age_hours):
            allowed = f"{ctx.category_name} allows {category.max_age_hours:g} h"
            reason = f"newest context is from {newest:%Y-%m-%d}, {_span(age)} old; {allowed}"
            return hard("stale_context", fired=True, reason=reason)
    bounds = [b for b in (newest, _cutoff(ctx.policy.knowledge_cutoff)) if b is not None]
    if bounds:
        window_end = max(bounds)
        claims = " ".join([proposal.input.request, proposal.summary, *proposal.rationale, str(proposal.action.args)])
        past = [d for d in find_dates(claims) if window_end < d and d.date() < now.date()]
        if past:
            reason = f"refers to {max(past):%Y-%m-%d}, after anything its context covers (up to {window_end:%Y-%m-%d})"
            return hard("stale_context", fired=True, reason=reason)
    return hard("stale_context", fired=False, reason="context is within the category's age and knowledge window")


def input_out_of_range(proposal: Proposal, category: Category, ctx: CheckContext) -> Signal:
    """Fires when the input's size or number of items is far outside what the category has seen."""
    chars, items = input_size(proposal.input)
    history, settings = ctx.history, ctx.policy.input_range
    if history is not None and history.samples >= settings.min_samples:
        for what, value, median, mad in (
            ("characters", chars, history.chars_median, history.chars_mad),
            ("context items", items, history.items_median, history.items_mad),
        ):
            low, high = _robust_bounds(median, mad, settings.robust_k)
            if not low <= value <= high:
                reason = f"input has {value:,} {what}; {history.samples} past proposals span {low:,}-{high:,}"
                return hard("input_out_of_range", fired=True, reason=reason)
        return hard("input_out_of_range", fired=False, reason=f"input size typical of {history.samples} past proposals")
    max_chars = category.max_input_chars or ctx.policy.max_input_chars
    max_items = category.max_input_items or ctx.policy.max_input_items
    if chars > max_chars or items > max_items:
        reason = f"input has {chars:,} characters in {items} items; the policy allows {max_chars:,} in {max_items}"
        return hard("input_out_of_range", fired=True, reason=reason)
    return hard("input_out_of_range", fired=False, reason=f"input within the policy's {max_chars:,} characters")


HARD_SIGNALS: tuple[Check, ...] = (
    entity_not_found,
    ambiguous_entity,
    required_arg_missing,
    stale_context,
    input_out_of_range,
)


def run_custom_check(
    path: str, check: CustomCheck | None, proposal: Proposal, category: Category, ctx: CheckContext
) -> Signal:
    """Run a check named in `policy.yaml`, failing closed when it is missing, raises or answers nonsense.

    A custom check returns None when the proposal passes, or a reason string (or a Signal) when it
    must go to a human.
    """
    name = path.rpartition(":")[2]
    if check is None:
        return hard(name, fired=True, reason=f"custom check {path} is not loaded; failing closed")
    try:
        result = check(proposal, category, ctx)
    except Exception as exc:  # a broken check must escalate, not crash or approve
        return hard(name, fired=True, reason=f"custom check {path} raised {type(exc).__name__}: {exc}")
    if result is None:
        return hard(name, fired=False, reason=f"custom check {path} passed")
    if isinstance(result, str):
        return hard(name, fired=True, reason=result)
    if isinstance(result, Signal):
        return result.model_copy(update={"kind": SignalKind.HARD, "weight": 1.0, "value": 0.0 if result.fired else 1.0})
    return hard(
        name, fired=True, reason=f"custom check {path} returned {type(result).__name__}; expected None or a reason"
    )


def amount_above_limit(proposal: Proposal, category: Category, ctx: CheckContext) -> str | None:
    """Example custom check: the action's `amount` exceeds the category's `params.max_amount`."""
    limit: Any = category.params.get("max_amount")
    amount = as_number(proposal.action.args.get("amount"))
    if limit is None or amount is None:
        return None
    if amount > float(limit):
        return f"amount {amount:g} is above the {ctx.category_name} limit of {float(limit):g}"
    return None


def input_size(agent_input: AgentInput) -> tuple[int, int]:
    """Characters and items (context pieces plus conversation turns) of what the agent saw."""
    texts = [agent_input.request, *(c.text for c in agent_input.context), *(t.text for t in agent_input.conversation)]
    return sum(len(t) for t in texts), len(agent_input.context) + len(agent_input.conversation)


def find_dates(text: str) -> list[datetime]:
    """ISO 8601 dates and date-times in free text, as UTC datetimes; impossible dates are skipped."""
    found = []
    for match in _DATE.finditer(text):
        year, month, day, hour, minute, second, zone = match.groups()
        try:
            moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError:
            continue
        found.append(moment.replace(tzinfo=UTC) - _offset(zone))
    return found


def _offset(zone: str | None) -> timedelta:
    if not zone or zone == "Z":
        return timedelta()
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _cutoff(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def _span(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def _mad(values: Sequence[float]) -> float:
    centre = statistics.median(values)
    return statistics.median(abs(v - centre) for v in values)


def _robust_bounds(median: float, mad: float, k: float) -> tuple[int, int]:
    spread = k * max(mad * _MAD_TO_SIGMA, _MIN_SPREAD)
    return max(0, math.floor(math.expm1(median - spread))), math.ceil(math.expm1(median + spread))


def as_number(value: Any) -> float | None:
    """A number from an int, float or numeric string ("$1,200"); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(str(value).replace(",", "").lstrip("$€£"))
    except ValueError:
        return None
