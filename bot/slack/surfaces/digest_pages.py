"""A long digest, page by page: the "See all" modal of a digest whose items do not all fit its message.

Like the full-context modal: `PAGE_ITEMS` items a page with Previous and Next buttons. Every item keeps
its "Flag as wrong"; "Looked at all — fine" is on the last page only, with the count of items the modal
listed, so it confirms what the clicker paged through and nothing that arrived later.
"""

from __future__ import annotations

from typing import Any

from bot.slack.surfaces.blocks import button, context, escape, mention, plain
from bot.slack.surfaces.digest_card import DIGEST_PAGES, LOOKED_AT_ALL, LOOKED_AT_ALL_WORDS, item_block, looked_value
from bot.store.rows import Digest, DigestItem

DIGEST_PREVIOUS = "handoff_digest_previous"
DIGEST_NEXT = "handoff_digest_next"
DIGEST_MODAL = "handoff_digest_modal"
ACTION_IDS = (DIGEST_PREVIOUS, DIGEST_NEXT)
__all__ = ["DIGEST_MODAL", "DIGEST_NEXT", "DIGEST_PAGES", "DIGEST_PREVIOUS", "PAGE_ITEMS", "digest_modal", "page_value"]
PAGE_ITEMS = 20  # items a page: with the head, the buttons and the note, far within a modal's 100 blocks


def page_value(digest_id: int, page: int) -> str:
    """A paging button's value (and the modal's metadata): the digest and the page, from 0."""
    return f"{digest_id}:{page}"


def page_count(items: list[DigestItem]) -> int:
    """How many pages the modal has for `items` (at least one)."""
    return max(1, -(-len(items) // PAGE_ITEMS))


def digest_modal(digest: Digest, items: list[DigestItem], *, page: int = 0) -> dict[str, Any]:
    """One page of the digest's items, each with its Flag, and the way to the previous and next page."""
    pages = page_count(items)
    page = max(0, min(page, pages - 1))
    rev = f"{digest.id}:{len(items)}:{page}"
    head = f"*Ran without review: {len(items)} in {escape(digest.category)}* · page {page + 1} of {pages}"
    blocks: list[dict[str, Any]] = [context(f"{head} · digest {digest.id}", f"dgm:head:{rev}")]
    blocks += [item_block(item, rev) for item in items[page * PAGE_ITEMS : (page + 1) * PAGE_ITEMS]]
    buttons = []
    if page > 0:
        buttons.append(button("← Previous page", DIGEST_PREVIOUS, page_value(digest.id, page - 1)))
    if page < pages - 1:
        buttons.append(button(f"Next page ({page + 2} of {pages}) →", DIGEST_NEXT, page_value(digest.id, page + 1)))
    elif not digest.looked_by and any(not item.flagger and not item.confirmed_by for item in items):
        value = looked_value(digest.id, len(items))
        buttons.append(button(LOOKED_AT_ALL_WORDS, LOOKED_AT_ALL, value, style="primary"))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"dgm:nav:{rev}", "elements": buttons})
    if digest.looked_by:
        blocks.append(context(f"*{LOOKED_AT_ALL_WORDS}* by {mention(digest.looked_by)}", f"dgm:looked:{rev}"))
    elif page == pages - 1:
        note = f"*{LOOKED_AT_ALL_WORDS}* counts every unflagged item of all {pages} pages as reviewed and clean."
        blocks.append(context(note, f"dgm:note:{rev}"))
    return {
        "type": "modal",
        "callback_id": DIGEST_MODAL,
        "private_metadata": page_value(digest.id, page),
        "title": plain("Digest", 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }
