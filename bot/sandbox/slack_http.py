"""The stand-in's HTTP face: `/api/<method>` as Slack's Web API, `/actions/<id>` as response_urls."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from bot.sandbox.slack_methods import answer, refuse, respond
from bot.sandbox.slack_params import decode_json_fields
from bot.sandbox.slack_records import ApiError, Reply
from bot.sandbox.slack_workspace import Workspace


class StandInServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that answers for one workspace."""

    daemon_threads = True

    def __init__(self, workspace: Workspace, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.workspace = workspace

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (it timed out, or its process was killed) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: StandInServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the call log is the record."""

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            reply = self._route(path, query)
        except Exception as exc:  # a bug here must reach the test as a refusal, not a hung client
            ws = self.server.workspace
            reply = refuse(ws, path, {}, ApiError("fatal_error", [f"sandbox bug: {exc!r}"]), status=500)
        self._send(reply)

    def _route(self, path: str, query: str) -> Reply:
        ws = self.server.workspace
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not path.startswith(("/api/", "/actions/")):
            return Reply(404, {"ok": False, "error": "not_found"})
        method = path.removeprefix("/api/") if path.startswith("/api/") else "response_url"
        try:
            params = {**_form(query), **self._body(raw)}
        except ApiError as exc:
            return refuse(ws, method, {}, exc)
        if method == "response_url":
            return respond(ws, path.removeprefix("/actions/"), decode_json_fields(params))
        token = params.pop("token", None) or self._bearer()
        return answer(ws, method, decode_json_fields(params), token)

    def _body(self, raw: bytes) -> dict[str, Any]:
        if not raw:
            return {}
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return _json_object(raw)
        return _form(raw.decode("utf-8", errors="replace"))

    def _bearer(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _send(self, reply: Reply) -> None:
        body = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _form(text: str) -> dict[str, Any]:
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError("invalid_json", ["the body is not valid JSON"]) from None
    if not isinstance(parsed, dict):
        raise ApiError("invalid_json", ["the body must be a JSON object"])
    return parsed
