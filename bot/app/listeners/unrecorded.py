"""When the ledger cannot be reached mid-click (PostgreSQL restarting, a lock held too long), the reviewer is
told that nothing was recorded and to try again; every listener shares this one Bolt error handler.

The decision path itself (`bot.review.decide`) never publishes what the ledger did not take; this covers
the reads a listener makes before it gets there (who may decide, the proposal a modal shows).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack import messages
from bot.slack.surfaces import modals
from bot.slack.surfaces.blocks import escape

log = logging.getLogger(__name__)


def note(error: BaseException) -> str:
    """What the reviewer reads."""
    return (
        f"Not recorded: the ledger could not be reached ({escape(str(error).strip()[:200])}). "
        "Nothing changed and nobody was told; try again in a moment."
    )


def _channel(body: dict[str, Any]) -> str:
    """The card's channel: the message a button sits on, or the one a decision modal was opened from."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if channel:
        return str(channel)
    view = body.get("view") or {}
    return modals.split_metadata(str(view.get("private_metadata", "")))[1]


def register(app: App, runtime: Runtime) -> None:
    """Tell the reviewer when a listener failed on the ledger; log any other failure as Bolt would."""

    @app.error
    def unrecorded(error: Exception, body: dict[str, Any]) -> None:
        if not isinstance(error, runtime.ledger.errors):
            log.error("a Slack listener failed: %s", error, exc_info=error)
            return
        log.error("a reviewer's request was not recorded: the ledger could not be reached: %s", error)
        user = str((body.get("user") or {}).get("id", ""))
        channel = _channel(body)
        if user and channel:
            messages.tell(runtime, channel=channel, user=user, text=note(error))
