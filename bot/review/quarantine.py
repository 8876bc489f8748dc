"""Quarantine: one bad record is set aside, logged once and listed for an operator, never stopping a pass.

Startup and periodic passes (reconcile, timers) handle each proposal inside `isolated`: a record that
cannot be read or handled (it fails validation, nests too deep, holds bad data) is written to the
ledger's `quarantine` table and skipped from then on; the other proposals go on. Infrastructure
errors (Redis, the ledger file) are not the record's fault and propagate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bot.runtime import Runtime

log = logging.getLogger(__name__)
BAD_RECORD_ERRORS = (ValueError, TypeError, KeyError, RecursionError, UnicodeError, AttributeError)


@contextmanager
def isolated(runtime: Runtime, pid: str, stage: str) -> Iterator[None]:
    """Run one proposal's step; a bad record is quarantined (logged the first time) instead of raising."""
    try:
        yield
    except BAD_RECORD_ERRORS as exc:
        error = f"{type(exc).__name__}: {str(exc)[:1000]}"
        if runtime.ledger.quarantine(pid, stage=stage, error=error):
            log.error("quarantined proposal %s (%s): %s; listed by `handoff report`", pid, stage, error)


def is_quarantined(runtime: Runtime, pid: str) -> bool:
    """True when `pid` was set aside by an earlier pass."""
    return runtime.ledger.quarantined_id(pid)
