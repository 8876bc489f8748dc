"""A simulated reviewer: clicks buttons and submits modals, sending handoff exactly what Slack would.

It reads what the person sees from the `SlackStandIn`. By default its payloads are POSTed to handoff's
`POST /slack/events` (form-encoded `payload=<json>`, signed `v0=` HMAC-SHA256 with the signing secret);
`Reviewer.over(transport, slack)` sends them another way, such as Socket Mode envelopes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bot.sandbox import reviewer_payloads as payloads
from bot.sandbox.reviewer_transport import FORM, Response, SignedHttp, Transport, form_body
from bot.sandbox.slack_api import SlackStandIn

__all__ = ["FORM", "Response", "Reviewer", "form_body"]
VIEW_TYPES = ("modal", "home")


class Reviewer:
    """A person in the sandbox workspace acting on handoff's cards and modals."""

    def __init__(
        self,
        web_url: str,
        signing_secret: str,
        slack: SlackStandIn,
        *,
        team_id: str = "T0SANDBOX",
        timeout: float = 10.0,
        transport: Transport | None = None,
    ) -> None:
        self.web_url = web_url
        self.slack = slack
        self.team_id = team_id
        self.timeout = timeout
        self.transport: Transport = transport or SignedHttp(web_url, signing_secret, timeout=timeout)

    @classmethod
    def over(cls, transport: Transport, slack: SlackStandIn, *, team_id: str = "T0SANDBOX") -> Reviewer:
        """A reviewer whose payloads reach handoff through `transport` (e.g. `SocketModeTransport`)."""
        return cls("", "", slack, team_id=team_id, transport=transport)

    def click(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        user: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> Response:
        """Act on the element `action_id` of a message (as given: a stale copy clicks an old revision).

        Buttons are pressed (`value` picks among same-named buttons); selects, overflows and radio
        buttons pick the option whose value is `value`. A message may also be an open view record.
        """
        return self.send(self._click(message, action_id, user=user, value=value, block_id=block_id))

    def click_body(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        user: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """The interaction payload `click` would send (fresh trigger_id), to deliver by hand or more than once."""
        return self._click(message, action_id, user=user, value=value, block_id=block_id)

    def click_payload(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        user: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> bytes:
        """The raw body `click` would POST, for `post` with a forged signature or a stale timestamp."""
        return form_body(self._click(message, action_id, user=user, value=value, block_id=block_id))

    def submit_view(self, opened_view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str) -> Response:
        """Submit a modal with `values` (block_id -> action_id -> plain value or element state).

        Untouched inputs keep their initial values. Handoff's ack is applied to the stand-in's modal
        (closed, cleared, updated, pushed or left open with errors) and checked like Slack does.
        """
        view = self._current(_view_of(opened_view) or opened_view)
        state = payloads.view_state(view, values)
        trigger_id = self.slack.issue_trigger_id(user)
        response = self.send(payloads.view_submission(self._actor(user), view, state, trigger_id=trigger_id))
        if response.status == 200:
            self.slack.apply_view_ack(view["id"], _ack(response.body))
        return response

    def close_view(self, opened_view: dict[str, Any], *, user: str, cleared: bool = False) -> Response | None:
        """Close a modal; Slack tells the app (view_closed) only if it set `notify_on_close`."""
        view = self._current(_view_of(opened_view) or opened_view)
        response = None
        if view.get("notify_on_close"):
            response = self.send(payloads.view_closed(self._actor(user), view, cleared=cleared))
        self.slack.close_view(view["id"], whole_stack=cleared)
        return response

    def open_home(self, *, user: str) -> Response:
        """Open the app's Home tab, as Slack tells the app with an `app_home_opened` event."""
        event = payloads.home_opened(self._actor(user), channel="D" + user[1:], event_time=int(time.time()))
        return self.transport.event(event)

    def command(self, text: str, *, user: str, channel: str, command: str = "/handoff") -> Response:
        """Type a slash command in `channel`; the app's response_url replies land in `slack.ephemerals()`."""
        where = {
            "channel_id": channel,
            "response_url": self.slack.issue_response_url(channel, "", user),
            "trigger_id": self.slack.issue_trigger_id(user),
        }
        return self.transport.command(payloads.slash_command(self._actor(user), command, text, **where))

    def latest_card(self, channel: str | None = None) -> dict[str, Any]:
        """The most recent (non-ephemeral) message with an actions block, in its current revision."""
        messages = self.slack.messages(channel)
        cards = [m for m in messages if any(block.get("type") == "actions" for block in m["blocks"])]
        if cards:
            return cards[-1]
        where = f"channel {channel}" if channel else "any channel"
        raise LookupError(f"no message with an actions block in {where}; {len(messages)} messages posted")

    def send(self, payload: dict[str, Any]) -> Response:
        """Send an interaction payload as Slack does (over HTTP: form field `payload` holding its JSON, signed)."""
        return self.transport.interaction(payload)

    def post(
        self,
        raw_body: bytes,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        content_type: str = FORM,
    ) -> Response:
        """POST `raw_body` to handoff signed like Slack; override `timestamp` or `signature` to forge."""
        if not isinstance(self.transport, SignedHttp):
            raise TypeError("post() sends raw signed HTTP; this reviewer talks to handoff over another transport")
        return self.transport.post(raw_body, timestamp=timestamp, signature=signature, content_type=content_type)

    def _click(
        self, message: dict[str, Any], action_id: str, *, user: str, value: str | None, block_id: str | None
    ) -> dict[str, Any]:
        view = _view_of(message)
        view = None if view is None else self._current(view)
        blocks = (view or message).get("blocks", [])
        b_id, element = payloads.find_element(blocks, action_id, block_id=block_id, value=value)
        action = payloads.action_of(b_id, element, value, action_ts=_action_ts())
        trigger_id = self.slack.issue_trigger_id(user)
        if view is not None:
            return payloads.view_click(self._actor(user), view, action, trigger_id=trigger_id)
        ts = message["message_ts"] if message.get("ephemeral") else message["ts"]
        response_url = self.slack.issue_response_url(message["channel"], ts, user)
        return payloads.message_click(
            self._actor(user), message, action, trigger_id=trigger_id, response_url=response_url
        )

    def _actor(self, user: str) -> payloads.Actor:
        name = self.slack.user_info(user)["name"]
        person = {"id": user, "username": name, "name": name, "team_id": self.team_id}
        return payloads.Actor(user=person, team_id=self.team_id, app_id=self.slack.app_id)

    def _current(self, view: dict[str, Any]) -> dict[str, Any]:
        """The view as it is on screen now: a person always submits the latest version of a modal."""
        record = next((r for r in self.slack.views() if r["id"] == view.get("id")), None)
        if record is None:
            return view
        if record["closed"]:
            raise LookupError(f"view {record['id']} is closed; a person can no longer act on it")
        current: dict[str, Any] = record["view"]
        return current


def _view_of(target: dict[str, Any]) -> dict[str, Any] | None:
    """The modal or Home tab in `target`: a views() record, a views.open answer, a published Home view, or
    a view itself; None for messages."""
    if target.get("type") in VIEW_TYPES:
        return target
    inner = target.get("view")
    return inner if isinstance(inner, dict) and inner.get("type") in VIEW_TYPES else None


def _ack(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _action_ts() -> str:
    return f"{time.time():.6f}"
