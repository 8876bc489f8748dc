"""What the agent saw and proposed, as ordered pieces, and the "Full context" modal that pages through them.

The card shows the pieces that fit a message; this modal shows every character of every piece, split
into sections of at most 3000 characters and pages of at most `PAGE_BLOCKS` sections, so nothing is
ever silently cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.slack.surfaces.blocks import (
    CONTEXT_MODAL,
    CONTEXT_NEXT,
    CONTEXT_PREVIOUS,
    SECTION_BUDGET,
    button,
    clip,
    code,
    context,
    escape,
    plain,
    section,
    slack_len,
    split_text,
)
from scoring.models import Action, Proposal

PAGE_BLOCKS = 40
PAGE_CHARS = 30_000
SOURCE_LIMIT = 300


@dataclass(frozen=True)
class Piece:
    """One part of the material: a trusted mrkdwn heading and the untrusted text under it."""

    heading: str
    text: str
    as_code: bool = False

    def render(self, text: str) -> str:
        """`text` (all or part of this piece) as mrkdwn: escaped, or in a code block."""
        return code(text) if self.as_code else escape(text)


def action_text(action: Action) -> str:
    """The exact action as a reviewer reads it: name and pretty-printed arguments."""
    args = json.dumps(action.args, indent=2, ensure_ascii=False, default=str)
    return f"{action.name}({args})"


def seen(proposal: Proposal) -> list[Piece]:
    """What the agent saw: the request, each context item with its source, the conversation."""
    pieces = [Piece("*Request*", proposal.input.request)] if proposal.input.request else []
    items = proposal.input.context
    for number, item in enumerate(items, start=1):
        source = f" · from {escape(clip(item.source, SOURCE_LIMIT))}" if item.source else ""
        pieces.append(Piece(f"*Context {number} of {len(items)}*{source}", item.text))
    turns = proposal.input.conversation
    if turns:
        text = "\n".join(f"{turn.role}: {turn.text}" for turn in turns)
        pieces.append(Piece(f"*Conversation* ({len(turns)} turn{'s' if len(turns) != 1 else ''})", text))
    return pieces


def everything(proposal: Proposal) -> list[Piece]:
    """All the material a reviewer may need: what the agent saw, the exact action, its reasons, alternatives."""
    pieces = seen(proposal)
    pieces.append(Piece("*Proposed action* (exact)", action_text(proposal.action), as_code=True))
    if proposal.rationale:
        pieces.append(Piece("*Why* (the agent's reasons)", "\n".join(f"• {r}" for r in proposal.rationale)))
    for number, alternative in enumerate(proposal.alternatives, start=1):
        text = f"{alternative.summary}\n\n{action_text(alternative.action)}"
        pieces.append(Piece(f"*Alternative {number}*", text))
    return pieces


def section_texts(pieces: list[Piece]) -> list[str]:
    """Every piece as section texts of at most `SECTION_BUDGET`, long pieces in numbered parts."""
    texts = []
    for piece in pieces:
        room = SECTION_BUDGET - slack_len(piece.heading) - 30
        parts = split_text(piece.text, room, render=piece.render)
        for number, part in enumerate(parts, start=1):
            label = piece.heading if len(parts) == 1 else f"{piece.heading} (part {number} of {len(parts)})"
            texts.append(f"{label}\n{part}")
    return texts


def context_pages(proposal: Proposal) -> list[list[str]]:
    """The full-context modal's pages: section texts, at most PAGE_BLOCKS and about PAGE_CHARS a page."""
    pages: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in section_texts(everything(proposal)):
        if current and (len(current) >= PAGE_BLOCKS or size + slack_len(text) > PAGE_CHARS):
            pages.append(current)
            current, size = [], 0
        current.append(text)
        size += slack_len(text)
    return [*pages, current]


def context_modal(pid: str, proposal: Proposal, *, page: int = 0) -> dict[str, Any]:
    """One page of everything the agent saw and proposed, with buttons to the previous and next page."""
    pages = context_pages(proposal)
    page = max(0, min(page, len(pages) - 1))
    where = f"page {page + 1} of {len(pages)}" if len(pages) > 1 else "all of it on this page"
    blocks = [context(f"Everything the agent saw and proposed · {where} · proposal `{pid}`", f"ctx:head:{page}")]
    blocks += [section(text, f"ctx:{page}:{index}") for index, text in enumerate(pages[page])]
    nav = []
    if page > 0:
        nav.append(button("← Previous page", CONTEXT_PREVIOUS, str(page - 1)))
    if page < len(pages) - 1:
        nav.append(button(f"Next page ({page + 2} of {len(pages)}) →", CONTEXT_NEXT, str(page + 1)))
    if nav:
        blocks.append({"type": "actions", "block_id": f"ctx:nav:{page}", "elements": nav})
    return {
        "type": "modal",
        "callback_id": CONTEXT_MODAL,
        "private_metadata": pid,
        "title": plain("Full context", 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }
