"""Digests in the ledger: which digest each action that ran before review belongs to, where its message
is, how many items that message shows, and who looked at all of it.

An item joins the newest digest of its channel and category whose window is still open and not full;
otherwise a new digest opens. Joining is idempotent (an item belongs to one digest), so a rerun of
phase two never lists an action twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.clock import utcnow
from bot.store.ledger import Ledger
from bot.store.rows import Digest, DigestItem

_DIGEST_COLUMNS = "id, channel, category, opened_at, closes_at, ts, rendered, looked_by, looked_at, posted_channel"


def add_item(ledger: Ledger, pid: str, *, channel: str, category: str, minutes: int, max_items: int) -> int:
    """Put `pid` in its channel and category's open digest (opening one if none fits); the digest's id."""
    now = utcnow()
    with ledger._transaction() as db:
        row = db.execute("SELECT digest_id FROM digest_items WHERE proposal_id = ?", [pid]).fetchone()
        if row:
            return int(row[0])
        row = db.execute(
            "SELECT d.id, (SELECT COUNT(*) FROM digest_items i WHERE i.digest_id = d.id) FROM digests d"
            " WHERE d.channel = ? AND d.category = ? AND d.closes_at > ? AND d.looked_at IS NULL"
            " ORDER BY d.id DESC LIMIT 1",
            [channel, category, now],
        ).fetchone()
        if row is None or int(row[1]) >= max_items:
            closes = datetime.fromisoformat(now) + timedelta(minutes=minutes)
            cursor = db.execute(
                "INSERT INTO digests (channel, category, opened_at, closes_at, max_items) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                [channel, category, now, closes.astimezone(UTC).isoformat(timespec="milliseconds"), max_items],
            )
            digest_id, count = int(cursor.fetchone()[0]), 0
        else:
            digest_id, count = int(row[0]), int(row[1])
        db.execute(
            "INSERT INTO digest_items (proposal_id, digest_id, position, added_at) VALUES (?, ?, ?, ?)",
            [pid, digest_id, count + 1, now],
        )
        return digest_id


def digest(ledger: Ledger, digest_id: int) -> Digest | None:
    """One digest, or None."""
    row = ledger.db.execute(f"SELECT {_DIGEST_COLUMNS} FROM digests WHERE id = ?", [digest_id]).fetchone()  # noqa: S608
    return Digest(*row) if row else None


def items(ledger: Ledger, digest_id: int) -> list[DigestItem]:
    """A digest's items in the order they arrived, each with its flag or confirmation."""
    action_name = ledger.dialect.json_text("p.body", "action", "name")
    rows = ledger.db.execute(
        f"SELECT i.proposal_id, i.position, p.agent, p.summary, {action_name},"  # noqa: S608 - constants only
        " f.flagger, c.reviewer, c.source, d.reviewer FROM digest_items i JOIN proposals p ON p.id = i.proposal_id"
        " LEFT JOIN flags f ON f.proposal_id = i.proposal_id LEFT JOIN decisions d ON d.proposal_id = i.proposal_id"
        " LEFT JOIN confirmations c ON c.proposal_id = i.proposal_id"
        " WHERE i.digest_id = ? ORDER BY i.position",
        [digest_id],
    ).fetchall()
    return [DigestItem(*row) for row in rows]


def digest_of(ledger: Ledger, pid: str) -> int | None:
    """The digest `pid` is listed in, or None (a per-item message, or not yet listed)."""
    row = ledger.db.execute("SELECT digest_id FROM digest_items WHERE proposal_id = ?", [pid]).fetchone()
    return int(row[0]) if row else None


def record_posted(ledger: Ledger, digest_id: int, *, channel: str, ts: str) -> None:
    """Remember the digest's message: the channel id Slack answered with and its ts (first post only)."""
    with ledger._transaction() as db:
        db.execute(
            "UPDATE digests SET ts = ?, posted_channel = ? WHERE id = ? AND ts IS NULL", [ts, channel, digest_id]
        )


def record_rendered(ledger: Ledger, digest_id: int, *, shown: int) -> None:
    """Remember how many items the digest's message shows now."""
    with ledger._transaction() as db:
        db.execute("UPDATE digests SET rendered = ? WHERE id = ?", [shown, digest_id])


def record_looked(ledger: Ledger, digest_id: int, *, reviewer: str) -> bool:
    """Mark the digest looked at by `reviewer` (which closes it to new items); False if someone already did."""
    with ledger._transaction() as db:
        cursor = db.execute(
            "UPDATE digests SET looked_by = ?, looked_at = ? WHERE id = ? AND looked_at IS NULL",
            [reviewer, utcnow(), digest_id],
        )
        return cursor.rowcount == 1


def stale(ledger: Ledger) -> list[int]:
    """Digests whose message is missing or shows fewer items than the ledger lists (a crash mid-render)."""
    rows = ledger.db.execute(
        "SELECT d.id FROM digests d WHERE d.ts IS NULL"
        " OR d.rendered < (SELECT COUNT(*) FROM digest_items i WHERE i.digest_id = d.id) ORDER BY d.id"
    ).fetchall()
    return [int(row[0]) for row in rows]
