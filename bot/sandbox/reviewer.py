"""A simulated reviewer: clicks buttons and submits modals by POSTing signed payloads, as Slack does.

It reads what the person sees from the `SlackStandIn` and sends handoff's `POST /slack/events` exactly
what Slack would: a form-encoded `payload=<json>`, signed `v0=` HMAC-SHA256 with the signing secret.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from bot.sandbox import reviewer_payloads as payloads
from bot.sandbox.slack_api import SlackStandIn

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Response:
    """What handoff answered: HTTP status, raw body, headers, and seconds the round trip took."""

    status: int
    body: bytes
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (an empty ack is not JSON: check `body` first)."""
        return json.loads(self.body)


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
    ) -> None:
        self.web_url = web_url
        self.slack = slack
        self.team_id = team_id
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)

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
        return self.post(json.dumps(event).encode(), content_type="application/json")

    def command(self, text: str, *, user: str, channel: str, command: str = "/handoff") -> Response:
        """Type a slash command in `channel`; the app's response_url replies land in `slack.ephemerals()`."""
        where = {
            "channel_id": channel,
            "response_url": self.slack.issue_response_url(channel, "", user),
            "trigger_id": self.slack.issue_trigger_id(user),
        }
        return self.post(urlencode(payloads.slash_command(self._actor(user), command, text, **where)).encode())

    def latest_card(self, channel: str | None = None) -> dict[str, Any]:
        """The most recent (non-ephemeral) message with an actions block, in its current revision."""
        messages = self.slack.messages(channel)
        cards = [m for m in messages if any(block.get("type") == "actions" for block in m["blocks"])]
        if cards:
            return cards[-1]
        where = f"channel {channel}" if channel else "any channel"
        raise LookupError(f"no message with an actions block in {where}; {len(messages)} messages posted")

    def send(self, payload: dict[str, Any]) -> Response:
        """POST an interaction payload as Slack does: form field `payload` holding its JSON, signed."""
        return self.post(form_body(payload))

    def post(
        self,
        raw_body: bytes,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        content_type: str = FORM,
    ) -> Response:
        """POST `raw_body` to handoff signed like Slack; override `timestamp` or `signature` to forge."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        if signature is None:
            signature = self._verifier.generate_signature(timestamp=stamp, body=raw_body)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or "",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        return _post(self.web_url, raw_body, headers, self.timeout)

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


def form_body(payload: dict[str, Any]) -> bytes:
    """An interaction payload encoded as Slack sends it: `payload=<url-encoded JSON>`."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def _view_of(target: dict[str, Any]) -> dict[str, Any] | None:
    """The modal in `target`: a views() record, a views.open answer, or a view itself; None for messages."""
    if target.get("type") == "modal":
        return target
    inner = target.get("view")
    return inner if isinstance(inner, dict) and inner.get("type") == "modal" else None


def _ack(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    parts = urlsplit(url)
    connection_type = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = connection_type(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = parts.path or "/"
    started = time.perf_counter()
    try:
        connection.request("POST", f"{path}?{parts.query}" if parts.query else path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        return Response(answer.status, data, time.perf_counter() - started, dict(answer.getheaders()))
    finally:
        connection.close()
