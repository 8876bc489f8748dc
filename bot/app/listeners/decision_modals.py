"""Listeners for the decision modals' submissions: reject, edit, alternative and redirect.

Each validates the modal's input (errors go back into the modal), acks, checks the reviewer again,
and decides through the shared path (`bot.app.listeners.reviews`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.reviews import authorized, decide_as, is_still_open, same_args, submission
from bot.review import assignment, authz, timers
from bot.runtime import Runtime
from bot.slack import messages
from bot.slack.surfaces import blocks, edits, modals
from scoring.models import Action, Outcome


def register(app: App, runtime: Runtime) -> None:
    """Attach the listeners of the four decision modals to `app`."""

    @app.view(blocks.REJECT_MODAL)
    def reject_submitted(ack: Ack, body: dict[str, Any]) -> None:
        pid, channel, user, values = submission(body)
        proposal = runtime.ledger.proposal(pid)
        reasons = runtime.policy.reject_reasons_for(proposal.category) if proposal else []
        reason, errors = modals.parse_reject(values, reasons)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if authorized(runtime, pid, user, channel):
            decide_as(runtime, pid, Outcome.REJECT, user=user, channel=channel, comment=reason)

    @app.view(blocks.EDIT_MODAL)
    def edit_submitted(ack: Ack, body: dict[str, Any]) -> None:
        pid, channel, user, values = submission(body)
        proposal = runtime.ledger.proposal(pid)
        if proposal is None:
            ack()
            return
        args, errors = edits.parse_edit(values, proposal, runtime.policy.category(proposal.category))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if authorized(runtime, pid, user, channel):
            note = edits.note_of(values)
            if same_args(args, proposal.action.args):
                same = proposal.action
                decide_as(runtime, pid, Outcome.APPROVE, user=user, channel=channel, action=same, comment=note)
            else:
                action = Action(name=proposal.action.name, args=args)
                decide_as(runtime, pid, Outcome.EDIT, user=user, channel=channel, action=action, comment=note)

    @app.view(blocks.ALTERNATIVE_MODAL)
    def alternative_submitted(ack: Ack, body: dict[str, Any]) -> None:
        pid, channel, user, values = submission(body)
        proposal = runtime.ledger.proposal(pid)
        if proposal is None:
            ack()
            return
        alternative, errors = modals.parse_alternative(values, proposal)
        if alternative is None:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if authorized(runtime, pid, user, channel):
            note = edits.note_of(values)
            comment = f"{alternative.summary} ({note})" if note else alternative.summary
            action = alternative.action
            decide_as(runtime, pid, Outcome.ALTERNATIVE, user=user, channel=channel, action=action, comment=comment)

    @app.view(blocks.REDIRECT_MODAL)
    def redirect_submitted(ack: Ack, body: dict[str, Any]) -> None:
        pid, channel, user, values = submission(body)
        redirect, errors = modals.parse_redirect(values)
        if redirect is not None and redirect.kind == "person":
            errors = _redirect_errors(runtime, pid, redirect.target)
        if redirect is None or errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if not authorized(runtime, pid, user, channel):
            return
        if redirect.kind == "agent":
            decide_as(runtime, pid, Outcome.REDIRECT, user=user, channel=channel, comment=redirect.target)
        elif is_still_open(runtime, pid, user, channel) and redirect.kind == "person":
            timers.restart_chain(runtime, pid, redirect.target)  # reminders now go to them (a reviewer already)
            messages.hand_to_person(runtime, pid, person=redirect.target, by=user)
        elif is_still_open(runtime, pid, user, channel) and (proposal := runtime.ledger.proposal(pid)):
            facts = assignment.card_facts(runtime, pid, proposal)
            messages.hand_to_channel(runtime, pid, channel=redirect.target, by=user, facts=facts)


def _redirect_errors(runtime: Runtime, pid: str, person: str) -> dict[str, str]:
    """A redirect passes a review to another of its reviewers; it never adds one (see docs/routing.md)."""
    if authz.permission(runtime, pid, person).allowed:
        return {}
    proposal = runtime.ledger.proposal(pid)
    category = proposal.category if proposal else "this category"
    return {
        blocks.PERSON_BLOCK: f"They are not a reviewer for {category}, so they could not decide it. "
        "Pick one of its reviewers, or redirect to a channel."
    }
