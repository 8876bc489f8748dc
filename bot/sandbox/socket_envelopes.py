"""Socket Mode messages shaped like Slack's: `hello`, `disconnect` and the envelopes that carry payloads.

Pure builders and records for `bot.sandbox.slack_socket`; no I/O here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

INTERACTIVE_TYPES = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
)
RESPONSE_PAYLOAD_TYPES = frozenset({"view_submission", "block_suggestion"})
DISCONNECT_REASONS = ("refresh_requested", "warning", "link_disabled")


@dataclass
class Envelope:
    """One payload Slack owes the app: sent on a connection, acked by `envelope_id`, or sent again.

    `sent_on` lists the connection of every attempt (the first is attempt 0); `ack` is the payload the
    app acked with (None for an empty ack) once `acked`; `gave_up` when the retries ran out unacked.
    """

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    sent_on: list[int] = field(default_factory=list)
    due: float | None = None
    acked: bool = False
    ack: dict[str, Any] | None = None
    acked_on: int | None = None
    gave_up: bool = False

    @property
    def retry_attempt(self) -> int:
        """How many times it was sent again after a missing ack (0 before the first resend)."""
        return max(len(self.sent_on) - 1, 0)

    def message(self) -> dict[str, Any]:
        """The JSON Slack sends for the next attempt: retries carry `retry_attempt` and `retry_reason`."""
        body: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api" or self.sent_on:
            body["retry_attempt"] = len(self.sent_on)
            body["retry_reason"] = "timeout" if self.sent_on else ""
        return body


def envelope_for(payload: dict[str, Any], kind: str | None = None) -> Envelope:
    """Wrap a payload as Slack would: `interactive`, `slash_commands` or `events_api`, inferred unless given."""
    kind = kind or kind_of(payload)
    accepts = kind == "slash_commands" or (kind == "interactive" and payload.get("type") in RESPONSE_PAYLOAD_TYPES)
    return Envelope(envelope_id=str(uuid.uuid4()), type=kind, payload=payload, accepts_response_payload=accepts)


def kind_of(payload: dict[str, Any]) -> str:
    """The envelope type for a payload; ValueError names what was expected when it is none of them."""
    if payload.get("type") == "event_callback":
        return "events_api"
    if payload.get("type") in INTERACTIVE_TYPES:
        return "interactive"
    if "command" in payload:
        return "slash_commands"
    raise ValueError(
        f"cannot tell the envelope type of a payload of type {payload.get('type')!r}; expected an interaction "
        "(block_actions, view_submission ...), an event_callback, or slash command fields; or pass kind="
    )


def hello(*, app_id: str, connections: int, host: str) -> dict[str, Any]:
    """The first message on every new connection."""
    return {
        "type": "hello",
        "num_connections": connections,
        "debug_info": {"host": host, "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": app_id},
    }


def disconnect(reason: str, *, host: str) -> dict[str, Any]:
    """Slack asking the app to move to a new connection (or, for `link_disabled`, to stop)."""
    if reason not in DISCONNECT_REASONS:
        raise ValueError(f"disconnect reason {reason!r} is not one of Slack's: {', '.join(DISCONNECT_REASONS)}")
    return {"type": "disconnect", "reason": reason, "debug_info": {"host": host}}
