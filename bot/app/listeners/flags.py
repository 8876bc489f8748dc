"""The "Looks right" and "Flag as wrong" listeners of review-after messages (see `bot.review.flags`)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.digests import refresh_pages
from bot.app.listeners.payloads import clicked
from bot.review.flags import confirm, flag
from bot.runtime import Runtime
from bot.slack.surfaces.flag_card import FLAG, LOOKS_RIGHT


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Looks right" and "Flag as wrong" listeners to `app`."""

    @app.action(FLAG)
    def on_flag(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = clicked(body)
        flag(runtime, pid, user=user, channel=channel)
        refresh_pages(runtime, body, user=user)  # when the flag came from a digest's pages

    @app.action(LOOKS_RIGHT)
    def on_looks_right(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        pid, user, channel = clicked(body)
        confirm(runtime, pid, user=user, channel=channel)
