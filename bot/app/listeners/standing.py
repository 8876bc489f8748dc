"""The listeners of standing approvals: "Approve and remember…" on a card opens the modal, whose
submission approves the proposal through the shared decision path and, once that approval is the
decision that stands, makes the rule (see `bot.review.standing`). The reviewer is checked on each step.

Revoking lives with the App Home and `/handoff standing` in `commands.py`.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.payloads import clicked
from bot.app.listeners.reviews import authorized, is_still_open, not_recorded, submission
from bot.review import authz, standing
from bot.review.decide import NotRecordedError, decide, make_decision
from bot.runtime import Runtime
from bot.slack import messages
from bot.slack.surfaces import blocks
from bot.slack.surfaces.standing import parse_standing, standing_modal
from bot.store.review_state import Verdict
from scoring.models import Outcome


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Approve and remember…" button and its modal's listener to `app`."""

    @app.action(blocks.STANDING_OPEN)
    def open_standing(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = clicked(body)
        if not authorized(runtime, pid, user, channel) or not is_still_open(runtime, pid, user, channel):
            return
        proposal = runtime.ledger.proposal(pid)
        if proposal is None:
            return
        cap = standing.offered_hours(runtime, proposal.category)
        if cap == 0:
            text = f"Standing approvals are off for {proposal.category}; use Approve. Nothing changed."
            messages.tell(runtime, channel=channel, user=user, text=text)
            return
        view = standing_modal(
            pid, proposal, fields=standing.pickable_fields(proposal), hours=standing.hour_choices(cap), channel=channel
        )
        runtime.slack.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(blocks.STANDING_MODAL)
    def standing_submitted(ack: Ack, body: dict[str, Any]) -> None:
        pid, channel, user, values = submission(body)
        proposal = runtime.ledger.proposal(pid)
        if proposal is None:
            ack()
            return
        cap = standing.offered_hours(runtime, proposal.category)
        if cap == 0:
            off = f"Standing approvals are off for {proposal.category} now; cancel and use Approve."
            ack(response_action="errors", errors={blocks.HOURS_BLOCK: off})
            return
        fields = standing.pickable_fields(proposal)
        hours, picked, errors = parse_standing(values, fields=fields, hours=standing.hour_choices(cap))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if authorized(runtime, pid, user, channel):
            approve_and_remember(runtime, pid, user=user, channel=channel, hours=hours, fields=picked)


def approve_and_remember(runtime: Runtime, pid: str, *, user: str, channel: str, hours: int, fields: list[str]) -> None:
    """Approve `pid` as `user`; when that approval is the decision that stands (now, or already: a replayed
    submission), make the rule and tell them. Otherwise they hear why nothing was remembered."""
    proposal = runtime.ledger.proposal(pid)
    action = proposal.action if proposal else None
    note = f"approved and remembered for {hours} hour{'s' if hours != 1 else ''}"
    decision = make_decision(runtime, pid, Outcome.APPROVE, reviewer=user, action=action, comment=note)
    try:
        result = decide(runtime, decision)
    except NotRecordedError as exc:
        messages.tell(runtime, channel=channel, user=user, text=not_recorded(Outcome.APPROVE, exc))
        return
    stands = result.decision
    if result.verdict in (Verdict.WON, Verdict.LOST) and stands.reviewer == user and stands.outcome is Outcome.APPROVE:
        made = standing.remember(runtime, pid, user=user, hours=hours, fields=fields)
        messages.tell(runtime, channel=channel, user=user, text=made.message)
    elif channel:
        authz.tell(runtime, channel=channel, user=user, result=result)  # refused or too late: nothing remembered
