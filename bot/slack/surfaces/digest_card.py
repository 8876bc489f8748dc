"""The digest message: the actions of one channel and category that ran before review in one window, each
in plain words with its own "Flag as wrong", and one "Looked at all — fine" for everything unflagged.

The "Looked at all — fine" button carries the digest id and how many items the message showed, so a
click confirms only what the clicker could have seen; items that arrived later stay unreviewed. A digest
with more items than a message holds (`MESSAGE_ITEMS`) shows the first ones and "See all N, page by page"
instead: the pages (`bot.slack.surfaces.digest_pages`) list every item and end with "Looked at all — fine".
"""

from __future__ import annotations

from typing import Any

from bot.slack.surfaces.blocks import HEADER_LIMIT, SECTION_LIMIT, button, clip, context, escape, header, mention, when
from bot.slack.surfaces.flag_card import FLAG
from bot.store.rows import Digest, DigestItem
from scoring.models import standing_rule_id

LOOKED_AT_ALL = "handoff_digest_looked_at_all"
LOOKED_AT_ALL_WORDS = "Looked at all — fine"
DIGEST_PAGES = "handoff_digest_pages"  # "See all N, page by page": the digest's pages (`digest_pages`)
ACTION_IDS = (LOOKED_AT_ALL, DIGEST_PAGES)
ITEM_TEXT_LIMIT = 600
MESSAGE_ITEMS = 40  # items a message shows: with its header, buttons and note, within Slack's 50 blocks
PAGES_WORDS = "See all {count}, page by page"


def looked_value(digest_id: int, shown: int) -> str:
    """The "Looked at all — fine" button's value: the digest and how many items it showed."""
    return f"{digest_id}:{shown}"


def parse_looked_value(value: str) -> tuple[int, int] | None:
    """(digest id, items shown) from a button value, or None when it is not one."""
    head, _, tail = value.partition(":")
    if not (head.isdigit() and tail.isdigit()) or len(value) > 40:
        return None
    return int(head), int(tail)


def digest_text(digest: Digest, items: list[DigestItem]) -> str:
    """The notification text of a digest message."""
    flagged = sum(1 for item in items if item.flagger)
    return clip(f"Ran without review: {len(items)} in {digest.category} ({flagged} flagged)", 300)


def digest_card(digest: Digest, items: list[DigestItem]) -> list[dict[str, Any]]:
    """The digest's blocks: a header, one section per item with its Flag button, the group control."""
    rev = f"{digest.id}:{len(items)}"
    title = clip(f"Ran without review: {len(items)} in {digest.category}", HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [header(title, f"dgh:{rev}")]
    blocks.extend(item_block(item, rev) for item in items[:MESSAGE_ITEMS])
    open_items = [item for item in items if not item.flagger and not item.confirmed_by]
    if digest.looked_by:
        blocks.append(context(f"*Looked at all — fine* by {mention(digest.looked_by)}", f"dglk:{rev}"))
    if len(items) > MESSAGE_ITEMS:
        more = len(items) - MESSAGE_ITEMS
        pages = button(PAGES_WORDS.format(count=len(items)), DIGEST_PAGES, f"{digest.id}:0", style="primary")
        blocks.append({"type": "actions", "block_id": f"dga:{rev}", "elements": [pages]})
        blocks.append(context(f"{more} more not shown here: *See all* lists every item, page by page.", f"dgm:{rev}"))
    elif open_items and not digest.looked_by:
        all_button = button(LOOKED_AT_ALL_WORDS, LOOKED_AT_ALL, looked_value(digest.id, len(items)), style="primary")
        blocks.append({"type": "actions", "block_id": f"dga:{rev}", "elements": [all_button]})
    which = "item of all its pages" if len(items) > MESSAGE_ITEMS else "item above"
    note = (
        "These ran first and are reviewed afterwards. Flag any that is wrong; "
        f"*{LOOKED_AT_ALL_WORDS}* counts every unflagged {which} as reviewed and clean. "
        f"Window until {when(digest.closes_at)} · digest {digest.id}"
    )
    blocks.append(context(note, f"dgc:{rev}"))
    return blocks


def item_block(item: DigestItem, rev: str) -> dict[str, Any]:
    """One action in plain words, with its Flag button or the answer it got."""
    what = f"*{escape(item.summary)}*\n`{escape(item.action_name or '')}` by {escape(item.agent)}"
    if item.decided_by and (rule := standing_rule_id(item.decided_by)) is not None:
        what += f"\n:repeat: Approved by standing approval #{rule}: nobody looked at it"
    if item.flagger:
        what += f"\n:triangular_flag_on_post: Flagged as wrong by {mention(item.flagger)}"
    elif item.confirmed_by:
        what += f"\n:white_check_mark: Looks right to {mention(item.confirmed_by)}"
    what += f"\n_proposal {escape(item.proposal_id)}_"
    block: dict[str, Any] = {
        "type": "section",
        "block_id": f"dgi:{item.position}:{rev}",
        "text": {"type": "mrkdwn", "text": clip(what, min(ITEM_TEXT_LIMIT, SECTION_LIMIT))},
    }
    if not item.flagger:
        block["accessory"] = button("Flag as wrong", FLAG, item.proposal_id, style="danger")
    return block
