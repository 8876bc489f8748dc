"""Precedents on a review card: one line on how the category's similar past proposals went, and the
"Similar cases" modal with the most similar ones (see docs/precedents.md).

Reviewers' comments and agents' argument values are untrusted: every one is escaped and clipped.
"""

from __future__ import annotations

from typing import Any

from bot.slack.surfaces.blocks import PRECEDENTS, button, clip, context, escape, mention, plain, section, when
from scoring.precedents import Precedent, Precedents

SIMILAR_CASES_MODAL = "handoff_similar_cases_modal"
REASON_SHOWN = 100
VALUE_SHOWN = 40
OUTCOME_ORDER = ("approve", "edit", "alternative", "redirect", "reject")
OUTCOME_WORDS = {
    "approve": "approved",
    "edit": "edited",
    "alternative": "alternative chosen",
    "redirect": "sent back",
    "reject": "rejected",
}


def precedent_line(found: Precedents, *, action: str) -> str:
    """E.g. "14 similar: 12 approved, 1 edited (`amount` 120 → 100), 1 rejected — 'wrong customer'"."""
    name = f"`{escape(clip(action, 60))}`"
    if found.compared == 0:
        return f":books: *Precedents:* no {name} of this category decided by a person yet"
    scope = f"of the last {found.compared} decided" if found.window_full else f"of {found.compared} decided"
    if found.similar == 0:
        return f":books: *Precedents:* none similar {scope} {name} proposals"
    parts = [_outcome_part(found, outcome) for outcome in OUTCOME_ORDER if found.outcomes.get(outcome)]
    return f":books: *Precedents:* {found.similar} similar ({scope} {name}): " + ", ".join(parts)


def _outcome_part(found: Precedents, outcome: str) -> str:
    part = f"{found.outcomes[outcome]} {OUTCOME_WORDS[outcome]}"
    if outcome == "edit" and found.latest_change is not None:
        part += f" ({_change(found.latest_change)})"
    reason = found.latest_reasons.get(outcome)
    if reason and outcome in ("reject", "redirect"):
        part += f" — '{escape(clip(reason, REASON_SHOWN))}'"
    return part


def _change(change: tuple[str, str, str]) -> str:
    path, before, after = (escape(clip(text.replace("\n", " "), VALUE_SHOWN)) for text in change)
    return f"`{path}` {before} → {after}"


def precedent_blocks(pid: str, found: Precedents | None, *, action: str, revision: int) -> list[dict[str, Any]]:
    """The card's precedents section, with a "Similar cases" button when there is one to open; nothing when
    no proposal of its category and action was decided by a person yet (a new deployment's cards stay short)."""
    if found is None or found.compared == 0:
        return []
    block = section(precedent_line(found, action=action), f"prec:{pid}:{revision}")
    if found.top:
        block["accessory"] = button(f"Similar cases ({len(found.top)})", PRECEDENTS, pid)
    return [block]


def similar_cases_modal(pid: str, found: Precedents, *, action: str) -> dict[str, Any]:
    """The most similar decided cases, each with its outcome, who, when, how similar and what was said."""
    blocks: list[dict[str, Any]] = [context(precedent_line(found, action=action), "sim:head")]
    for number, precedent in enumerate(found.top, start=1):
        blocks.append(section(_case_text(number, precedent), f"sim:{number}"))
    if not found.top:
        blocks.append(section("_No similar decided proposal to show._", "sim:none"))
    how = f"Similar to proposal `{escape(pid)}`: same category and action, fields that agree (docs/precedents.md)"
    blocks.append(context(how, "sim:how"))
    return {
        "type": "modal",
        "callback_id": SIMILAR_CASES_MODAL,
        "private_metadata": pid,
        "title": plain("Similar cases", 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }


def _case_text(number: int, precedent: Precedent) -> str:
    case = precedent.case
    words = OUTCOME_WORDS.get(case.outcome, escape(case.outcome))
    lines = [
        f"*{number}. {words.capitalize()}* by {mention(case.reviewer)} {when(case.decided_at)}"
        f" · {round(100 * precedent.score)}% similar · proposal `{escape(clip(case.proposal_id, 64))}`"
    ]
    lines += [f"• {_change(change)}" for change in case.changes]
    if case.reason:
        lines.append(f"• said: '{escape(clip(case.reason, 500))}'")
    compared = [f"`{escape(clip(name, 60))}` {_value(value)}" for name, value in list(case.features.items())[:8]]
    if compared:
        lines.append("• compared on: " + " · ".join(compared))
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return escape(clip(str(value).replace("\n", " "), 200))
