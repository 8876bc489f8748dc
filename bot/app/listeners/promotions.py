"""The Apply and Decline listeners of promotion cards (see `bot.review.promotions`)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.payloads import clicked
from bot.review.promotions import decide
from bot.runtime import Runtime
from bot.slack.surfaces.promotion_card import APPROVE, DECLINE


def register(app: App, runtime: Runtime) -> None:
    """Attach the Apply and Decline listeners of promotion cards."""

    def handle(body: dict[str, Any], *, apply: bool) -> None:
        value, user, channel = clicked(body)
        if value.isdigit():
            decide(runtime, int(value), user=user, channel=channel, apply=apply)

    @app.action(APPROVE)
    def on_apply(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        handle(body, apply=True)

    @app.action(DECLINE)
    def on_decline(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        handle(body, apply=False)
