"""The agent side's HTTP transport: handoff's API with a Bearer token, for agents that cannot reach
handoff's Redis. `Client.from_url("https://...", token=...)` (in `bot.client`) is built on it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from scoring.models import Decision

LONG_POLL_MAX = 60.0
RATE_LIMIT_RETRIES = 5


class ApiRequestError(RuntimeError):
    """handoff's API refused a request: `status` and the API's own message (which names the bad field)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class HttpTransport:
    """Requests to handoff's HTTP API with an agent's Bearer token; a 429 is waited out as Retry-After asks."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        if not token:
            raise ValueError("an http(s) handoff URL needs token=: create one with `handoff agents add NAME`")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token

    def __repr__(self) -> str:  # never show the token
        return f"HttpTransport({self.base_url!r})"

    def submit(self, proposal: dict[str, Any]) -> str:
        """POST a proposal (as JSON-ready fields) and return its id."""
        _status, body = self._request("POST", "/v1/proposals", proposal)
        return str(body["id"])

    def wait(self, proposal_id: str, timeout: float) -> Decision | None:
        """The decision, or None if none arrives within `timeout` seconds (long-polls of up to 60 s)."""
        deadline = time.monotonic() + max(timeout, 0)
        path = f"/v1/proposals/{urllib.parse.quote(proposal_id, safe='')}/decision"
        while True:
            chunk = max(0.0, min(LONG_POLL_MAX, deadline - time.monotonic()))
            status, body = self._request("GET", f"{path}?wait={chunk:.3f}", None, timeout=chunk + self.timeout)
            if status == 200:
                return Decision.model_validate(body)
            if time.monotonic() >= deadline:
                return None

    def report_execution(self, proposal_id: str, ok: bool, detail: str) -> None:
        """POST how the agent's run of the decided action went."""
        path = f"/v1/proposals/{urllib.parse.quote(proposal_id, safe='')}/execution"
        self._request("POST", path, {"ok": bool(ok), "detail": str(detail)[:4000]})

    def _request(
        self, method: str, path: str, payload: Any, *, timeout: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = json.dumps(payload).encode() if payload is not None else None
        for _attempt in range(RATE_LIMIT_RETRIES):
            request = urllib.request.Request(  # noqa: S310 - the http(s) URL the agent configured
                self.base_url + path,
                data=data,
                method=method,
                headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                    return int(response.status), json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                with exc:
                    body = _json(exc.read())
                if exc.code == 429:
                    time.sleep(min(float(exc.headers.get("Retry-After") or 1), 30))  # the server asked us to wait
                    continue
                raise ApiRequestError(exc.code, str(body.get("error") or body)) from None
        raise ApiRequestError(429, "still over the rate limit after retrying; slow down")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"error": raw[:200].decode(errors="replace")}
    return body if isinstance(body, dict) else {"error": str(body)}
