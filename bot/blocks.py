"""Block Kit surfaces, built by pure functions: the review card, its final state, the reject modal.

Everything that came from an agent, a customer or a document goes through `escape` (so it cannot
mention @channel or a user, or hide a link) and `clip` (so no field exceeds Slack's limits).
Action ids are constants shared with the listeners in `bot.listeners`.
"""

from __future__ import annotations

import json
from typing import Any

from scoring.models import Assessment, Decision, Outcome, Proposal

APPROVE = "handoff_approve"
REJECT = "handoff_reject"
REJECT_MODAL = "handoff_reject_modal"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
ACTION_IDS = (APPROVE, REJECT)
VIEW_IDS = (REJECT_MODAL,)

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FALLBACK_LIMIT = 3000
REASON_MAX = 2000

_OUTCOME_WORDS = {
    Outcome.APPROVE: "Approved",
    Outcome.EDIT: "Approved with edits",
    Outcome.REJECT: "Rejected",
    Outcome.ALTERNATIVE: "Alternative chosen",
    Outcome.REDIRECT: "Redirected",
    Outcome.TIMEOUT: "Timed out",
    Outcome.AUTO: "Decided by policy",
}


def escape(text: str) -> str:
    """Neutralise mrkdwn control characters: no mentions, no hidden links, no broken formatting."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    note = f"… ({len(text) - limit + 40:,} more characters)"
    return text[: max(0, limit - len(note))] + note


def _section(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def _code(text: str) -> str:
    return "```" + escape(text).replace("```", "`\u200b``") + "```"


def action_text(proposal: Proposal) -> str:
    """The exact action as a reviewer reads it: name and pretty-printed arguments."""
    args = json.dumps(proposal.action.args, indent=2, ensure_ascii=False, default=str)
    return f"{proposal.action.name}({args})"


def signal_lines(assessment: Assessment) -> list[str]:
    """One line per signal that pushed the proposal to a human, with its reason."""
    return [f"• *{escape(s.name)}* ({s.kind.value}): {escape(s.reason)}" for s in assessment.fired()]


def fallback_text(proposal: Proposal, pid: str) -> str:
    """Notification text for the card: who wants to do what."""
    return clip(f"Review needed: {escape(proposal.agent)} wants to {escape(proposal.summary)} ({pid})", 300)


def review_card(pid: str, proposal: Proposal, assessment: Assessment, *, revision: int = 1) -> list[dict[str, Any]]:
    """The escalation card: what the agent saw, what it proposes, why, and why it is escalated."""
    header = clip(f"Review: {proposal.category} from {proposal.agent}", HEADER_LIMIT)
    why = "\n".join(signal_lines(assessment)) or _quiet_reason(assessment)
    threshold = f" (acts alone at ≥ {assessment.threshold:.2f})" if assessment.threshold is not None else ""
    rationale = "\n".join(f"• {escape(r)}" for r in proposal.rationale) or "_The agent gave no rationale._"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": f"h:{pid}:{revision}", "text": {"type": "plain_text", "text": header}},
        _section(f"*Request*\n{escape(proposal.input.request) or '_none given_'}", f"in:{pid}:{revision}"),
        _section(f"*Proposes:* {escape(proposal.summary)}\n{_code(action_text(proposal))}", f"act:{pid}:{revision}"),
        _section(f"*Why*\n{rationale}", f"why:{pid}:{revision}"),
        _section(f"*Why you are seeing this:* score {assessment.score:.2f}{threshold}\n{why}", f"esc:{pid}:{revision}"),
        {
            "type": "actions",
            "block_id": f"review:{pid}:{revision}",
            "elements": [
                _button("Approve", APPROVE, pid, style="primary"),
                _button("Reject", REJECT, pid, style="danger"),
            ],
        },
        {
            "type": "context",
            "block_id": f"id:{pid}:{revision}",
            "elements": [{"type": "mrkdwn", "text": f"proposal `{pid}` · policy {assessment.policy_version}"}],
        },
    ]
    return blocks


def _quiet_reason(assessment: Assessment) -> str:
    """Why a proposal with no fired signal still reached a human."""
    if assessment.level == "approve_before":
        return "• policy: this category always asks first"
    if assessment.threshold is not None and assessment.score < assessment.threshold:
        return f"• the score {assessment.score:.2f} is below the category's threshold {assessment.threshold:.2f}"
    return "• policy: sampled for audit" if assessment.audit else "• policy routed it to a person"


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def final_card(pid: str, proposal: Proposal, decision: Decision, *, revision: int = 2) -> list[dict[str, Any]]:
    """The card once decided: outcome, who and when; no buttons left to click."""
    who = decision.reviewer if decision.reviewer.startswith("policy:") else f"<@{decision.reviewer}>"
    line = f"*{_OUTCOME_WORDS[decision.outcome]}* by {who} at {decision.decided_at}"
    if decision.comment:
        line += f"\n>{escape(decision.comment)}"
    return [
        {
            "type": "header",
            "block_id": f"h:{pid}:{revision}",
            "text": {
                "type": "plain_text",
                "text": clip(f"Reviewed: {proposal.category} from {proposal.agent}", HEADER_LIMIT),
            },
        },
        _section(f"*Proposed:* {escape(proposal.summary)}\n{_code(action_text(proposal))}", f"act:{pid}:{revision}"),
        _section(line, f"done:{pid}:{revision}"),
        {
            "type": "context",
            "block_id": f"id:{pid}:{revision}",
            "elements": [{"type": "mrkdwn", "text": f"proposal `{pid}`"}],
        },
    ]


def reject_modal(pid: str, proposal: Proposal) -> dict[str, Any]:
    """The modal asking why a proposal is rejected; the reason goes back to the agent."""
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": pid,
        "title": {"type": "plain_text", "text": "Reject proposal"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _section(f"*Rejecting:* {escape(proposal.summary)}", "summary"),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason (sent to the agent)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": REASON_MAX,
                },
            },
        ],
    }
