"""The gate in front of Bolt on `POST /slack/events`: nothing is parsed before it is bounded and signed.

In order: a body over `MAX_BODY_BYTES` is refused unread (413); a request whose Slack signature does
not verify (absent, malformed, stale, altered, a non-numeric timestamp) gets 401; a signature seen
before within its validity window is a replay and is answered 200 with no effect; a signed body that
is not what Slack sends (not UTF-8, not JSON where JSON is due, or a shape Bolt cannot read) gets 400.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import redis

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 2_000_000
SIGNATURE_WINDOW_S = 300
REPLAY_WINDOW_S = 2 * SIGNATURE_WINDOW_S  # a signature verifies from 5 minutes before to 5 after its timestamp
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def seen_key(signature: str) -> str:
    return f"handoff:seen-request:{signature}"


def gate(app: WSGIApp, *, signing_secret: str, connection: redis.Redis, max_body: int = MAX_BODY_BYTES) -> WSGIApp:
    """Wrap the Bolt WSGI handler `app` with the checks above."""
    key = signing_secret.encode()

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = _read_bounded(environ, max_body)
        if body is None:
            return _answer(start_response, "413 Content Too Large", f"body over {max_body} bytes\n")
        stamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
        if not (_TIMESTAMP.fullmatch(stamp) and _SIGNATURE.fullmatch(signature)):
            return _answer(start_response, "401 Unauthorized", "missing or malformed Slack signature\n")
        if not is_signed(key, body, stamp, signature, now=time.time()):
            return _answer(start_response, "401 Unauthorized", "invalid or stale Slack signature\n")
        try:
            first_time = connection.set(seen_key(signature), "1", nx=True, ex=REPLAY_WINDOW_S)
        except redis.RedisError as exc:
            log.warning("cannot check for a replayed request (%s); refusing it", exc)
            return _answer(start_response, "503 Service Unavailable", "try again\n")
        if not first_time:
            log.info("ignored a replayed Slack request (signature seen within the last %ds)", REPLAY_WINDOW_S)
            return _answer(start_response, "200 OK", "")
        problem = malformed(body, str(environ.get("CONTENT_TYPE", "")))
        if problem:
            return _answer(start_response, "400 Bad Request", problem + "\n")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            return app(environ, start_response)
        except Exception:  # Bolt choked on a signed body of an unexpected shape (say, a list where a dict goes)
            log.exception("a signed request Bolt could not read; answered 400")
            return _answer(start_response, "400 Bad Request", "body is not a request Slack sends\n")

    return application


def signature_of(key: bytes, body: bytes, stamp: str) -> str:
    """Slack's `v0=` signature of a raw body (over its bytes: slack_sdk's verifier needs UTF-8)."""
    return "v0=" + hmac.new(key, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def is_signed(key: bytes, body: bytes, stamp: str, signature: str, *, now: float) -> bool:
    """True when `signature` is Slack's for this body and `stamp` is within five minutes of `now`."""
    if abs(now - int(stamp)) > SIGNATURE_WINDOW_S:
        return False
    return hmac.compare_digest(signature_of(key, body, stamp), signature)


def malformed(body: bytes, content_type: str) -> str:
    """Why a signed body is not one Slack would send ("" when it could be), read the way Bolt reads it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    try:
        if not text:
            return ""
        if content_type == "application/json" or text.startswith("{"):
            data: Any = json.loads(text)
        elif "payload" in text:
            payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
            data = json.loads(payload) if payload is not None else {}
        else:
            data = dict(parse_qsl(text, keep_blank_values=True))
    except (ValueError, RecursionError):
        return "body is not JSON or a form with a JSON payload"
    return "" if isinstance(data, dict) else "body is not a JSON object"


def _read_bounded(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is (or says it is) longer than `limit`; nothing over it is read."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    stream = environ["wsgi.input"]
    body: bytes = stream.read(declared) if declared > 0 else b""
    return body if len(body) <= limit else None


def _answer(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    """A short JSON answer, `{"error": ...}` as Bolt's own refusals are (empty for a replay)."""
    data = json.dumps({"error": text.strip()}).encode() if text else b""
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
