"""The review card's "Similar cases" button: a modal with the most similar decided proposals of its
category (see `bot.store.precedents`), for the category's reviewers only."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.payloads import clicked
from bot.app.listeners.reviews import authorized
from bot.runtime import Runtime
from bot.slack.surfaces.blocks import PRECEDENTS
from bot.slack.surfaces.similar_cases import similar_cases_modal
from bot.store.precedents import precedents_for


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Similar cases" listener to `app`."""

    @app.action(PRECEDENTS)
    def similar_cases(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = clicked(body)
        if not authorized(runtime, pid, user, channel):
            return
        proposal = runtime.ledger.proposal(pid)
        if proposal is not None:
            found = precedents_for(runtime.ledger, pid, proposal)
            view = similar_cases_modal(pid, found, action=proposal.action.name)
            runtime.slack.views_open(trigger_id=body["trigger_id"], view=view)
