"""Every surface stays inside Slack's limits for extreme input, and nothing is silently cut.

Extreme: a 50,000-character context, 200 arguments, deeply nested arguments, long unicode, and
mrkdwn and mention injection everywhere an agent or a customer can put text. Each surface is checked
with the Slack stand-in's validation (slack_sdk's models plus the limits slack_sdk leaves out).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.sandbox.slack_checks import check_blocks, check_text, check_view
from bot.slack.surfaces import blocks, cards, edits, modals, source_material
from scoring.models import Action, Decision, Outcome, Proposal
from scoring.policy import Category, Level
from tests.factories import EMAIL, INJECTION, assessment, huge, many_args, nested, proposal

UNICODE = "Zoë 😀 مرحبا 漢字 e\u0301 " * 1500
EXTREMES: dict[str, Callable[[], Proposal]] = {
    "context_50k": lambda: proposal(huge(EMAIL)),
    "context_50k_unicode": lambda: proposal(huge(EMAIL, filler=UNICODE)),
    "args_200": lambda: proposal(EMAIL, action={"name": "bulk", "args": many_args(200)}),
    "args_nested": lambda: proposal(EMAIL, action={"name": "deep", "args": nested(50)}),
    "long_unicode": lambda: proposal(
        EMAIL,
        summary=UNICODE[:5000],
        agent="агент-" * 15,
        rationale=[UNICODE[:4000]] * 5,
        input={"request": UNICODE, "conversation": [{"role": "customer", "text": UNICODE}] * 3},
    ),
    "injection": lambda: proposal(
        EMAIL,
        summary=INJECTION,
        agent="<!here>",
        rationale=[INJECTION],
        action={"name": "send_email", "args": {"to": INJECTION, "body": INJECTION}},
        input={"request": INJECTION, "context": [{"source": INJECTION, "text": INJECTION}]},
        alternatives=[{"summary": INJECTION, "action": {"name": INJECTION, "args": {"x": INJECTION}}}],
    ),
    "many_alternatives": lambda: proposal(
        EMAIL,
        alternatives=[
            {"summary": f"Option {n} " + "x" * 300, "action": {"name": "a", "args": {"n": n}}} for n in range(150)
        ],
    ),
}
CATEGORY = Category(level=Level.ON_UNCERTAINTY, required_args=["to"])


def surfaces(p: Proposal) -> dict[str, tuple[Any, Callable[[Any], list[str]]]]:
    """Every surface built from proposal `p`, with the check it must pass."""
    edited = Action(name=p.action.name, args={**p.action.args, "added": INJECTION * 20})
    decided = Decision(
        proposal_id="p",
        outcome=Outcome.EDIT,
        action=edited,
        reviewer="U0A",
        comment=INJECTION * 50,
        decided_at="2026-11-24T10:00:00+00:00",
    )
    found: dict[str, tuple[Any, Callable[[Any], list[str]]]] = {
        "card": (cards.review_card("p", p, assessment("p"), facts=cards.CardFacts(irreversible=True)), check_blocks),
        "fallback": (cards.fallback_text(p, "p"), check_text),
        "final": (cards.final_card("p", p, decided, posted_at=0.0), check_blocks),
        "moved": (cards.handed_card("p", p, by="U0A", to="<#C0OPS>"), check_blocks),
        "edit": (edits.edit_modal("p", p, CATEGORY, channel="C0"), check_view),
        "reject": (modals.reject_modal("p", p, reasons=[INJECTION * 5] * 120, channel="C0"), check_view),
        "alternative": (modals.alternative_modal("p", p, channel="C0"), check_view),
        "redirect": (modals.redirect_modal("p", p, channel="C0"), check_view),
    }
    for number in range(len(source_material.context_pages(p))):
        found[f"context page {number + 1}"] = (source_material.context_modal("p", p, page=number), check_view)
    return found


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_every_surface_stays_within_slacks_limits(name: str) -> None:
    """Cards, final cards, every modal and every full-context page pass Slack's validation for extreme input."""
    for surface, (built, check) in surfaces(EXTREMES[name]()).items():
        assert check(built) == [], f"{name}: {surface} breaks Slack's limits"


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_full_context_pages_hold_every_character(name: str) -> None:
    """Nothing is silently cut: the full-context pages, read in order, give back every piece exactly."""
    p = EXTREMES[name]()
    texts = [t for page in source_material.context_pages(p) for t in page]
    for piece in source_material.everything(p):
        parts = [t.partition("\n")[2] for t in texts if _heading(t.partition("\n")[0]) == piece.heading]
        rendered = "".join(_uncode(part) if piece.as_code else part for part in parts)
        assert _unescape(rendered) == piece.text, f"{name}: {piece.heading} is not complete"


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_a_cut_card_offers_full_context(name: str) -> None:
    """When the card could not show everything, it says so and has a Full context button."""
    p = EXTREMES[name]()
    card = cards.review_card("p", p, assessment("p"))
    buttons = [e["action_id"] for b in card if b["type"] == "actions" for e in b["elements"]]
    shown = json.dumps(card, ensure_ascii=False)
    if "more characters" in shown or "more part" in shown:
        assert blocks.FULL_CONTEXT in buttons
        assert "Full context" in shown


def test_untrusted_text_cannot_mention_link_or_break_code() -> None:
    """With injection in every field, the only mentions, links and code fences are handoff's own."""
    p = EXTREMES["injection"]()
    for surface, (built, _) in surfaces(p).items():
        for text in _mrkdwn_texts(built):
            assert not re.search(r"<(?!@U0A>|#C0OPS>|!date\^)", text), f"{surface}: {text[:200]}"
            assert "@here" not in text, surface
            assert "@channel" not in text, surface
            assert text.count("```") % 2 == 0, f"{surface}: unbalanced code fence"
        assert all(t.get("verbatim") is True for t in _text_objects(built) if t["type"] == "mrkdwn"), surface


def test_edit_modal_keeps_what_it_cannot_show_and_says_so() -> None:
    """Beyond 80 arguments the rest are JSON inputs; a value too long for an input is kept and named."""
    p = proposal(EMAIL, action={"name": "bulk", "args": {**many_args(200), "essay": "x" * 4000}})
    view = edits.edit_modal("p", p, CATEGORY, channel="C0")
    ids = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert ids[: edits.MAX_FIELDS] == [f"arg:{n}" for n in range(edits.MAX_FIELDS)]
    assert ids[edits.MAX_FIELDS] == "arg:rest:0"
    assert ids[-1] == blocks.NOTE_BLOCK
    assert check_view(view) == []
    rest = next(b for b in view["blocks"] if b["block_id"] == "arg:rest:0")["element"]["initial_value"]
    changed = {**json.loads(rest), "arg_199": "changed"}
    args, _ = edits.parse_edit({"arg:rest:0": {blocks.ARG_INPUT: {"value": json.dumps(changed)}}}, p, CATEGORY)
    assert args == {**p.action.args, "arg_199": "changed"}
    kept = next(b for b in view["blocks"] if b.get("block_id") == "kept")
    assert "`essay` (4,000 characters)" in kept["text"]["text"]
    args, errors = edits.parse_edit({}, p, CATEGORY)
    assert (args, errors) == (p.action.args, {})


def _heading(line: str) -> str:
    return re.sub(r" \(part \d+ of \d+\)$", "", line)


def _uncode(part: str) -> str:
    assert part.startswith("```")
    assert part.endswith("```")
    return part[3:-3]


def _unescape(text: str) -> str:
    text = text.replace("\u200b`\u200b", "`").replace("@\u200b", "@").replace("\u02cb", "`")
    text = text.translate(str.maketrans({"\u2217": "*", "\u02cd": "_", "\u223c": "~"}))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [t for item in node for t in _text_objects(item)]
    if isinstance(node, dict):
        own = [node] if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str) else []
        return own + [t for value in node.values() for t in _text_objects(value)]
    return []


def _mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    return [t["text"] for t in _text_objects(node) if t["type"] == "mrkdwn"]


def test_alternative_picker_offers_slacks_hundred_choices() -> None:
    """With 150 alternatives the picker offers the first 100 (Slack's maximum), and the 100th can be picked."""
    p = EXTREMES["many_alternatives"]()
    view = modals.alternative_modal("p", p, channel="C0")
    picker = next(b for b in view["blocks"] if b.get("block_id") == blocks.PICK_BLOCK)["element"]
    assert len(picker["options"]) == 100
    assert len(view["blocks"]) <= 100
    values = {blocks.PICK_BLOCK: {blocks.PICK_INPUT: {"selected_option": picker["options"][-1]}}}
    picked, errors = modals.parse_alternative(values, p)
    assert (picked, errors) == (p.alternatives[99], {})
