"""The web process as served: the agents' API (`bot.api`) with the Slack, health and metrics routes of
`bot.app.web` mounted behind it, run by uvicorn. Long-polls wait on the event loop; Slack's requests run
in a pool of threads, so a listener's ack never waits behind an agent's wait."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from a2wsgi import WSGIMiddleware
from fastapi import FastAPI

from bot.api.app import build_api
from bot.app.web import LISTENER_THREADS, wsgi_app
from bot.runtime import Runtime


def asgi_app(runtime: Runtime, *, slack_events: bool = True, socket_state: Callable[[], str] | None = None) -> FastAPI:
    """The API's routes first, then everything `wsgi_app` serves (`/slack/events`, `/healthz`, `/metrics`;
    in Socket Mode, without `slack_events`, health and metrics only)."""
    api = build_api(runtime)
    routes = wsgi_app(runtime, slack_events=slack_events, socket_state=socket_state)
    slack = WSGIMiddleware(routes, workers=LISTENER_THREADS)  # type: ignore[arg-type]
    api.mount("/", slack)  # type: ignore[arg-type]
    return api


def run(app: Any, *, host: str, port: int) -> None:
    """Serve `app` with uvicorn until SIGTERM or SIGINT (graceful: open requests may finish)."""
    uvicorn.run(app, host=host, port=port, access_log=False, timeout_graceful_shutdown=10, log_level="info")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class LocalAsgiServer:
    """uvicorn in a daemon thread (on a free loopback port by default): the tests' web process, and the
    API, health and metrics routes beside Socket Mode."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        reach = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        self.url = f"http://{reach}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, access_log=False, log_level="warning", timeout_graceful_shutdown=2)
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._serve, name="handoff-asgi", daemon=True)
        self._thread.start()
        if not self._server.ready.wait(timeout=30):
            raise RuntimeError("uvicorn did not start within 30 s")

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()
