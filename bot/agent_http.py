"""The agent side over HTTP: the same `Client` (submit, wait, report_execution, `@reviewed`) talking to
handoff's API with a Bearer token, for agents that cannot reach handoff's Redis.

client = Client.from_url("https://handoff.example.com", token="hnd_...")
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from bot.client import Client, ProposalError, parse_proposal
from scoring.models import Decision, Proposal
from scoring.policy import Policy

LONG_POLL_MAX = 60.0
RATE_LIMIT_RETRIES = 5


class ApiRequestError(RuntimeError):
    """handoff's API refused a request for a reason other than the proposal's content (token, id, limit)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class HttpClient(Client):
    """A `Client` whose transport is handoff's HTTP API."""

    def __init__(self, base_url: str, token: str, *, policy: Policy | None = None, timeout: float = 30.0) -> None:
        if not token:
            raise ValueError("an http(s) handoff URL needs token=: create one with `handoff agents add NAME`")
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.timeout = timeout
        self._token = token

    def __repr__(self) -> str:  # never show the token
        return f"HttpClient({self.base_url!r})"

    def submit(self, proposal: Mapping[str, Any] | Proposal) -> str:
        """Send a proposal for review and return its id; resubmitting an id with the same body is a no-op."""
        parsed = parse_proposal(proposal, policy=self.policy)
        _status, body = self._request("POST", "/v1/proposals", parsed.model_dump(mode="json", exclude_unset=True))
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

    def report_execution(self, proposal_id: str, ok: bool, detail: str = "") -> None:
        """Tell handoff how running the decided action went (once; a repeat is a no-op)."""
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
                raise _error(exc.code, body) from None
        raise ApiRequestError(429, "still over the rate limit after retrying; slow down")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"error": raw[:200].decode(errors="replace")}
    return body if isinstance(body, dict) else {"error": str(body)}


def _error(status: int, body: dict[str, Any]) -> Exception:
    message = str(body.get("error") or body)
    if status in (403, 409, 413, 422):
        return ProposalError(f"proposal: {message}")
    return ApiRequestError(status, message)
