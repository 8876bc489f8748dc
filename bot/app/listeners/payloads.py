"""What a listener reads from a Slack payload Bolt has verified: the clicked value, the user, the channel.

The user is always the payload's `user.id`, never a value from a button.
"""

from __future__ import annotations

from typing import Any


def clicked(body: dict[str, Any]) -> tuple[str, str, str]:
    """(the button's value, the user who clicked, the message's channel) of a block action."""
    action = body["actions"][0]
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
    return str(action.get("value", "")), str(body["user"]["id"]), str(channel)
