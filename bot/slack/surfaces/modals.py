"""The decision modals besides Edit: Reject (canned and free reasons), Alternative, Redirect; and their parsers.

Each modal carries `pid|channel` in private_metadata (ids only). Each parser returns what the reviewer
chose, or errors keyed by the input block they belong to, for a `response_action: errors` ack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.slack.surfaces.blocks import (
    ALTERNATIVE_MODAL,
    CANNED_BLOCK,
    CANNED_INPUT,
    CHANNEL_BLOCK,
    CHANNEL_INPUT,
    INSTRUCTION_BLOCK,
    INSTRUCTION_INPUT,
    NOTE_BLOCK,
    NOTE_INPUT,
    NOTE_MAX,
    PERSON_BLOCK,
    PERSON_INPUT,
    PICK_BLOCK,
    PICK_INPUT,
    REASON_BLOCK,
    REASON_INPUT,
    REASON_MAX,
    REDIRECT_MODAL,
    REJECT_MODAL,
    SECTION_BUDGET,
    clip_rendered,
    code,
    input_block,
    option,
    plain,
    section,
)
from bot.slack.surfaces.source_material import action_text
from scoring.models import Alternative, Proposal

MAX_CHOICES = 100  # alternatives the picker offers: Slack's limit on a static_select's options
MAX_LISTED = 40  # of those, shown in full as sections (a modal holds 100 blocks); all are in Full context
Errors = dict[str, str]


def _modal(callback_id: str, metadata: str, title: str, submit: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def _text(action_id: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": action_id, "multiline": True, "max_length": limit}


def _value(values: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    state = values.get(block_id, {}).get(action_id)
    return state if isinstance(state, dict) else {}


def _summary(label: str, proposal: Proposal) -> dict[str, Any]:
    return section(f"*{label}:* {clip_rendered(proposal.summary, 1000)}", "summary")


def reject_modal(pid: str, proposal: Proposal, *, reasons: list[str], channel: str) -> dict[str, Any]:
    """The modal asking why a proposal is rejected: a canned reason from policy and/or free text."""
    blocks = [_summary("Rejecting", proposal)]
    if reasons:
        options = [option(reason, str(n)) for n, reason in enumerate(reasons[:100])]
        select = {"type": "static_select", "action_id": CANNED_INPUT, "options": options}
        blocks.append(input_block(CANNED_BLOCK, "Reason", select, optional=True))
    label = "Details (sent to the agent)" if reasons else "Reason (sent to the agent)"
    blocks.append(input_block(REASON_BLOCK, label, _text(REASON_INPUT, REASON_MAX), optional=bool(reasons)))
    return _modal(REJECT_MODAL, f"{pid}|{channel}", "Reject proposal", "Reject", blocks)


def parse_reject(values: dict[str, Any], reasons: list[str]) -> tuple[str, Errors]:
    """The reason the agent receives (canned, free text, or "canned: free text"), or errors."""
    picked = _value(values, CANNED_BLOCK, CANNED_INPUT).get("selected_option") or {}
    index = str(picked.get("value", ""))
    canned = reasons[int(index)] if index.isdigit() and int(index) < len(reasons) else ""
    free = str(_value(values, REASON_BLOCK, REASON_INPUT).get("value") or "").strip()
    if not canned and not free:
        return "", {REASON_BLOCK: "Pick a reason or say why, so the agent can do better."}
    if len(free) > REASON_MAX:
        return "", {REASON_BLOCK: f"Keep it under {REASON_MAX} characters."}
    return (f"{canned}: {free}" if canned and free else canned or free), {}


def alternative_modal(pid: str, proposal: Proposal, *, channel: str) -> dict[str, Any]:
    """Every alternative the agent considered, with its summary and exact action, and a picker."""
    blocks = [_summary("Instead of", proposal)]
    offered = proposal.alternatives[:MAX_CHOICES]
    listed = offered[:MAX_LISTED]
    for number, alternative in enumerate(listed, start=1):
        summary = clip_rendered(alternative.summary, 800)
        room = SECTION_BUDGET - len(summary) - 20
        exact = clip_rendered(action_text(alternative.action), room, render=code, more="; all of it in Full context")
        blocks.append(section(f"*{number}.* {summary}\n{exact}", f"alt:{number}"))
    if len(proposal.alternatives) > len(listed):
        blocks.append(section(_more_alternatives(len(listed), len(offered), len(proposal.alternatives)), "alt:more"))
    options = [option(f"{n}. {a.summary}", str(n - 1)) for n, a in enumerate(offered, start=1)]
    picker = {"type": "static_select", "action_id": PICK_INPUT, "options": options}
    blocks.append(input_block(PICK_BLOCK, "Use this alternative", picker, optional=False))
    blocks.append(input_block(NOTE_BLOCK, "Note to the agent", _text(NOTE_INPUT, NOTE_MAX), optional=True))
    return _modal(ALTERNATIVE_MODAL, f"{pid}|{channel}", "Pick an alternative", "Use it", blocks)


def _more_alternatives(listed: int, offered: int, total: int) -> str:
    """What the modal says about the alternatives it does not show in full."""
    text = f"_Alternatives {listed + 1} to {offered} are in the picker below; their exact actions are in Full context."
    if total > offered:
        text += f" {total - offered} more are only in Full context, past Slack's {MAX_CHOICES} choices."
    return text + "_"


def parse_alternative(values: dict[str, Any], proposal: Proposal) -> tuple[Alternative | None, Errors]:
    """The alternative picked in the modal, or an error at the picker."""
    picked = _value(values, PICK_BLOCK, PICK_INPUT).get("selected_option") or {}
    index = str(picked.get("value", ""))
    if index.isdigit() and int(index) < min(len(proposal.alternatives), MAX_CHOICES):
        return proposal.alternatives[int(index)], {}
    return None, {PICK_BLOCK: "Pick one of the alternatives."}


@dataclass(frozen=True)
class Redirect:
    """Where a reviewer sent a review: to a `person` or `channel` (still pending) or back to the `agent`."""

    kind: str
    target: str


def redirect_modal(pid: str, proposal: Proposal, *, channel: str) -> dict[str, Any]:
    """Hand the review to a person or a channel, or send it back to the agent with an instruction."""
    intro = (
        "Choose one. A person or a channel takes over the review, which stays open; "
        "an instruction goes back to the agent as the decision, and nothing runs."
    )
    person = {"type": "users_select", "action_id": PERSON_INPUT}
    place = {"type": "conversations_select", "action_id": CHANNEL_INPUT, "filter": {"include": ["public", "private"]}}
    blocks = [
        _summary("Redirecting", proposal),
        section(intro, "how"),
        input_block(PERSON_BLOCK, "Hand it to a person", person, optional=True),
        input_block(CHANNEL_BLOCK, "Or move it to a channel", place, optional=True),
        input_block(
            INSTRUCTION_BLOCK,
            "Or send it back to the agent with an instruction",
            _text(INSTRUCTION_INPUT, NOTE_MAX),
            optional=True,
        ),
    ]
    return _modal(REDIRECT_MODAL, f"{pid}|{channel}", "Redirect review", "Redirect", blocks)


def parse_redirect(values: dict[str, Any]) -> tuple[Redirect | None, Errors]:
    """Exactly one of person, channel or instruction; errors say which to keep."""
    person = str(_value(values, PERSON_BLOCK, PERSON_INPUT).get("selected_user") or "")
    place = str(_value(values, CHANNEL_BLOCK, CHANNEL_INPUT).get("selected_conversation") or "")
    instruction = str(_value(values, INSTRUCTION_BLOCK, INSTRUCTION_INPUT).get("value") or "").strip()
    chosen = [(k, v) for k, v in (("person", person), ("channel", place), ("agent", instruction)) if v]
    if not chosen:
        return None, {PERSON_BLOCK: "Pick a person, a channel, or write an instruction for the agent."}
    if len(chosen) > 1:
        block = {"person": PERSON_BLOCK, "channel": CHANNEL_BLOCK, "agent": INSTRUCTION_BLOCK}[chosen[1][0]]
        return None, {block: "Choose only one: a person, a channel, or an instruction."}
    kind, target = chosen[0]
    if kind == "person" and not re.fullmatch(r"[UW][A-Z0-9]+", target):
        return None, {PERSON_BLOCK: "That is not a Slack user."}
    if kind == "channel" and not re.fullmatch(r"[CGD][A-Z0-9]+", target):
        return None, {CHANNEL_BLOCK: "That is not a Slack channel."}
    return Redirect(kind, target), {}


def split_metadata(metadata: str) -> tuple[str, str]:
    """(proposal id, channel of the card) from a decision modal's private_metadata."""
    pid, _, channel = metadata.partition("|")
    return pid, channel
