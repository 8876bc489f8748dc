"""The review-after message: what an action that ran unreviewed did, why, and its "Flag as wrong" button."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.surfaces.blocks import HEADER_LIMIT, SECTION_LIMIT, clip, code, escape
from scoring.models import Assessment, Proposal

FLAG = "handoff_flag_wrong"
ACTION_IDS = (FLAG,)


def flag_card(
    pid: str, proposal: Proposal, assessment: Assessment, *, flagged_by: str | None = None
) -> list[dict[str, Any]]:
    """The message for an action that ran unreviewed: what it did, why it ran, and the flag button (or the flag)."""
    revision = 2 if flagged_by else 1
    kind = "Audit sample" if assessment.audit else "Ran without review"
    header = clip(f"{kind}: {proposal.category} from {proposal.agent}", HEADER_LIMIT)
    why = (
        "sampled for audit: it ran on its own; check it and flag it if it was wrong"
        if assessment.audit
        else "this category acts first and is reviewed afterwards; flag it if it was wrong"
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
        blocks.append(_section(f"*Flagged as wrong* by <@{flagged_by}>: counted as an override", f"raf:{pid}:2"))
    else:
        button = {
            "type": "button",
            "action_id": FLAG,
            "text": {"type": "plain_text", "text": "Flag as wrong"},
            "style": "danger",
            "value": pid,
        }
        blocks.append({"type": "actions", "block_id": f"raflag:{pid}:1", "elements": [button]})
    context = f"proposal `{pid}` · policy {assessment.policy_version}"
    elements = [{"type": "mrkdwn", "text": context}]
    blocks.append({"type": "context", "block_id": f"raid:{pid}:{revision}", "elements": elements})
    return blocks


def _section(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}
