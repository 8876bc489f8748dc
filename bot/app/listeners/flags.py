"""The "Flag as wrong" listener of review-after messages (see `bot.review.flags`)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.review.flags import flag
from bot.runtime import Runtime
from bot.slack.surfaces.flag_card import FLAG


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Flag as wrong" listener to `app`."""

    @app.action(FLAG)
    def on_flag(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
        flag(runtime, str(body["actions"][0].get("value", "")), user=str(body["user"]["id"]), channel=str(channel))
