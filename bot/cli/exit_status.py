"""The exit statuses of `handoff`, and the one map from an error a command raises to its status.

A command raises; `bot.cli.main` prints the error as one line (`handoff <command>: <reason>`) and exits
with the status this map gives it. An error the map does not know is a bug and keeps its traceback.
"""

from __future__ import annotations

OK = 0
TAMPERED = 1  # `verify`: the ledger failed its check (the message names the first bad record)
BAD_INPUT = 2
PENDING = 3  # `submit --wait`: no decision within the timeout; the proposal stays pending
UNREACHABLE = 4  # a server handoff needs did not answer or would not start (the embedded Redis, the ledger's
# PostgreSQL)
INTERRUPTED = 130


class UsageError(ValueError):
    """Input the command cannot use (a file, an option, a line); the message names it and what to pass."""


def statuses() -> dict[type[Exception], int]:
    """Each kind of error a command may raise for bad input, and its status; imported only once one was
    raised, so that `handoff --help` does not load the client, the ledger or the policy models."""
    from bot.client import ProposalError
    from bot.insights.export import ExportError
    from bot.settings import SettingsError
    from bot.store.embedded_redis import EmbeddedServerError
    from bot.store.engine import LedgerUnreachableError
    from bot.store.transfer import TransferError
    from scoring.policy import PolicyError

    return {
        UsageError: BAD_INPUT,
        ProposalError: BAD_INPUT,
        PolicyError: BAD_INPUT,
        SettingsError: BAD_INPUT,
        ExportError: BAD_INPUT,
        EmbeddedServerError: UNREACHABLE,
        TransferError: BAD_INPUT,
        LedgerUnreachableError: UNREACHABLE,
    }


def status_of(error: BaseException) -> int | None:
    """The exit status for `error`, or None when it is not a known kind of bad input."""
    return next((status for kind, status in statuses().items() if isinstance(error, kind)), None)
