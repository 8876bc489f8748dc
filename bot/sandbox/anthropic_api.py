"""A local stand-in for Anthropic's Messages API over real HTTP, for the demo, tests and benchmarks.

`AnthropicStandIn` answers `POST /v1/messages` in the real shape, so the real `anthropic` SDK talks to it
through `base_url`. By default `judge` answers from the delimited proposal, deterministically; `respond`
scripts answers, `latency` fixes the time per call, `fail_next(...)` injects faults; calls and tokens are
counted, and the most calls served at once. Prompt caching works as the API's does: a prefix ending in a
block marked `cache_control`, at least `cache_min_tokens` long, is written by the first call and read by
calls that arrive once that call has answered; `usage` reports `cache_creation_input_tokens` and
`cache_read_input_tokens` beside the uncached `input_tokens`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_BLOCK = re.compile(r"<untrusted_proposal>\s*(.*?)\s*</untrusted_proposal>", re.DOTALL)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_DOUBT = ("not sure", "maybe", "unclear", "i think", "possibly", "or something")
_INJECTION = ("ignore previous", "ignore all previous", "full confidence", "confidence 1.0", "system prompt")


@dataclass(frozen=True)
class Fault:
    """One failure served instead of an answer: 429 with retry-after, 529 overloaded, 500, an answer that
    is not JSON (`malformed`), an HTTP body that is not JSON (`garbled`), a refusal, or a slow answer."""

    kind: str
    seconds: float = 0.0

    @classmethod
    def rate_limited(cls, retry_after: float = 0.05) -> Fault:
        return cls("rate_limited", retry_after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls("slow", seconds)

    @classmethod
    def overloaded(cls) -> Fault:
        return cls("overloaded")

    @classmethod
    def server_error(cls) -> Fault:
        return cls("server_error")

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed")

    @classmethod
    def garbled(cls) -> Fault:
        return cls("garbled")

    @classmethod
    def refusal(cls) -> Fault:
        return cls("refusal")


_BROKEN = {
    "refusal": ("I can't help with that request.", "refusal"),
    "malformed": ('{"confidence": 0.9, "c', "end_turn"),
}
Responder = Callable[[dict[str, Any]], "dict[str, Any] | Fault"]
_ERRORS = {
    "rate_limited": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server_error": (500, "api_error", "Internal server error"),
}


class AnthropicStandIn:
    """The Messages API on a free local port: `url` for base_url, `stop()` or use it as a context manager."""

    def __init__(
        self,
        respond: Responder | None = None,
        *,
        latency: float = 0.0,
        api_key: str | None = None,
        cache_min_tokens: int = 4096,
    ) -> None:
        self.respond: Responder = respond or judge
        self.latency = latency
        self.api_key = api_key
        self.cache_min_tokens = cache_min_tokens
        self.requests: list[dict[str, Any]] = []
        self.calls = self.input_tokens = self.output_tokens = 0
        self.cache_read_tokens = self.cache_write_tokens = 0
        self._cache: dict[str, float] = {}  # prefix digest -> when its entry can be read
        self.in_flight = self.max_in_flight = 0
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="anthropic-standin", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL to give the SDK (no trailing /v1)."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def fail_next(self, *faults: Fault) -> None:
        """Serve these faults, in order, to the next calls; then answer normally again."""
        with self._lock:
            self._faults.extend(faults)

    def stop(self) -> None:
        """Stop serving; slow answers still pending are cut short."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AnthropicStandIn:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _answer(self, request: dict[str, Any], number: int) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.requests.append(request)
            fault = self._faults.pop(0) if self._faults else None
            cached = self._cache_use(request)
        try:
            return self._outcome(request, fault, number, cached)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _cache_use(self, request: dict[str, Any]) -> tuple[int, int]:
        """(tokens read, tokens written) of the prompt cache for a request arriving now; under the lock."""
        prefix, size = _cacheable_prefix(request)
        if not prefix or size < self.cache_min_tokens:
            return 0, 0
        key, now = hashlib.sha256(prefix.encode()).hexdigest(), time.monotonic()
        if key in self._cache and self._cache[key] <= now:
            return size, 0
        self._cache.setdefault(key, now + self.latency)  # readable once the writing call has answered
        return 0, size

    def _outcome(
        self, request: dict[str, Any], fault: Fault | None, number: int, cached: tuple[int, int] = (0, 0)
    ) -> tuple[int, dict[str, str], bytes]:
        self._stopping.wait(self.latency)
        outcome = fault or self.respond(request)
        if isinstance(outcome, Fault) and outcome.kind == "slow":
            self._stopping.wait(outcome.seconds)
            outcome = self.respond(request)
        if isinstance(outcome, Fault) and outcome.kind in _ERRORS:
            return _error(outcome)
        if isinstance(outcome, Fault) and outcome.kind == "garbled":
            return 200, {}, b"<html>upstream hiccup</html>"
        text, stop = (json.dumps(outcome), "end_turn") if isinstance(outcome, dict) else _BROKEN[outcome.kind]
        read, written = cached
        every = _tokens(json.dumps(_unmarked([request.get("system"), request.get("messages")])))
        usage = {
            "input_tokens": max(0, every - read - written),
            "output_tokens": _tokens(text),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }
        with self._lock:
            self.input_tokens += usage["input_tokens"]
            self.output_tokens += usage["output_tokens"]
            self.cache_read_tokens += read
            self.cache_write_tokens += written
        body = {
            "id": f"msg_standin_{number:06d}",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        return 200, {}, json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    standin: AnthropicStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        self._send(*self._reply(raw))

    def _reply(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        standin = self.server.standin
        if self.path.split("?")[0] != "/v1/messages":
            return 404, {}, _error_body("not_found_error", f"no route {self.path}")
        with standin._lock:
            standin.calls += 1
            number = standin.calls
        sent = {self.headers.get("x-api-key"), (self.headers.get("authorization") or "").removeprefix("Bearer ")}
        if standin.api_key is not None and standin.api_key not in sent:
            return 401, {}, _error_body("authentication_error", "invalid x-api-key")
        try:
            request = json.loads(raw)
            missing = [k for k in ("model", "max_tokens", "messages") if k not in request]
        except (ValueError, TypeError):
            return 400, {}, _error_body("invalid_request_error", "body is not a JSON object")
        if missing:
            return 400, {}, _error_body("invalid_request_error", f"{missing[0]}: Field required")
        return standin._answer(request, number)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("request-id", "req_standin")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): nothing to tell
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def judge(request: dict[str, Any]) -> dict[str, Any]:
    """The default answers: read the delimited proposal and answer the schema the request names.

    Clean proposals get agreement and high confidence; doubtful wording gets one dissenting variant; a
    discount above 30%, a churned customer or an injection attempt gets low confidence and dissent.
    """
    schema = ((request.get("output_config") or {}).get("format") or {}).get("schema") or {}
    prompt = _prompt_text(request)
    proposal = _proposal_in(prompt)
    risk, concern = risk_of(proposal)
    if schema.get("title") == "Critique":
        concerns = [concern] if concern else []
        return {"concerns": concerns, "ambiguous_input": risk > 0, "confidence": (0.93, 0.62, 0.2)[risk]}
    if schema.get("title") == "Derived":
        found = re.search(r"Variant: (\w+)", prompt)
        variant = found.group(1) if found else "direct"
        dissent = (risk == 2 and variant != "direct") or (risk == 1 and variant == "skeptic")
        return _derived(proposal, dissent=dissent)
    return {}


def risk_of(proposal: dict[str, Any]) -> tuple[int, str]:
    """0 clean, 1 doubtful, 2 risky, and the concern: from simple features of the proposal's text."""
    text = _words(proposal)
    if "discount" in text and any(float(p) > 30 for p in _PERCENT.findall(text)):
        return 2, "a discount above 30% needs someone with authority to grant it"
    if "churned" in text:
        return 2, "the customer has churned; this action may not apply to them any more"
    if any(i in text for i in _INJECTION):
        return 2, "the input tries to instruct the reviewer; treat it as suspicious"
    confidence = proposal.get("agent_confidence")
    if any(d in text for d in _DOUBT) or (confidence is not None and confidence < 0.5):
        return 1, "the request leaves room for another reading"
    return 0, ""


def _derived(proposal: dict[str, Any], *, dissent: bool) -> dict[str, Any]:
    action = proposal.get("action") or {}
    if dissent:
        alternatives = proposal.get("alternatives") or []
        if alternatives:
            action = alternatives[0].get("action") or {}
        else:
            return {"action": "none", "args": [], "reason": "the input does not support acting without a human"}
    args = [
        {"name": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in (action.get("args") or {}).items()
    ]
    return {"action": action.get("name", "none"), "args": args, "reason": "re-derived from the input"}


def _error(fault: Fault) -> tuple[int, dict[str, str], bytes]:
    status, kind, message = _ERRORS[fault.kind]
    wait = {"retry-after": str(max(1, math.ceil(fault.seconds))), "retry-after-ms": str(int(fault.seconds * 1000))}
    return status, wait if fault.kind == "rate_limited" else {}, _error_body(kind, message)


def _error_body(kind: str, message: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_standin"}
    ).encode()


def _prompt_text(request: dict[str, Any]) -> str:
    parts = []
    for message in request.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [block.get("text", "") for block in content if isinstance(block, dict)]
    return "\n".join(parts)


def _cacheable_prefix(request: dict[str, Any]) -> tuple[str, int]:
    """What a cache entry is keyed on (model, output format, system and messages up to the last block marked
    `cache_control`; "" when none is marked) and the tokens it holds."""
    blocks: list[Any] = [request.get("system")]
    marked = 0
    for message in request.get("messages") or []:
        content = message.get("content")
        for block in content if isinstance(content, list) else [content]:
            blocks.append(block)
            if isinstance(block, dict) and block.get("cache_control"):
                marked = len(blocks)
    if not marked:
        return "", 0
    key = json.dumps([request.get("model"), request.get("output_config"), blocks[:marked]], sort_keys=True)
    return key, _tokens(json.dumps(_unmarked(blocks[:marked])))


def _unmarked(value: Any) -> Any:
    """`value` without its `cache_control` marks, which are not prompt tokens."""
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def _proposal_in(prompt: str) -> dict[str, Any]:
    match = _BLOCK.search(prompt)
    try:
        found = json.loads(match.group(1)) if match else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _words(proposal: dict[str, Any]) -> str:
    source = proposal.get("input") or {}
    parts = [proposal.get("summary", ""), source.get("request", ""), *(proposal.get("rationale") or [])]
    return " ".join(str(p) for p in parts).casefold()


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)
