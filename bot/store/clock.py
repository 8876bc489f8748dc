"""The store's one time format: ISO-8601 UTC with milliseconds, light enough for the agent-side client."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> str:
    """The current time as an ISO-8601 UTC string, the ledger's one time format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
