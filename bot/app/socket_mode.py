"""Socket Mode for the web process: Slack's envelopes over a WebSocket, into the same Bolt app as HTTP.

`SocketModeLink` keeps one connection open (the `websockets` library does the protocol and keepalive
pings): on Slack's `disconnect` it opens the next connection before leaving the old one, and on a dropped
socket it reconnects at once, with backoff while Slack is unreachable, logging one line per reconnect.
`SocketModeApp` hands each envelope to Bolt and acks with Bolt's answer; an envelope Slack sends again
(a missing ack, or a second connection) is acked without being handled twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.version import version as websockets_version

from bot.settings import SettingsError

log = logging.getLogger(__name__)
PING_SECONDS = 10.0  # a connection silent for two of these is given up (a dropped one is noticed at once)
MAX_BACKOFF_SECONDS = 30.0
RETIRE_SECONDS = 10.0  # how long a connection Slack asked us to leave is still read (Slack closes it sooner)
SEEN_SECONDS = 3600
MAX_MESSAGE_BYTES = 4 * 2**20
# websockets 17 asks for `legacy=True` to hand back the connection itself; 16 (which the OpenAI Agents SDK's extra
# still requires) has no such flag and returns the connection anyway.
CONNECT_OPTIONS: dict[str, Any] = {"legacy": True} if int(websockets_version.split(".")[0]) >= 17 else {}
REFUSALS = frozenset(
    {"not_authed", "invalid_auth", "not_allowed_token_type", "token_revoked", "token_expired", "account_inactive"}
)
Handler = Callable[[SocketModeRequest], dict[str, Any] | None]


class NotAckedError(RuntimeError):
    """An envelope deliberately left unacked, so that Slack sends it again."""


class SocketModeLink:
    """One live Socket Mode connection to Slack, kept open until `close`; `handler` answers each envelope.

    `handler(request)` returns the ack's payload (None for an empty ack), or raises to leave the envelope
    unacked so Slack sends it again.
    """

    def __init__(
        self,
        app_token: str,
        *,
        web_client: WebClient,
        handler: Handler,
        threads: int = 10,
        retire_seconds: float = RETIRE_SECONDS,
    ) -> None:
        self.app_token, self.web_client, self.handler = app_token, web_client, handler
        self.retire_seconds = retire_seconds
        self.reconnects = 0
        self._lock = threading.RLock()
        self._current: ClientConnection | None = None
        self._connections: list[ClientConnection] = []
        self._readers: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handoff-socket")
        self._closed = threading.Event()

    def connect(self) -> None:
        """Open the first connection: SettingsError when Slack refuses the app token; when Slack cannot be
        reached, keep trying in the background (`state()` says `connecting` meanwhile)."""
        try:
            self._replace(None)
        except SlackApiError as exc:
            error = str(exc.response.get("error")) if exc.response is not None else ""
            if error in REFUSALS:
                raise SettingsError(
                    f"SLACK_APP_TOKEN was refused by Slack ({error}); use an app-level token (xapp-…) with the"
                    " connections:write scope, from your app's Basic Information → App-Level Tokens"
                ) from None
            self._keep_trying(f"Slack answered {error or exc}")
        except Exception as exc:  # Slack unreachable for now: the process stays up and says so on /healthz
            self._keep_trying(f"{type(exc).__name__}: {exc}")

    def _keep_trying(self, why: str) -> None:
        log.warning("Socket Mode could not connect (%s); retrying", why)
        thread = threading.Thread(
            target=self._reconnect, args=(None,), kwargs={"backoff": 1.0}, name="handoff-socket-connect"
        )
        with self._lock:
            self._readers.append(thread)
        thread.start()

    def state(self) -> str:
        """`open` while a connection is open, `connecting` while none is, `closed` after `close`."""
        if self._closed.is_set():
            return "closed"
        current = self._current
        return "open" if current is not None and current.state is State.OPEN else "connecting"

    def close(self) -> None:
        """Close every connection and wait for the threads that read them and handle envelopes."""
        self._closed.set()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        for reader in list(self._readers):
            reader.join()
        self._pool.shutdown(wait=True)

    def _replace(self, reason: str | None) -> None:
        """Open a new connection and make it current; the old one keeps delivering until it closes."""
        url = self.web_client.apps_connections_open(app_token=self.app_token)["url"]
        connection = connect(
            str(url),
            **CONNECT_OPTIONS,
            ping_interval=PING_SECONDS,
            ping_timeout=PING_SECONDS,
            open_timeout=10,
            max_size=MAX_MESSAGE_BYTES,
        )
        with self._lock:
            if self._closed.is_set():
                connection.close()
                return
            self._current = connection
            self._connections.append(connection)
            self._readers = [reader for reader in self._readers if reader.is_alive()]
            reader = threading.Thread(target=self._read, args=(connection,), name="handoff-socket-reader")
            self._readers.append(reader)
            reader.start()
            if reason is not None:
                self.reconnects += 1
                log.info("Socket Mode reconnected after %s (reconnect %d since start)", reason, self.reconnects)

    def _read(self, connection: ClientConnection) -> None:
        """Read one connection until it closes; once replaced on Slack's request, for `retire_seconds` more."""
        retire_at: float | None = None
        try:
            while True:
                timeout = None if retire_at is None else max(retire_at - time.monotonic(), 0.0)
                try:
                    message = connection.recv(timeout=timeout)
                except TimeoutError:
                    connection.close()
                    break
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                if self._receive(text, connection) and retire_at is None:
                    retire_at = time.monotonic() + self.retire_seconds
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
                lost = connection is self._current and not self._closed.is_set()
            if lost:
                code = connection.close_code
                self._reconnect("connection dropped" if code in (None, 1006) else f"closed by Slack with code {code}")

    def _receive(self, text: str, connection: ClientConnection) -> bool:
        """Hand an envelope to the pool; on Slack's `disconnect`, move to a new connection and return True."""
        try:
            message = json.loads(text)
        except ValueError:
            return False
        if not isinstance(message, dict):
            return False
        if message.get("type") == "disconnect":
            self._reconnect(f"Slack asked: {str(message.get('reason'))[:40]}")
            return True
        request = SocketModeRequest.from_dict(message)
        if request is not None:
            self._pool.submit(self._answer, request, connection)
        return False

    def _answer(self, request: SocketModeRequest, origin: ClientConnection) -> None:
        try:
            payload = self.handler(request)
        except NotAckedError as exc:
            log.warning("%s; Slack will send it again", exc)
            return
        except Exception:
            log.exception("a %s envelope was not handled; Slack will send it again", request.type)
            return
        self._send(json.dumps(SocketModeResponse(request.envelope_id, payload).to_dict()), origin)

    def _send(self, text: str, origin: ClientConnection) -> None:
        """Ack on the envelope's own connection, else on any open one; a lost ack brings a redelivery."""
        for connection in (origin, self._current, *reversed(self._connections)):
            if connection is None:
                continue
            try:
                connection.send(text)
                return
            except ConnectionClosed:
                continue
        log.warning("no open Socket Mode connection to ack on; Slack will send the envelope again")

    def _reconnect(self, reason: str | None, *, backoff: float = 0.0) -> None:
        """Replace the connection (after `backoff` s), retrying with backoff doubling to 30 s while it fails."""
        while not self._closed.wait(backoff):
            try:
                self._replace(reason)
                return
            except Exception as exc:  # whatever failed, keep trying: the web process is useless unconnected
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF_SECONDS)
                log.warning(
                    "Socket Mode reconnect failed (%s: %s); retrying in %.0f s", type(exc).__name__, exc, backoff
                )


class SocketModeApp:
    """The Bolt app behind a `SocketModeLink`: each envelope dispatched once across processes (via Redis)."""

    def __init__(self, app: App, *, app_token: str, connection: redis.Redis) -> None:
        self.app, self.redis = app, connection
        self.link = SocketModeLink(app_token, web_client=app.client, handler=self.handle)

    def handle(self, request: SocketModeRequest) -> dict[str, Any] | None:
        """Dispatch to Bolt and return the ack payload; a repeat of a handled envelope is only acked."""
        key = _seen_key(request)
        if not self._first(key):
            return None
        headers: dict[str, str | Sequence[str]] | None = None
        if request.retry_attempt:
            headers = {"x-slack-retry-num": str(request.retry_attempt)}
        try:
            response = self.app.dispatch(BoltRequest(mode="socket_mode", body=request.payload, headers=headers))
        except Exception:
            self._forget(key)
            raise
        if response.status == 404:
            return None  # no listener for it: acked, since sending it again cannot help
        if response.status != 200:
            self._forget(key)  # not acked: let Slack's next attempt be handled
            raise NotAckedError(f"a {request.type} envelope failed in its listener ({response.status})")
        return _ack_payload(response.body, response.headers.get("content-type", [""])[0])

    def _forget(self, key: str) -> None:
        try:
            self.redis.delete(key)
        except redis.RedisError:
            log.warning("could not clear a Socket Mode delivery mark; Slack's next attempt may be skipped")

    def _first(self, key: str) -> bool:
        try:
            return bool(self.redis.set(key, "1", nx=True, ex=SEEN_SECONDS))
        except redis.RedisError:
            return True  # deciding stays exactly once through the ledger; a repeated note is the lesser harm

    def serve_forever(self) -> None:
        """Connect, then block until interrupted."""
        self.link.connect()
        try:
            threading.Event().wait()
        finally:
            self.link.close()


def _seen_key(request: SocketModeRequest) -> str:
    """What identifies one delivery from Slack's side: the interaction's trigger, the event, else the envelope."""
    payload = request.payload
    identity = payload.get("trigger_id") or payload.get("event_id") or request.envelope_id
    digest = hashlib.sha256(f"{request.type}:{identity}".encode()).hexdigest()[:32]
    return f"handoff:socket:seen:{digest}"


def _ack_payload(body: str | None, content_type: str) -> dict[str, Any] | None:
    if not body:
        return None
    if content_type.startswith("application/json"):
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {"text": body}
    return {"text": body}
