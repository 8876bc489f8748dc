"""The card proposing a promotion to the policy's owners: Apply and Decline while proposed, the outcome after."""

from __future__ import annotations

from typing import Any

from bot.slack.surfaces.blocks import HEADER_LIMIT, SECTION_LIMIT, clip, escape
from bot.store.rows import PolicyEvent

APPROVE = "handoff_promotion_approve"
DECLINE = "handoff_promotion_decline"
ACTION_IDS = (APPROVE, DECLINE)


def promotion_card(seq: int, event: PolicyEvent, owners: list[str]) -> list[dict[str, Any]]:
    """The card proposing one promotion (buttons while proposed, the outcome once decided)."""
    revision = 1 if event.status == "proposed" else 2
    title = clip(f"Promotion: {event.category} to {event.to_level}", HEADER_LIMIT)
    who = " ".join(f"<@{owner}>" for owner in owners) or "_no owners in the policy_"
    text = (
        f"*{escape(event.category)}* has earned more autonomy: *{event.from_level}* → *{event.to_level}*\n"
        f"{escape(event.reason)}\nOwners: {who}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": f"ph:{seq}:{revision}", "text": {"type": "plain_text", "text": title}},
        _section(clip(text, SECTION_LIMIT), f"pw:{seq}:{revision}"),
    ]
    if event.status == "proposed":
        buttons = [_button("Apply", APPROVE, seq, style="primary"), _button("Decline", DECLINE, seq)]
        blocks.append({"type": "actions", "block_id": f"pa:{seq}:1", "elements": buttons})
    else:
        done = f"*{event.status.capitalize()}* by <@{event.decided_by}>"
        blocks.append(_section(done, f"pd:{seq}:2"))
    context = f"policy event {seq} · `handoff report` shows the effective level"
    blocks.append({"type": "context", "block_id": f"pc:{seq}:{revision}", "elements": [_mrkdwn(context)]})
    return blocks


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": _mrkdwn(text)}


def _button(text: str, action_id: str, seq: int, *, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}, "value": str(seq)}
    return {**button, "style": style} if style else button
