"""A local Slack for tests and the demo: a Web API stand-in and a reviewer who clicks and submits.

Names load on first use, so `python -m bot.sandbox.slack_api` runs without importing itself twice.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.reviewer import Response, Reviewer
    from bot.sandbox.slack_api import SlackStandIn
    from bot.sandbox.slack_records import RecordedCall, Rejection

_HOMES = {
    "RecordedCall": "bot.sandbox.slack_records",
    "Rejection": "bot.sandbox.slack_records",
    "Response": "bot.sandbox.reviewer",
    "Reviewer": "bot.sandbox.reviewer",
    "SlackStandIn": "bot.sandbox.slack_api",
}
__all__ = ["RecordedCall", "Rejection", "Response", "Reviewer", "SlackStandIn"]


def __getattr__(name: str) -> Any:
    """Import one of the sandbox's public names from its module."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
