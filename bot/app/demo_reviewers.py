"""The demo's reviewers: simulated people who decide each card their own way, or you at the keyboard.

They act only through what Slack would give a person: the card in the Slack stand-in, signed clicks and
modal submissions to handoff's web app. Authorization and quorum are said in words as they apply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.app.terminal import render_card, render_view
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from scoring.policy import Category


@dataclass(frozen=True)
class Review:
    """What a simulated reviewer does with an escalated scenario."""

    user: str
    outcome: str  # approve, reject, edit, alternative or redirect (back to the agent)
    text: str = ""  # the reason, or the instruction to the agent
    edits: dict[str, str] = field(default_factory=dict)  # argument -> value typed into the Edit modal
    pick: int = 0  # which alternative


REVIEWS: dict[str, Review] = {
    "demo-winback-email": Review("U0DANA", "reject", "40% is over the 25% retention limit; offer the 20% alternative"),
    "demo-crm-status": Review(
        "U0LEE", "redirect", "Two Acme deals match (ACME-77, ACME-78): ask the account owner which one closed"
    ),
    "demo-legal-reply": Review("U0COUNSEL", "approve"),  # the card's on-call approves first, then a colleague
    "demo-refund": Review("U0FINANCE", "approve"),
    "demo-crm-missing": Review("U0LEE", "edit", edits={"record_id": "GLOBEX-3"}),
    "demo-delay-email": Review("U0DANA", "alternative", pick=0),
}
DEFAULT_REVIEW = Review("U0DANA", "approve")

# The Slack user groups the example policy names, as the demo's workspace has them.
DEMO_USERGROUPS = {
    "S0FINANCE": ["U0FINANCE", "U0FINANCE2"],
    "S0LEGAL": ["U0COUNSEL", "U0COUNSEL2"],
}
YOU = "U0YOU"  # the person at the keyboard with --interactive: a member of every reviewer group

Say = Callable[[str], None]

DECISION_WAIT = 60.0  # seconds; generous, so a machine busy with other work still shows the whole demo


def review_card(
    runtime: Runtime,
    slack: SlackStandIn,
    reviewer: Reviewer,
    pid: str,
    *,
    say: Say,
    keyboard: Keyboard | None,
    verbose: bool = False,
) -> None:
    """Show `pid`'s card, say who may decide it, and decide it as its reviewer (or you) would."""
    card = slack.wait_for(lambda s: _card(s, pid), timeout=DECISION_WAIT)
    for line in render_card(card, channel=slack.channel_name(card["channel"]), compact=not verbose):
        say("    " + line)
    proposal = runtime.ledger.proposal(pid)
    category = runtime.policy.category(proposal.category) if proposal else None
    if proposal is not None and category is not None:
        for line in _who_decides(proposal.category, category):
            say("    " + line)
    review = (keyboard.ask(say) if keyboard else None) or REVIEWS.get(pid, DEFAULT_REVIEW)
    if review.outcome == "approve":
        groups = category.reviewers.usergroups if category else []
        _approve(slack, reviewer, card, review, needed=category.approvals if category else 1, groups=groups, say=say)
        return
    button, values = _MODALS[review.outcome]
    user = review.user
    say(f"    @{user} clicks {_button_text(card, button)}")
    _click(slack, reviewer, card, button, user=user, say=say)
    try:
        opened = slack.wait_for(lambda s: _view_for(s, pid), timeout=DECISION_WAIT)
    except TimeoutError:
        say("    (no modal opened, so nothing was decided)")
        return
    if verbose and review.outcome in ("edit", "alternative"):
        for line in render_view(opened["view"]):
            say("    " + line)
    say(f"    @{user} {_doing(review)}")
    reviewer.submit_view(opened, values(opened["view"], review), user=user)
    if verbose and review.outcome in ("edit", "alternative"):
        from bot.app.demo import work  # the demo's in-process worker finalizes the card

        if runtime.board.wait(pid, DECISION_WAIT) is None:  # recorded by the web app's listener, after its ack
            say("    (the submission decided nothing, so the card stays open)")
            return
        work(runtime)  # its phase two was queued before the decision was published
        final = slack.wait_for(lambda s: _decided_card(s, pid), timeout=DECISION_WAIT)
        say("    The card, once decided:")
        for line in render_card(final, channel=slack.channel_name(final["channel"])):
            say("    " + line)


def _who_decides(name: str, category: Category) -> list[str]:
    """Authorization and quorum in words: who may decide this card, and how many must approve."""
    reviewers = category.reviewers
    lines = []
    if reviewers.usergroups or reviewers.users or reviewers.rotation:
        who = ", ".join(
            [
                *(f"group {g}" for g in reviewers.usergroups),
                *(f"@{u}" for u in reviewers.users),
                *([f"the {reviewers.rotation} rotation"] if reviewers.rotation else []),
            ]
        )
        lines.append(f"Only {name} reviewers ({who}) may decide this card; anyone else is told so and nothing changes.")
    if category.approvals > 1:
        lines.append(
            f"It runs only after {category.approvals} distinct reviewers approve (four eyes); "
            "one rejection or send-back decides it at once."
        )
    return lines


def _approve(
    slack: SlackStandIn,
    reviewer: Reviewer,
    card: dict[str, Any],
    review: Review,
    *,
    needed: int,
    groups: list[str],
    say: Say,
) -> None:
    confirm = " and confirms (this category is irreversible)" if _asks_to_confirm(card) else ""
    first = review.user if review.user == YOU else addressed_to(card) or review.user
    approvers = _quorum(groups, first, needed) if needed > 1 else [first]
    for count, approver in enumerate(approvers, start=1):
        say(f"    @{approver} clicks Approve{confirm}")
        _click(slack, reviewer, card, blocks.APPROVE, user=approver, say=say)
        if count < needed:
            say(f"    That is approval {count} of {needed}; another reviewer of the group has to approve too.")


def addressed_to(card: dict[str, Any]) -> str | None:
    """The reviewer a card is routed to (`for <@U…>` on it: the category's on-call), if any."""
    found = re.search(r"· for <@([A-Z0-9]+)>", json.dumps(card, ensure_ascii=False))
    return found.group(1) if found else None


def _quorum(groups: list[str], user: str, needed: int) -> list[str]:
    """`user` and enough other members of the category's reviewer groups to reach `needed` approvals."""
    members = [m for group in groups for m in DEMO_USERGROUPS.get(group, [])]
    return [user, *[m for m in dict.fromkeys(members) if m != user][: needed - 1]]


def _click(
    slack: SlackStandIn, reviewer: Reviewer, card: dict[str, Any], action_id: str, *, user: str, say: Say
) -> None:
    """Click as `user` and say, in words, any note Slack shows only to them (refused, or counted)."""
    seen = len(slack.ephemerals(user))
    reviewer.click(card, action_id, user=user)
    for note in slack.ephemerals(user)[seen:]:
        say(f"    (Slack shows @{user} only: {note.get('text', '')})")


def _view_for(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The latest modal opened for `pid` (empty until one is)."""
    opened = [v for v in slack.views() if pid in v["view"].get("private_metadata", "")]
    return opened[-1] if opened else {}


def _asks_to_confirm(card: dict[str, Any]) -> bool:
    return any(e.get("confirm") for b in card["blocks"] if b["type"] == "actions" for e in b["elements"])


def _button_text(card: dict[str, Any], action_id: str) -> str:
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return next(str(e["text"]["text"]) for e in buttons if e.get("action_id") == action_id)


def _doing(review: Review) -> str:
    if review.outcome == "edit":
        return "changes " + ", ".join(f"{k} to “{v}”" for k, v in review.edits.items()) + " and approves the edit"
    if review.outcome == "alternative":
        return f"picks alternative {review.pick + 1}"
    if review.outcome == "redirect":
        return f"sends it back to the agent: “{review.text}”"
    return f"gives a reason: “{review.text}”"


def _edit_values(view: dict[str, Any], review: Review) -> dict[str, dict[str, Any]]:
    inputs = {b["label"]["text"]: b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    return {inputs[name]: {blocks.ARG_INPUT: value} for name, value in review.edits.items()}


_MODALS: dict[str, tuple[str, Callable[[dict[str, Any], Review], dict[str, dict[str, Any]]]]] = {
    "reject": (blocks.REJECT, lambda view, r: {blocks.REASON_BLOCK: {blocks.REASON_INPUT: r.text}}),
    "edit": (blocks.EDIT, _edit_values),
    "alternative": (blocks.ALTERNATIVE, lambda view, r: {blocks.PICK_BLOCK: {blocks.PICK_INPUT: str(r.pick)}}),
    "redirect": (blocks.REDIRECT, lambda view, r: {blocks.INSTRUCTION_BLOCK: {blocks.INSTRUCTION_INPUT: r.text}}),
}


@dataclass
class Keyboard:
    """The person at the terminal with --interactive, until their input ends (Ctrl-D)."""

    open: bool = True

    def ask(self, say: Say) -> Review | None:
        """Their decision; None once input has ended (the simulated reviewers decide from then on)."""
        if not self.open:
            return None
        try:
            return _prompt(say)
        except EOFError:
            self.open = False
            say("\n    (end of input: the simulated reviewers decide this card and the rest)")
            return None


def _prompt(say: Say) -> Review:
    while True:
        answer = input("    Decide: [a]pprove, [r]eject, or [s]end it back to the agent? ").strip().lower()
        if answer in ("a", "approve"):
            return Review(YOU, "approve")
        if answer in ("r", "reject", "s", "send"):
            text = ""
            while not text:
                text = input("    Reason or instruction (sent to the agent): ").strip()
            return Review(YOU, "reject" if answer.startswith("r") else "redirect", text)
        say("    Please type a, r or s.")


def _decided_card(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The message of `pid`'s card once it is in its final state (empty until then)."""
    for message in slack.messages():
        ids = [b.get("block_id", "") for b in message.get("blocks") or []]
        if f"done:{pid}:2" in ids:
            return message
    return {}


def _card(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The message whose buttons review `pid` (empty until it is posted)."""
    for message in slack.messages():
        if any(b.get("block_id", "").startswith(f"review:{pid}:") for b in message.get("blocks") or []):
            return message
    return {}
