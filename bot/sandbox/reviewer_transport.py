"""How the simulated reviewer's actions reach handoff: signed HTTP POSTs, or Socket Mode envelopes.

A `Transport` carries three kinds of payload, as Slack does: interactions, slash commands and events.
`SignedHttp` posts them to `POST /slack/events` signed like Slack; `SocketModeTransport` delivers them as
envelopes over the Socket Mode stand-in (`bot.sandbox.slack_socket`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPSConnection
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

if TYPE_CHECKING:
    from bot.sandbox.slack_socket import SocketModeStandIn

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Response:
    """What handoff answered: HTTP status, raw body, headers, and seconds the round trip took.

    Over Socket Mode, an ack is status 200 and its payload (if any) the JSON body.
    """

    status: int
    body: bytes
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (an empty ack is not JSON: check `body` first)."""
        return json.loads(self.body)


class Transport(Protocol):
    """Carries a reviewer's payloads to handoff and returns handoff's answer (its ack)."""

    def interaction(self, payload: dict[str, Any]) -> Response:
        """A block_actions, view_submission or view_closed payload."""
        ...

    def command(self, fields: dict[str, str]) -> Response:
        """A slash command's fields."""
        ...

    def event(self, body: dict[str, Any]) -> Response:
        """An Events API `event_callback`."""
        ...


class SignedHttp:
    """Slack's HTTP delivery: POSTs to handoff's events URL signed `v0=` with the signing secret."""

    def __init__(self, web_url: str, signing_secret: str, *, timeout: float = 10.0) -> None:
        self.web_url, self.timeout = web_url, timeout
        self._verifier = SignatureVerifier(signing_secret)

    def interaction(self, payload: dict[str, Any]) -> Response:
        """POST the payload as Slack does: form field `payload` holding its JSON."""
        return self.post(form_body(payload))

    def command(self, fields: dict[str, str]) -> Response:
        """POST the command's fields form-encoded."""
        return self.post(urlencode(fields).encode())

    def event(self, body: dict[str, Any]) -> Response:
        """POST the event as JSON."""
        return self.post(json.dumps(body).encode(), content_type="application/json")

    def post(
        self, raw_body: bytes, *, timestamp: int | None = None, signature: str | None = None, content_type: str = FORM
    ) -> Response:
        """POST `raw_body` signed like Slack; override `timestamp` or `signature` to forge."""
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


def form_body(payload: dict[str, Any]) -> bytes:
    """An interaction payload encoded as Slack sends it: `payload=<url-encoded JSON>`."""
    return urlencode({"payload": json.dumps(payload)}).encode()


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


class SocketModeTransport:
    """Slack's Socket Mode delivery: each payload in an envelope on the stand-in, answered by handoff's ack."""

    def __init__(self, standin: SocketModeStandIn, *, timeout: float = 15.0) -> None:
        self.standin, self.timeout = standin, timeout

    def interaction(self, payload: dict[str, Any]) -> Response:
        """Deliver an `interactive` envelope and wait for its ack."""
        return self._deliver(payload, "interactive")

    def command(self, fields: dict[str, str]) -> Response:
        """Deliver a `slash_commands` envelope and wait for its ack."""
        return self._deliver(dict(fields), "slash_commands")

    def event(self, body: dict[str, Any]) -> Response:
        """Deliver an `events_api` envelope and wait for its ack."""
        return self._deliver(body, "events_api")

    def _deliver(self, payload: dict[str, Any], kind: str) -> Response:
        started = time.perf_counter()
        envelope = self.standin.deliver(payload, kind=kind)
        ack = self.standin.wait_ack(envelope, timeout=self.timeout)
        return Response(200, json.dumps(ack).encode() if ack else b"", time.perf_counter() - started)
