"""The "Looks right" and "Flag as wrong" listeners of review-after messages (see `bot.review.flags`)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.review.flags import confirm, flag
from bot.runtime import Runtime
from bot.slack.surfaces.flag_card import FLAG, LOOKS_RIGHT


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Looks right" and "Flag as wrong" listeners to `app`."""

    @app.action(FLAG)
    def on_flag(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        flag(runtime, _value(body), user=str(body["user"]["id"]), channel=_channel(body))

    @app.action(LOOKS_RIGHT)
    def on_looks_right(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        confirm(runtime, _value(body), user=str(body["user"]["id"]), channel=_channel(body))


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value", ""))


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", ""))
