"""The web process: the Bolt app on `POST /slack/events`, plus `GET /healthz` and `GET /metrics`.

`build_app` constructs the Bolt app from a runtime; `wsgi_app` puts `bot.app.gate` in front of it (body
cap, signature, replay and shape checks before anything is parsed) and adds the health and metrics
routes; `serve` runs it, behind the agents' API, under uvicorn (`bot.app.asgi`), or Socket Mode when an
app token is configured.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.app import listeners
from bot.app.gate import gate
from bot.app.listeners import unrecorded
from bot.app.socket_mode import SocketModeApp
from bot.insights.metrics import BUCKETS, render_metrics
from bot.runtime import Runtime
from bot.settings import SettingsError
from bot.slack.failures import describe, is_outside_failure
from bot.store.metric_totals import LedgerTotals

log = logging.getLogger(__name__)
LISTENER_THREADS = 32
SHAPE_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _DropMessage(logging.Filter):
    """Drops one known log message (matched exactly) that says nothing to an operator."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


def _quiet_bolt() -> None:
    """Bolt reads SLACK_BOT_TOKEN itself and warns it is unused when given a client; ours is built from it."""
    bolt = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _DropMessage) for f in bolt.filters):
        bolt.addFilter(_DropMessage(warning_client_prioritized_and_token_skipped()))


def build_app(runtime: Runtime) -> App:
    """The Bolt app: signature verification always on, listeners from `bot.app.listeners`."""
    if not runtime.settings.slack_bot_token.get_secret_value():
        raise SettingsError("SLACK_BOT_TOKEN is not set; copy the Bot User OAuth Token (xoxb-…) from your Slack app")
    secret = runtime.settings.slack_signing_secret.get_secret_value()
    if not secret:
        raise SettingsError("SLACK_SIGNING_SECRET is not set; copy it from your Slack app's Basic Information")
    _quiet_bolt()
    app = App(
        client=runtime.slack,
        signing_secret=secret,
        token_verification_enabled=False,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
        # Bolt's default pool of 5 threads makes concurrent clicks queue for their ack.
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="handoff-listener"),
    )

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        kind = body.get("type") if isinstance(body, dict) else None
        if unrecorded.tell_if_unrecorded(runtime, error, body):  # the ledger unreachable: "try again"
            return BoltResponse(status=500, body="")
        if is_outside_failure(error):  # Slack down or rate limiting: one line, not a traceback
            log.warning("listener could not reach Slack on a %s request (%s)", kind, describe(error))
        else:
            log.error("listener failed on a %s request: %s", kind, error, exc_info=error)
        if isinstance(error, SHAPE_ERRORS):  # a signed body whose fields are not what Slack sends
            return BoltResponse(status=400, body="")
        return BoltResponse(status=500, body="")

    listeners.register(app, runtime)
    return app


def wsgi_app(runtime: Runtime, *, slack_events: bool = True, socket_state: Callable[[], str] | None = None) -> WSGIApp:
    """Slack's, health and metrics routes (served through `bot.app.asgi`); without `slack_events` (Socket Mode)
    only health and metrics.

    `socket_state` (Socket Mode) makes `/healthz` report the connection, and answer 503 while none is open.
    """
    slack_handler = None
    if slack_events:
        secret = runtime.settings.slack_signing_secret.get_secret_value()
        slack_handler = gate(SlackRequestHandler(build_app(runtime)), signing_secret=secret, connection=runtime.redis)

    totals = LedgerTotals(BUCKETS)  # the ledger's counters, read incrementally from one scrape to the next

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events" and method == "POST" and slack_handler is not None:
            return slack_handler(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            status, body = _health(runtime, socket_state)
            sent = _respond(start_response, status, json.dumps(body), "application/json")
            return [] if method == "HEAD" else sent  # HEAD: the GET's headers, no body
        if path == "/metrics" and method == "GET":
            return _respond(start_response, "200 OK", render_metrics(runtime, totals), "text/plain; version=0.0.4")
        return _respond(start_response, "404 Not Found", "not found\n", "text/plain")

    return application


def _health(runtime: Runtime, socket_state: Callable[[], str] | None = None) -> tuple[str, dict[str, Any]]:
    checks: dict[str, Any] = {}
    if socket_state is not None:
        state = socket_state()
        checks["socket"] = True if state == "open" else state
    try:
        checks["redis"] = bool(runtime.redis.ping())
    except Exception as exc:  # health must answer, whatever is broken
        checks["redis"] = f"error: {type(exc).__name__}"
    try:
        checks["ledger"] = runtime.ledger.counts()["proposals"] >= 0
    except Exception as exc:
        checks["ledger"] = f"error: {type(exc).__name__}"
    ok = all(v is True for v in checks.values())
    return ("200 OK" if ok else "503 Service Unavailable"), {"ok": ok, **checks}


def _respond(start_response: StartResponse, status: str, body: str, content_type: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def serve(runtime: Runtime, *, host: str = "0.0.0.0", port: int) -> None:  # noqa: S104
    """Run the web process until stopped: Socket Mode when SLACK_APP_TOKEN is set, else HTTP."""
    from bot.app.asgi import LocalAsgiServer, asgi_app, run

    app_token = runtime.settings.slack_app_token.get_secret_value()
    if app_token:
        socket_app = SocketModeApp(build_app(runtime), app_token=app_token, connection=runtime.redis)
        routes = asgi_app(runtime, slack_events=False, socket_state=socket_app.link.state)
        http = LocalAsgiServer(routes, host=host, port=port)
        log.info("connecting to Slack in Socket Mode; the agents' API, /healthz and /metrics on %s", http.url)
        socket_app.serve_forever()
        return

    run(asgi_app(runtime), host=host, port=port)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer:
    """A threaded WSGI server in a daemon thread: the demo's and the tests' web app on a free loopback port,
    and the health and metrics routes in Socket Mode. Slack's HTTP requests in production go to uvicorn."""

    def __init__(self, application: WSGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_server(
            host, port, application, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._reach = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        self._thread = threading.Thread(target=self._server.serve_forever, name="handoff-web", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL to reach it from this machine, e.g. http://127.0.0.1:54321."""
        return f"http://{self._reach}:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
