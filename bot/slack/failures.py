"""What counts as Slack (or the network) failing, as opposed to a bug in handoff.

An operator needs one line for an outside failure (Slack unreachable, rate limited, answering 5xx) and
a traceback only for a bug; this predicate is the one place that tells the two apart.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def is_outside_failure(error: BaseException) -> bool:
    """True for an unreachable or failing Slack (network errors, 429, 5xx): retry it and log one line."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", None)
        return status == 429 or (isinstance(status, int) and status >= 500)
    return isinstance(error, OSError)  # URLError, ConnectionError, TimeoutError, ssl errors


def describe(error: BaseException) -> str:
    """One line naming the failure, without a traceback."""
    return f"{type(error).__name__}: {str(error)[:300]}"
