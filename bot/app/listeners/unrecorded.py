"""When the ledger cannot be reached mid-click (PostgreSQL restarting, a lock held too long), the reviewer is
told that nothing was recorded and to try again: the Bolt app's one error handler (`bot.app.web`) asks here.

The decision path itself (`bot.review.decide`) never publishes what the ledger did not take; this covers
the reads a listener makes before it gets there (who may decide, the proposal a modal shows).
"""

from __future__ import annotations

import logging
from typing import Any

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
    for key, field in (("channel", "id"), ("container", "channel_id")):
        part = body.get(key)
        if isinstance(part, dict) and part.get(field):
            return str(part[field])
    view = body.get("view")
    metadata = view.get("private_metadata", "") if isinstance(view, dict) else ""
    return modals.split_metadata(str(metadata))[1]


def tell_if_unrecorded(runtime: Runtime, error: Exception, body: Any) -> bool:
    """When a listener failed on the ledger, tell the reviewer nothing was recorded; False for any other error."""
    if not isinstance(error, runtime.ledger.errors):
        return False
    log.error("a reviewer's request was not recorded: the ledger could not be reached: %s", error)
    user = body.get("user") if isinstance(body, dict) else None
    channel = _channel(body) if isinstance(body, dict) else ""
    if isinstance(user, dict) and user.get("id") and channel:
        messages.tell(runtime, channel=channel, user=str(user["id"]), text=note(error))
    return True
