"""Helpers for the HTTP API tests: a plain HTTP call, an agent with a token, a webhook receiver."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from bot.api.credentials import new_agent
from bot.runtime import Runtime
from bot.store.agents import AgentStore


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request to handoff's API; the body parsed as JSON."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=90)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(payload) if payload else None
        )
    finally:
        conn.close()


def add_agent(runtime: Runtime, name: str, *, webhook: str | None = None) -> tuple[str, str | None]:
    """Register an agent in the runtime's ledger; returns its token and webhook secret."""
    agent, token = new_agent(name, owner=None, webhook_url=webhook)
    AgentStore(runtime.ledger).add(agent)
    return token, agent.webhook_secret


@dataclass
class Receiver:
    """A webhook receiver on a free port: answers each POST with the next status in `statuses`."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
