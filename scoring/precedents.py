"""Precedents: how a category's similar past proposals went, for the reviewer of a new one.

A past proposal is a precedent of a new one when both have the same category and action name and their
match score (`match_score`) reaches `SIMILAR_AT`. The score compares the two proposals field by field:
each argument, plus one field for the entities the agent resolved. Pure: the store keeps each decided
proposal's `features` and hands candidates here; docs/precedents.md says the same in words.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scoring.diff import action_diff
from scoring.models import Action, Decision, Outcome, Proposal

SIMILAR_AT = 0.5  # a precedent agrees on at least half of what the two proposals say
SHORT_TEXT = 40  # up to this many characters a text must match exactly; longer texts compare by words
VALUE_CHARS = 500  # what the store keeps of each value: enough to compare, bounded in size
REASON_CHARS = 200
CHANGES_KEPT = 3
ENTITIES = "@entities"  # the entities' field name: no argument name starts with @ in practice
HUMAN_OUTCOMES = frozenset({Outcome.APPROVE, Outcome.EDIT, Outcome.REJECT, Outcome.ALTERNATIVE, Outcome.REDIRECT})
_WORD = re.compile(r"\w+")

Value = str | float | list[str] | None


@dataclass(frozen=True)
class PastCase:
    """One decided proposal as the store keeps it for precedents."""

    proposal_id: str
    outcome: str
    reviewer: str
    decided_at: str
    features: dict[str, Value]
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (argument, before, after) of an edit
    reason: str = ""  # the reviewer's comment: the rejection reason, the instruction of a redirect


@dataclass(frozen=True)
class Precedent:
    """A past case and how similar it is to the new proposal, in [0, 1]."""

    case: PastCase
    score: float


@dataclass(frozen=True)
class Precedents:
    """What the card says: how many similar cases, how they went, the most similar ones first."""

    similar: int
    compared: int  # how many decided cases of the same category and action were compared
    window_full: bool  # True when `compared` hit the window: older cases were not looked at
    outcomes: dict[str, int]
    latest_change: tuple[str, str, str] | None
    latest_reasons: dict[str, str]  # outcome -> the most recent comment a person gave with it
    top: list[Precedent]


def is_human_decision(decision: Decision) -> bool:
    """Whether a decision is a person's judgement worth showing as a precedent (not policy, rule or timer)."""
    return decision.outcome in HUMAN_OUTCOMES and ":" not in decision.reviewer


def normalize(value: Any) -> Value:
    """One argument value as the match score compares it: numbers as floats, text folded, others as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, str):
        return " ".join(value.casefold().split())[:VALUE_CHARS]
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)[:VALUE_CHARS].casefold()


def features(proposal: Proposal) -> dict[str, Value]:
    """The fields a proposal is compared on: each argument, and the ids its entities resolved to.

    An argument whose value is one of those ids is left to the entities field, so a customer named both
    as an entity and as an argument counts once."""
    resolved = sorted({match.casefold() for entity in proposal.entities for match in entity.matches})[:20]
    found: dict[str, Value] = {}
    for name, value in proposal.action.args.items():
        if isinstance(value, str) and value.casefold() in resolved:
            continue
        found[name[:100]] = normalize(value)
    if resolved:
        found[ENTITIES] = [r[:100] for r in resolved]
    return found


def field_match(a: Value, b: Value) -> float:
    """How much two values of one field agree, in [0, 1] (see docs/precedents.md)."""
    if isinstance(a, list) and isinstance(b, list):
        union = set(a) | set(b)
        return len(set(a) & set(b)) / len(union) if union else 1.0
    if isinstance(a, float) and isinstance(b, float):
        if a == b:
            return 1.0
        return max(0.0, 1.0 - abs(a - b) / max(abs(a), abs(b)))
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return 1.0
        if len(a) <= SHORT_TEXT or len(b) <= SHORT_TEXT:
            return 0.0
        words_a, words_b = set(_WORD.findall(a)), set(_WORD.findall(b))
        union = words_a | words_b
        return len(words_a & words_b) / len(union) if union else 0.0
    return 1.0 if a is None and b is None else 0.0


def match_score(new: dict[str, Value], past: dict[str, Value]) -> float:
    """The mean field match over every field either proposal has (1.0 when neither has any)."""
    names = set(new) | set(past)
    if not names:
        return 1.0
    total = sum(field_match(new[n], past[n]) if n in new and n in past else 0.0 for n in names)
    return total / len(names)


def edit_changes(proposed: Action, final: Action | None) -> list[tuple[str, str, str]]:
    """The first few arguments a reviewer changed, as (path, before, after) texts."""
    if final is None:
        return []
    changes = []
    for change in action_diff(proposed, final)[:CHANGES_KEPT]:
        path = change.path.removeprefix("args.")
        changes.append((path[:100], _shown(change.before), _shown(change.after)))
    return changes


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:100]


def summarize(new: dict[str, Value], cases: list[PastCase], *, window: int, top: int = 3) -> Precedents:
    """The precedents of a proposal with `new` features among `cases` (newest first, at most `window`)."""
    scored = [Precedent(case, match_score(new, case.features)) for case in cases]
    similar = [p for p in scored if p.score >= SIMILAR_AT]
    outcomes = Counter(p.case.outcome for p in similar)
    change = next((p.case.changes[0] for p in similar if p.case.outcome == Outcome.EDIT and p.case.changes), None)
    reasons: dict[str, str] = {}
    for p in similar:
        if p.case.reason and p.case.outcome not in reasons:
            reasons[p.case.outcome] = p.case.reason
    best = sorted(similar, key=lambda p: -p.score)[:top]  # stable: among equals, the newest first
    return Precedents(
        similar=len(similar),
        compared=len(cases),
        window_full=len(cases) >= window,
        outcomes=dict(outcomes),
        latest_change=change,
        latest_reasons=reasons,
        top=best,
    )


def record_of(proposal: Proposal, decision: Decision) -> dict[str, str] | None:
    """What the store keeps of a decided proposal for precedents, as columns; None when it is no precedent."""
    if not is_human_decision(decision):
        return None
    changes = edit_changes(proposal.action, decision.action) if decision.outcome is Outcome.EDIT else []
    return {
        "proposal_id": decision.proposal_id,
        "category": proposal.category,
        "action": proposal.action.name,
        "outcome": decision.outcome.value,
        "reviewer": decision.reviewer,
        "decided_at": decision.decided_at,
        "features": json.dumps(features(proposal), ensure_ascii=False),
        "changes": json.dumps(changes, ensure_ascii=False),
        "reason": decision.comment[:REASON_CHARS],
    }


def case_of(row: tuple[str, str, str, str, str, str, str]) -> PastCase:
    """A stored precedent row (id, outcome, reviewer, decided_at, features, changes, reason) as a `PastCase`."""
    pid, outcome, reviewer, decided_at, features_json, changes_json, reason = row
    changes = [(str(a), str(b), str(c)) for a, b, c in json.loads(changes_json)]
    return PastCase(pid, outcome, reviewer, decided_at, json.loads(features_json), changes, reason)
