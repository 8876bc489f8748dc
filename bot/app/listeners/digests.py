"""The digest listeners (see `bot.review.digests`): "Looked at all — fine", and the "See all" modal of a long
digest with its pages. Each item's "Flag as wrong" is the review-after flag listener in `flags.py`, which
redraws the modal through `refresh_pages` when the flag came from it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners.payloads import clicked
from bot.review.digests import looked_at_all, pages_view
from bot.runtime import Runtime
from bot.slack.surfaces.digest_card import DIGEST_PAGES, LOOKED_AT_ALL
from bot.slack.surfaces.digest_pages import DIGEST_MODAL, DIGEST_NEXT, DIGEST_PREVIOUS


def register(app: App, runtime: Runtime) -> None:
    """Attach the "Looked at all — fine" and the digest pages' listeners to `app`."""

    @app.action(LOOKED_AT_ALL)
    def on_looked_at_all(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        value, user, channel = clicked(body)
        looked_at_all(runtime, value, user=user, channel=channel)
        refresh_pages(runtime, body, user=user)

    @app.action(DIGEST_PAGES)
    def open_pages(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        value, user, channel = clicked(body)
        view = pages_view(runtime, value, user=user, channel=channel)
        if view is not None:
            runtime.slack.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(DIGEST_PREVIOUS)
    @app.action(DIGEST_NEXT)
    def turn_page(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        value, user, _ = clicked(body)
        refresh_pages(runtime, body, user=user, page=value)


def refresh_pages(runtime: Runtime, body: dict[str, Any], *, user: str, page: str | None = None) -> None:
    """Redraw the digest modal a click came from, at `page` (a paging button's value) or where it was."""
    view = body.get("view") or {}
    if view.get("callback_id") != DIGEST_MODAL or not view.get("id"):
        return
    shown = pages_view(runtime, page or str(view.get("private_metadata", "")), user=user, channel="")
    if shown is not None:
        runtime.slack.views_update(view_id=view["id"], view=shown)
