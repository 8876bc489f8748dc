"""What reviewing asks of people, in the ledger: every Slack message handoff posts, by category and kind,
for `handoff report` and `/metrics`.

A message is counted right after Slack accepted it (its ts is known only then): a worker that dies in
between leaves that one message uncounted, never counted twice by a retry that posts nothing.
"""

from __future__ import annotations

from collections import defaultdict

from bot.store.clock import utcnow
from bot.store.ledger import Ledger

# Kinds of message: a review card; a reply in a card's thread; a direct message (a redirected review);
# a reminder or an escalation (in the thread, by direct message or in another channel); an action's own
# review-after message; a digest; a promotion card.
KINDS = ("card", "thread", "direct", "reminder", "escalation", "review_after", "digest", "promotion")
REVIEW_AFTER_KINDS = ("review_after", "digest")


def record_post(
    ledger: Ledger, *, kind: str, channel: str, ts: str, proposal_id: str | None = None, category: str | None = None
) -> None:
    """Count one message handoff posted; its category is the proposal's unless given."""
    with ledger._transaction() as db:
        db.execute(
            "INSERT INTO slack_posts (category, kind, proposal_id, channel, ts, posted_at)"
            " VALUES (COALESCE(?, (SELECT category FROM proposals WHERE id = ?), ''), ?, ?, ?, ?, ?)",
            [category, proposal_id, kind[:32], proposal_id, channel[:100], ts[:64], utcnow()],
        )


def posts_by_category(ledger: Ledger) -> dict[str, dict[str, int]]:
    """How many messages of each kind handoff posted, per category."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for category, kind, n in ledger.db.execute("SELECT category, kind, COUNT(*) FROM slack_posts GROUP BY 1, 2"):
        counts[category][kind] = int(n)
    return dict(counts)
