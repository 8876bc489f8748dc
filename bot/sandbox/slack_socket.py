"""A local stand-in for Slack's Socket Mode: WebSocket connections that carry envelopes and expect acks.

Attached to a `SlackStandIn`, it makes that stand-in's `apps.connections.open` answer the app-level token
with a `ws://` URL of this server (a bot token is refused with `not_allowed_token_type`, as Slack does).
Each connection gets `hello`; `deliver(payload)` sends an envelope on one open connection (up to ten, as
Slack spreads them) and sends it again with `retry_attempt` if no ack names its `envelope_id` within 3 s.
Run `python -m bot.sandbox.slack_socket` to serve both stand-ins by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox import socket_envelopes as envelopes
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.socket_envelopes import Envelope

T = TypeVar("T")
APP_TOKEN = "xapp-1-A0HANDOFFBOT-1-sandbox"  # noqa: S105 -- not a secret: the sandbox's published default
ACK_SECONDS = 3.0
RETRIES = 3
MAX_CONNECTIONS = 10
HOST = "applink-sandbox-1"


@dataclass
class Link:
    """One WebSocket connection of the app: `id` in opening order, `open` until it closes either way."""

    id: int
    connection: ServerConnection
    open: bool = True
    draining: bool = False


class SocketModeStandIn:
    """Slack's Socket Mode for the app of one `SlackStandIn`; use as a context manager or start/stop."""

    def __init__(
        self,
        slack: SlackStandIn,
        *,
        app_token: str = APP_TOKEN,
        ack_seconds: float = ACK_SECONDS,
        retries: int = RETRIES,
        drain_seconds: float = 10.0,
    ) -> None:
        if not app_token.startswith("xapp-"):
            raise ValueError(f"app_token {app_token[:5]!r}...: an app-level token starts with xapp-")
        self.slack, self.app_token = slack, app_token
        self.ack_seconds, self.retries, self.drain_seconds = ack_seconds, retries, drain_seconds
        self.cond = threading.Condition(threading.RLock())
        self.links: list[Link] = []
        self.envelopes: dict[str, Envelope] = {}
        self._tickets: set[str] = set()
        self._drains: dict[int, float] = {}
        self._turn = 0
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        """Serve WebSockets on a free 127.0.0.1 port and answer `apps.connections.open` on the Web API stand-in."""
        if self._server is not None:
            return
        self._server = serve(self._serve, "127.0.0.1", 0, ping_interval=None, max_size=2**20)
        self._stopping = False
        for target, name in ((self._server.serve_forever, "slack-socket"), (self._keep_time, "slack-socket-timer")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.slack.attach_socket_mode(self.app_token, self.open_url)

    def stop(self) -> None:
        """Close every connection (code 1001), stop serving and release the port; records stay readable."""
        if self._server is None:
            return
        self.slack.attach_socket_mode(None, None)
        with self.cond:
            self._stopping = True
            self.cond.notify_all()
            links = [link for link in self.links if link.open]
        for link in links:  # websockets 17's shutdown closes them too; 16's leaves them open
            link.connection.close(1001, "going away")
        self._server.shutdown()
        for thread in list(self._threads):
            thread.join()
        self._server, self._threads = None, []

    def __enter__(self) -> SocketModeStandIn:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def open_url(self) -> str:
        """A fresh single-use `ws://` URL, as `apps.connections.open` hands out."""
        if self._server is None:
            raise RuntimeError("the Socket Mode stand-in is not running; call start() or use it in a `with` block")
        ticket = secrets.token_hex(16)
        with self.cond:
            self._tickets.add(ticket)
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.slack.app_id}"

    def open_links(self) -> list[int]:
        """Ids of the connections open now, oldest first (including ones told to disconnect)."""
        with self.cond:
            return [link.id for link in self.links if link.open]

    def opened(self) -> int:
        """How many connections were ever opened."""
        with self.cond:
            return len(self.links)

    def deliver(
        self, payload: dict[str, Any], *, kind: str | None = None, to: int | None = None, lost: bool = False
    ) -> Envelope:
        """Send `payload` in a new envelope on connection `to`, or on the next open one in turn.

        With no connection open, it goes out when one opens. `lost` counts it as sent but never writes it,
        as when a socket dies under it. The returned record fills in as acks come.
        """
        envelope = envelopes.envelope_for(payload, kind)
        with self.cond:
            self._send(envelope, to, lost=lost)
            self.envelopes[envelope.envelope_id] = envelope
        return envelope

    def redeliver(self, envelope: Envelope, *, to: int | None = None) -> None:
        """Send an envelope again at once, as Slack does when an ack went missing (`retry_attempt` grows)."""
        with self.cond:
            self._send(envelope, to)

    def wait_ack(self, envelope: Envelope, timeout: float = 15.0) -> dict[str, Any] | None:
        """Block until the app acks `envelope` and return the ack's payload (None when empty)."""
        self.wait_for(lambda _: envelope.acked or envelope.gave_up, timeout=timeout)
        if not envelope.acked:
            raise TimeoutError(f"envelope {envelope.envelope_id} was sent {len(envelope.sent_on)} times, never acked")
        return envelope.ack

    def disconnect(self, reason: str = "refresh_requested", *, link: int | None = None) -> int:
        """Tell a connection (the oldest open one by default) to reconnect; Slack closes it `drain_seconds` later.

        It gets no new envelopes meanwhile. Returns the connection's id.
        """
        message = envelopes.disconnect(reason, host=HOST)
        with self.cond:
            target = self._link(link)
            target.draining = True
            self._drains[target.id] = time.monotonic() + self.drain_seconds
            self.cond.notify_all()
        self._send_text(target, message)
        return target.id

    def drop(self, *, link: int | None = None) -> int:
        """Cut a connection (the oldest open one by default) without a close frame, as a network failure does."""
        with self.cond:
            target = self._link(link)
        with contextlib.suppress(OSError):  # already gone
            target.connection.socket.shutdown(socket.SHUT_RDWR)
        self.wait_for(lambda _: not target.open, timeout=10)
        return target.id

    def wait_for(self, predicate: Callable[[SocketModeStandIn], T], timeout: float = 10.0) -> T:
        """Block until `predicate(self)` is truthy and return it; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate(self)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Socket Mode stand-in: condition still false after {timeout}s; {self._state()}")
                self.cond.wait(min(remaining, 0.05))

    def _serve(self, connection: ServerConnection) -> None:
        link = self._admit(connection)
        if link is None:
            return
        try:
            for message in connection:
                self._receive(link, message)
        except ConnectionClosed:
            pass
        finally:
            with self.cond:
                link.open = False
                self._drains.pop(link.id, None)
                self.cond.notify_all()

    def _admit(self, connection: ServerConnection) -> Link | None:
        """Check the ticket, register the connection and say hello; refuse an eleventh connection."""
        path = connection.request.path if connection.request else ""
        ticket = parse_qs(urlsplit(path).query).get("ticket", [""])[0]
        with self.cond:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
            full = len(self.open_links()) >= MAX_CONNECTIONS
            refusal = "invalid or spent ticket" if not known else "too many connections" if full else ""
            if not refusal and not self._stopping:
                link = Link(id=len(self.links) + 1, connection=connection)
                self.links.append(link)
                self._send_text(
                    link, envelopes.hello(app_id=self.slack.app_id, connections=len(self.open_links()), host=HOST)
                )
                for envelope in self.envelopes.values():
                    if envelope.due is None and not envelope.acked and not envelope.gave_up:
                        self._send(envelope, link.id)  # it waited for a connection
                self.cond.notify_all()
                return link
        connection.close(1008, refusal or "shutting down")
        return None

    def _receive(self, link: Link, message: str | bytes) -> None:
        """Record an ack, `{"envelope_id": ..., "payload": {...}}`, from whichever connection; ignore anything else."""
        try:
            body = json.loads(message)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        with self.cond:
            envelope = self.envelopes.get(str(body.get("envelope_id")))
            if envelope is not None and not envelope.acked:
                payload = body.get("payload")
                envelope.acked, envelope.acked_on, envelope.due = True, link.id, None
                envelope.ack = payload if isinstance(payload, dict) and payload else None
            self.cond.notify_all()

    def _send(self, envelope: Envelope, to: int | None, *, lost: bool = False) -> None:
        """Send on a connection (holding `cond`); with none open, leave it for the next one to open."""
        candidates = [link for link in self.links if link.open and not link.draining]
        if to is not None:
            candidates = [link for link in self.links if link.id == to and link.open]
            if not candidates:
                raise LookupError(f"connection {to} is not open; open ones: {self.open_links()}")
        if not candidates:
            return
        self._turn += 1
        link = candidates[self._turn % len(candidates)]
        message = envelope.message()
        envelope.sent_on.append(link.id)
        envelope.due = time.monotonic() + self.ack_seconds
        if not lost:
            self._send_text(link, message)
        self.cond.notify_all()

    def _send_text(self, link: Link, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):  # going away: a missing ack brings the envelope back
            link.connection.send(json.dumps(message))

    def _keep_time(self) -> None:
        """Resend envelopes whose ack is overdue, and close drained connections when their time is up."""
        with self.cond:
            while not self._stopping:
                now = time.monotonic()
                for envelope in self.envelopes.values():
                    if envelope.due is not None and envelope.due <= now and not envelope.acked:
                        self._retry(envelope)
                for link_id, deadline in list(self._drains.items()):
                    if deadline <= now:
                        del self._drains[link_id]
                        self._close_later(self.links[link_id - 1])
                self.cond.wait(0.05)

    def _retry(self, envelope: Envelope) -> None:
        envelope.due = None
        if envelope.retry_attempt >= self.retries:
            envelope.gave_up = True
            self.cond.notify_all()
            return
        self._send(envelope, None)  # with no connection open, the next one to open gets it

    def _close_later(self, link: Link) -> None:
        """Close a drained connection from another thread: closing waits for the client's close frame."""
        thread = threading.Thread(target=link.connection.close, args=(1001, "refresh"), name="slack-socket-close")
        thread.start()
        self._threads.append(thread)

    def _link(self, link_id: int | None) -> Link:
        open_links = [link for link in self.links if link.open]
        for link in open_links:
            if link_id is None or link.id == link_id:
                return link
        raise LookupError(f"no open connection {link_id or ''}; open ones: {[link.id for link in open_links]}")

    def _state(self) -> str:
        unacked = [e.envelope_id[:8] for e in self.envelopes.values() if not e.acked]
        return f"{len(self.links)} connections opened, open: {self.open_links()}, unacked envelopes: {unacked}"


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the Web API and Socket Mode stand-ins until interrupted, printing what to configure handoff with."""
    parser = argparse.ArgumentParser(description="Local stand-ins for Slack's Web API and Socket Mode.")
    parser.add_argument("--port", type=int, default=0, help="Web API port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    with SlackStandIn(port=args.port) as slack, SocketModeStandIn(slack) as socket_mode:
        sys.stdout.write(
            f"SLACK_API_URL={slack.url}\nSLACK_BOT_TOKEN={slack.token}\nSLACK_APP_TOKEN={socket_mode.app_token}\n"
        )
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return


if __name__ == "__main__":
    main()
