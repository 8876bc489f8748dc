"""Digests: the actions of a channel and category that ran before review, gathered into one Slack message
per window instead of one message each (policy `digest: {minutes, max_items}`; `digest: false` keeps one
message per action).

The ledger comes first: an item is listed in its digest (`bot.store.digests`) before any message is
posted or updated, and the message is always drawn from the ledger, so a render after a crash (the
reconcile tick calls `repair`) shows everything and posts nothing twice. Renders of one digest hold a
Redis lock, so concurrent workers update in turn and a render that finds the message current skips it.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.review.authz import permission
from bot.runtime import Runtime
from bot.slack.messages import post, tell
from bot.slack.surfaces.digest_card import digest_card, digest_text, parse_looked_value
from bot.slack.surfaces.digest_pages import digest_modal
from bot.store import digests as store
from scoring.models import Proposal
from scoring.policy import DigestRule

log = logging.getLogger(__name__)
LOCK_SECONDS = 60
LOCK_WAIT_SECONDS = 30


def add(runtime: Runtime, pid: str, proposal: Proposal, rule: DigestRule) -> int:
    """List `pid` in its channel's open digest for its category and show it there; the digest's id."""
    channel = runtime.policy.channel_for(proposal.category)
    digest_id = store.add_item(
        runtime.ledger, pid, channel=channel, category=proposal.category, minutes=rule.minutes, max_items=rule.max_items
    )
    render(runtime, digest_id)
    return digest_id


def render(runtime: Runtime, digest_id: int, *, force: bool = False) -> None:
    """Post the digest's message, or update it in place when it shows less than the ledger lists (always
    with `force`, e.g. after a flag)."""
    key = f"handoff:digest-lock:{digest_id}"
    lock = runtime.redis.lock(key, timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS)
    with lock:
        digest = store.digest(runtime.ledger, digest_id)
        if digest is None:
            return
        items = store.items(runtime.ledger, digest_id)
        if digest.ts is not None and digest.rendered >= len(items) and not force:
            return
        blocks, text = digest_card(digest, items), digest_text(digest, items)
        if digest.ts is None:
            response = post(
                runtime,
                kind="digest",
                category=digest.category,
                channel=digest.channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            store.record_posted(runtime.ledger, digest_id, channel=str(response["channel"]), ts=str(response["ts"]))
        else:
            where = digest.posted_channel or digest.channel
            runtime.slack.chat_update(channel=where, ts=digest.ts, text=text, blocks=blocks)
        store.record_rendered(runtime.ledger, digest_id, shown=len(items))


def redraw_for(runtime: Runtime, pid: str) -> bool:
    """Redraw the digest `pid` is listed in (after a flag or a "Looks right"); False when it is in none."""
    digest_id = store.digest_of(runtime.ledger, pid)
    if digest_id is None:
        return False
    render(runtime, digest_id, force=True)
    return True


def looked_at_all(runtime: Runtime, value: str, *, user: str, channel: str) -> int:
    """ "Looked at all — fine": confirm every unflagged, unanswered item the clicked message showed, as
    `user` with source `digest`; returns how many were confirmed (0 and an ephemeral note when refused)."""
    parsed = parse_looked_value(value)
    digest = store.digest(runtime.ledger, parsed[0]) if parsed else None
    if parsed is None or digest is None:
        tell(runtime, channel=channel, user=user, text="That digest is unknown; nothing changed.")
        return 0
    shown = [item for item in store.items(runtime.ledger, digest.id) if item.position <= parsed[1]]
    if shown:
        allowed = permission(runtime, shown[0].proposal_id, user)
        if not allowed.allowed:
            refused = allowed.reason or "You may not review these; nothing changed."
            tell(runtime, channel=channel, user=user, text=refused)
            return 0
    if not store.record_looked(runtime.ledger, digest.id, reviewer=user):
        tell(runtime, channel=channel, user=user, text="Someone already looked at all of this digest; nothing changed.")
        return 0
    confirmed = 0
    for item in shown:
        if not item.flagger and not item.confirmed_by:
            confirmed += runtime.ledger.record_confirmation(item.proposal_id, reviewer=user, source="digest")
    render(runtime, digest.id, force=True)
    log.info("digest %s: %s looked at all, %d confirmed", digest.id, user, confirmed)
    return confirmed


def pages_view(runtime: Runtime, value: str, *, user: str, channel: str) -> dict[str, Any] | None:
    """The page of a digest's "See all" modal a button names (`digest:page`), for a reviewer of its category;
    None (and an ephemeral note where there is a channel) otherwise."""
    parsed = parse_looked_value(value)
    digest = store.digest(runtime.ledger, parsed[0]) if parsed else None
    if parsed is None or digest is None:
        tell(runtime, channel=channel, user=user, text="That digest is unknown; nothing opened.")
        return None
    items = store.items(runtime.ledger, digest.id)
    allowed = permission(runtime, items[0].proposal_id, user) if items else None
    if allowed is not None and not allowed.allowed:
        tell(runtime, channel=channel, user=user, text=allowed.reason or "You may not review these; nothing opened.")
        return None
    return digest_modal(digest, items, page=parsed[1])


def repair(runtime: Runtime) -> list[int]:
    """Draw every digest whose message is missing or behind the ledger (after a crash); their ids."""
    repaired = store.stale(runtime.ledger)
    for digest_id in repaired:
        render(runtime, digest_id)
    return repaired
