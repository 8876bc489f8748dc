"""The "Looked at all — fine" listener of digest messages (see `bot.review.digests`); each item's
"Flag as wrong" is the review-after flag listener in `flags.py`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.payloads import clicked
from bot.review.digests import looked_at_all
from bot.runtime import Runtime
from bot.slack.surfaces.digest_card import LOOKED_AT_ALL


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Looked at all — fine" listener to `app`."""

    @app.action(LOOKED_AT_ALL)
    def on_looked_at_all(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        value, user, channel = clicked(body)
        looked_at_all(runtime, value, user=user, channel=channel)
