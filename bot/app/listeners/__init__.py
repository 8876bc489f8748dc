"""Bolt listeners, one module per surface people act on; `register` attaches them all.

Each listener acks first, takes the reviewer from the payload's user, and hands off to `bot.review`.
"""

from __future__ import annotations

from slack_bolt import App

from bot.app.listeners import (
    commands,
    decision_modals,
    digests,
    flags,
    promotions,
    reviews,
    similar_cases,
    standing,
)
from bot.runtime import Runtime


def register(app: App, runtime: Runtime) -> None:
    """Attach every listener handoff has to `app`."""
    reviews.register(app, runtime)
    similar_cases.register(app, runtime)
    decision_modals.register(app, runtime)
    flags.register(app, runtime)
    digests.register(app, runtime)
    promotions.register(app, runtime)
    standing.register(app, runtime)
    commands.register(app, runtime, is_allowed=reviews.is_allowed)
