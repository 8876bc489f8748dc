"""The review-after message: what an action that ran unreviewed did, why, and its "Looks right" and
"Flag as wrong" buttons (or the answer once someone gave one)."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.surfaces.blocks import HEADER_LIMIT, SECTION_LIMIT, clip, code, escape
from scoring.models import Assessment, Proposal

FLAG = "handoff_flag_wrong"
LOOKS_RIGHT = "handoff_looks_right"
ACTION_IDS = (FLAG, LOOKS_RIGHT)


def flag_card(
    pid: str,
    proposal: Proposal,
    assessment: Assessment,
    *,
    flagged_by: str | None = None,
    confirmed_by: str | None = None,
) -> list[dict[str, Any]]:
    """The message for an action that ran unreviewed: what it did, why it ran, and its buttons (or the answer)."""
    revision = 3 if flagged_by else 2 if confirmed_by else 1
    kind = "Audit sample" if assessment.audit else "Ran without review"
    header = clip(f"{kind}: {proposal.category} from {proposal.agent}", HEADER_LIMIT)
    why = (
        "sampled for audit: it ran on its own; check it, then say it looks right or flag it"
        if assessment.audit
        else "this category acts first and is reviewed afterwards; say it looks right or flag it"
    )
    args = json.dumps(proposal.action.args, indent=2, ensure_ascii=False, default=str)
    did = code(clip(f"{proposal.action.name}({args})", SECTION_LIMIT - 400))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": f"rah:{pid}:{revision}", "text": {"type": "plain_text", "text": header}},
        _section(f"*Request*\n{escape(proposal.input.request) or '_none given_'}", f"rain:{pid}:{revision}"),
        _section(f"*Did:* {escape(proposal.summary)}\n{did}", f"raact:{pid}:{revision}"),
        _section(f"*Why no one was asked first:* score {assessment.score:.2f}; {why}", f"rawhy:{pid}:{revision}"),
    ]
    if flagged_by:
        blocks.append(_section(f"*Flagged as wrong* by <@{flagged_by}>: counted as an override", f"raf:{pid}:3"))
    else:
        buttons = [_button("Flag as wrong", FLAG, pid, style="danger")]
        if confirmed_by:
            note = f"*Looks right* to <@{confirmed_by}>: counted as a clean review"
            blocks.append(_section(note, f"raok:{pid}:{revision}"))
        else:
            buttons.insert(0, _button("Looks right", LOOKS_RIGHT, pid, style="primary"))
        blocks.append({"type": "actions", "block_id": f"raflag:{pid}:{revision}", "elements": buttons})
    context = f"proposal `{pid}` · policy {assessment.policy_version}"
    elements = [{"type": "mrkdwn", "text": context}]
    blocks.append({"type": "context", "block_id": f"raid:{pid}:{revision}", "elements": elements})
    return blocks


def _button(text: str, action_id: str, pid: str, *, style: str) -> dict[str, Any]:
    plain = {"type": "plain_text", "text": text}
    return {"type": "button", "action_id": action_id, "text": plain, "style": style, "value": pid}


def _section(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}
