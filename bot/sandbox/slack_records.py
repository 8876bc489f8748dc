"""Plain records the Slack stand-in keeps: calls, refusals, injected faults and Slack-shaped errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as the stand-in received it (token removed), and whether it failed."""

    method: str
    params: dict[str, Any]
    failed: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A call the stand-in refused on its own, as Slack would have (injected faults are not rejections)."""

    method: str
    error: str
    errors: list[str]
    params: dict[str, Any]


@dataclass
class Fault:
    """An answer to give instead of the real one, the next `times` calls of a method."""

    status: int = 429
    retry_after: int = 1
    error: str | None = None
    times: int = 1

    def reply(self) -> Reply:
        """The HTTP answer this fault stands for: an `ok: false` body, a 429 or a server error."""
        if self.error is not None:
            return Reply(200, {"ok": False, "error": self.error})
        if self.status == 429:
            return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(self.retry_after)})
        return Reply(self.status, {"ok": False, "error": "internal_error"})


@dataclass(frozen=True)
class Reply:
    """An HTTP answer of the stand-in: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """Slack's error code when the body says `ok: false`."""
        return None if self.body.get("ok") else str(self.body.get("error"))


class ApiError(Exception):
    """A Slack `ok: false` answer raised inside a method handler, with optional detail lines."""

    def __init__(self, error: str, details: list[str] | None = None) -> None:
        super().__init__(error if not details else f"{error}: {'; '.join(details)}")
        self.error = error
        self.details = list(details or [])

    def body(self) -> dict[str, Any]:
        """The JSON Slack answers: `invalid_blocks` carries `errors`; every detail is also a message."""
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.error == "invalid_blocks":
            body["errors"] = list(self.details)
        if self.details:
            body["response_metadata"] = {"messages": [f"[ERROR] {line}" for line in self.details]}
        return body
