"""The review card and its later states, built by pure functions from the proposal and its assessment.

The card shows what the agent saw (as much as fits a message; the rest behind "Full context"), what
it proposes, why, and why a person is asked; then the decision buttons. Once decided it becomes the
final card: outcome, who, when, how long it took, and for edits what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.slack.surfaces.blocks import (
    ALTERNATIVE,
    APPROVE,
    EDIT,
    FULL_CONTEXT,
    REDIRECT,
    REJECT,
    SECTION_BUDGET,
    STANDING_OPEN,
    button,
    clip,
    clip_rendered,
    code,
    context,
    duration,
    escape,
    header,
    mention,
    plain,
    section,
    slack_len,
    when,
)
from bot.slack.surfaces.changes import change_lines
from bot.slack.surfaces.similar_cases import precedent_blocks
from bot.slack.surfaces.source_material import action_text, seen
from scoring.models import Assessment, Decision, Outcome, Proposal
from scoring.precedents import Precedents

MATERIAL_CHARS = 6000  # how much of what the agent saw a card shows before "Full context"
MATERIAL_BLOCKS = 12
SUMMARY_ROOM = 600
TO_FULL = "; all of it in Full context"

OUTCOME_WORDS = {
    Outcome.APPROVE: "Approved",
    Outcome.EDIT: "Approved with edits",
    Outcome.REJECT: "Rejected",
    Outcome.ALTERNATIVE: "Alternative chosen",
    Outcome.REDIRECT: "Sent back to the agent",
    Outcome.TIMEOUT: "Timed out",
    Outcome.AUTO: "Decided by policy",
}


@dataclass(frozen=True)
class CardFacts:
    """What the policy, routing and the ledger add to a card: confirmation, who is asked, by when, and how
    similar past proposals went (None: not looked up)."""

    irreversible: bool = False
    reviewers: tuple[str, ...] = ()
    deadline: str | None = None
    precedents: Precedents | None = None
    standing_hours: int = 0  # > 0: "Approve and remember…" may allow the same action for up to this long


def reviewer_ids(category: Any) -> tuple[str, ...]:
    """The user and user-group ids a category names as reviewers (a plain list, or users and usergroups)."""
    reviewers: Any = getattr(category, "reviewers", None) or ()
    if isinstance(reviewers, list | tuple):
        return tuple(str(r) for r in reviewers)
    return (*getattr(reviewers, "users", ()), *getattr(reviewers, "usergroups", ()))


def fallback_text(proposal: Proposal, pid: str) -> str:
    """Notification text for the card: who wants to do what."""
    return clip(f"Review needed: {escape(proposal.agent)} wants to {escape(proposal.summary)} ({pid})", 300)


def review_card(
    pid: str, proposal: Proposal, assessment: Assessment, *, revision: int = 1, facts: CardFacts | None = None
) -> list[dict[str, Any]]:
    """The escalation card: what the agent saw, what it proposes, why, and why it is escalated."""
    facts = facts or CardFacts()
    material, complete = _material(pid, proposal, revision)
    blocks = [
        header(f"Review: {proposal.category} · {proposal.agent}", f"h:{pid}:{revision}"),
        context(_routing_line(proposal, facts), f"who:{pid}:{revision}"),
        *material,
        section(_proposes(proposal), f"act:{pid}:{revision}"),
        *_alternatives(pid, proposal, revision),
        section(_rationale(proposal), f"why:{pid}:{revision}"),
        section(_escalation(assessment), f"esc:{pid}:{revision}"),
        *precedent_blocks(pid, facts.precedents, action=proposal.action.name, revision=revision),
    ]
    complete = complete and _all_shown(proposal)
    if not complete:
        note = "Not everything the agent saw fits in a message: *Full context* shows all of it, page by page."
        blocks.append(context(f":page_facing_up: {note}", f"cut:{pid}:{revision}"))
    buttons = _buttons(pid, proposal, facts, complete)
    blocks.append({"type": "actions", "block_id": f"review:{pid}:{revision}", "elements": buttons})
    blocks.append(context(f"proposal `{pid}` · policy {escape(assessment.policy_version)}", f"id:{pid}:{revision}"))
    return blocks


def _routing_line(proposal: Proposal, facts: CardFacts) -> str:
    who = ", ".join(mention(r) for r in facts.reviewers) if facts.reviewers else "anyone in this channel"
    deadline = f"decide by {when(facts.deadline)}" if facts.deadline else "no deadline: it waits for a decision"
    return f"*{escape(proposal.category)}* from *{escape(proposal.agent)}* · for {who} · {deadline}"


def _material(pid: str, proposal: Proposal, revision: int) -> tuple[list[dict[str, Any]], bool]:
    """Sections of what the agent saw, within the card's budget; False when something did not fit."""
    pieces = seen(proposal)
    if not pieces:
        return [section("*What the agent saw:* _nothing was given_", f"in:{pid}:{revision}:0")], True
    blocks: list[dict[str, Any]] = []
    budget, complete = MATERIAL_CHARS, True
    for index, piece in enumerate(pieces):
        if len(blocks) >= MATERIAL_BLOCKS or budget < 300:
            rest = len(pieces) - index
            more = f"… and {rest} more part{'s' if rest != 1 else ''} in *Full context*"
            blocks.append(context(more, f"in:{pid}:{revision}:more"))
            return blocks, False
        room = min(budget, SECTION_BUDGET - slack_len(piece.heading))
        body = clip_rendered(piece.text, room, render=piece.render, more=TO_FULL)
        complete = complete and body == piece.render(piece.text)
        title = "*What the agent saw*\n" if index == 0 else ""
        blocks.append(section(f"{title}{piece.heading}\n{body}", f"in:{pid}:{revision}:{index}"))
        budget -= slack_len(body)
    return blocks, complete


def _proposes(proposal: Proposal) -> str:
    summary = clip_rendered(proposal.summary, SUMMARY_ROOM, more=TO_FULL)
    room = SECTION_BUDGET - slack_len(summary) - 40
    return f"*Proposes:* {summary}\n{clip_rendered(action_text(proposal.action), room, render=code, more=TO_FULL)}"


def _all_shown(proposal: Proposal) -> bool:
    """Whether the summary, exact action, reasons and alternatives all fit the card uncut."""
    summary = slack_len(escape(proposal.summary))
    reasons = "\n".join(f"• {r}" for r in proposal.rationale)
    alternatives = "\n".join(f"{n}. {a.summary}" for n, a in enumerate(proposal.alternatives, start=1))
    return (
        summary <= SUMMARY_ROOM
        and slack_len(code(action_text(proposal.action))) <= SECTION_BUDGET - summary - 40
        and slack_len(escape(reasons)) <= SECTION_BUDGET - 20
        and slack_len(escape(alternatives)) <= SECTION_BUDGET - 60
    )


def _alternatives(pid: str, proposal: Proposal, revision: int) -> list[dict[str, Any]]:
    if not proposal.alternatives:
        return []
    lines = [f"{n}. {escape(a.summary)}" for n, a in enumerate(proposal.alternatives, start=1)]
    text = clip("\n".join(lines), SECTION_BUDGET - 60, more=TO_FULL)  # escaped line by line: cut visibly
    return [section(f"*Alternatives the agent considered*\n{text}", f"alt:{pid}:{revision}")]


def _rationale(proposal: Proposal) -> str:
    if not proposal.rationale:
        return ":warning: *No rationale:* the agent gave no reasons for this action. Be sure of it before approving."
    reasons = "\n".join(f"• {r}" for r in proposal.rationale)
    return f"*Why*\n{clip_rendered(reasons, SECTION_BUDGET - 20, more=TO_FULL)}"


def _escalation(assessment: Assessment) -> str:
    threshold = f" against a threshold of {assessment.threshold:.2f}" if assessment.threshold is not None else ""
    lines = [f"• *{escape(s.name)}* ({s.kind.value}): {escape(s.reason)}" for s in assessment.fired()]
    why = clip("\n".join(lines), SECTION_BUDGET - 200) if lines else _quiet_reason(assessment)
    return f"*Why you are seeing this:* score {assessment.score:.2f}{threshold}\n{why}"


def _quiet_reason(assessment: Assessment) -> str:
    """Why a proposal with no fired signal still reached a human."""
    if assessment.level == "approve_before":
        return "• policy: this category always asks first"
    if assessment.threshold is not None and assessment.score < assessment.threshold:
        return f"• the score {assessment.score:.2f} is below the category's threshold {assessment.threshold:.2f}"
    return "• policy: sampled for audit" if assessment.audit else "• policy routed it to a person"


def _buttons(pid: str, proposal: Proposal, facts: CardFacts, complete: bool) -> list[dict[str, Any]]:
    confirm = _confirm(proposal) if facts.irreversible else None
    elements = [
        button("Approve", APPROVE, pid, style="primary", confirm=confirm),
        *([button("Approve and remember…", STANDING_OPEN, pid)] if facts.standing_hours else []),
        button("Edit", EDIT, pid),
        button("Reject", REJECT, pid, style="danger"),
    ]
    if proposal.alternatives:
        elements.append(button("Pick an alternative", ALTERNATIVE, pid))
    elements.append(button("Redirect", REDIRECT, pid))
    if not complete:
        elements.append(button("Full context", FULL_CONTEXT, pid))
    return elements


def _confirm(proposal: Proposal) -> dict[str, Any]:
    text = f"This cannot be undone. Approve: {proposal.summary}"
    return {
        "title": plain("Irreversible action", 100),
        "text": plain(text, 300),
        "confirm": plain("Approve", 30),
        "deny": plain("Cancel", 30),
        "style": "danger",
    }


def final_card(
    pid: str, proposal: Proposal, decision: Decision, *, posted_at: float | None = None, revision: int = 2
) -> list[dict[str, Any]]:
    """The card once decided: outcome, who, when, time to decide, what changed; no buttons left."""
    words = OUTCOME_WORDS[decision.outcome]
    took = ""
    if posted_at is not None:
        decided = datetime.fromisoformat(decision.decided_at).timestamp()
        took = f" · decided in {duration(decided - posted_at)}"
    lines = [f"*{words}* by {mention(decision.reviewer)} {when(decision.decided_at)}{took}"]
    lines += _outcome_detail(proposal, decision)
    return [
        header(f"{words}: {proposal.category} · {proposal.agent}", f"h:{pid}:{revision}"),
        section(_proposes(proposal).replace("*Proposes:*", "*Proposed:*", 1), f"act:{pid}:{revision}"),
        section(
            clip("\n".join(lines), SECTION_BUDGET, more="; the agent received all of it"), f"done:{pid}:{revision}"
        ),
        context(f"proposal `{pid}`", f"id:{pid}:{revision}"),
    ]


def _outcome_detail(proposal: Proposal, decision: Decision) -> list[str]:
    comment = escape(decision.comment)
    if decision.outcome is Outcome.EDIT and decision.action is not None:
        note = [f"Note: {comment}"] if comment else []
        return ["*What changed*", *change_lines(proposal.action, decision.action), *note]
    if decision.outcome is Outcome.ALTERNATIVE and decision.action is not None:
        return [f"*Instead:* {comment}" if comment else "*Instead:*", code(action_text(decision.action))]
    if decision.outcome is Outcome.REDIRECT:
        return [f"*Instruction to the agent:* {comment}"]
    if decision.outcome is Outcome.REJECT:
        return [f"*Reason:* {comment}"]
    return [f"Note: {comment}"] if comment else []


def handed_card(pid: str, proposal: Proposal, *, by: str, to: str, revision: int = 2) -> list[dict[str, Any]]:
    """A card whose review moved to another channel: where it went and who moved it; no buttons."""
    return [
        header(f"Moved: {proposal.category} · {proposal.agent}", f"h:{pid}:{revision}"),
        section(f"*Proposes:* {clip_rendered(proposal.summary, 600)}", f"act:{pid}:{revision}"),
        section(f"{mention(by)} handed this review to {to}; it is decided there.", f"moved:{pid}:{revision}"),
        context(f"proposal `{pid}`", f"id:{pid}:{revision}"),
    ]
