"""Precedents in the ledger: the recent decided cases of a category and action, for a review card.

The ledger lists each proposal a person decided in the `precedents` table when the decision is taken
(`Ledger._record_precedent`). A card reads the newest `WINDOW` cases of its category and action through
the `(category, action, decided_at)` index, so the lookup costs the same whatever the ledger's size; the
match score (`scoring.precedents`) does the rest.
"""

from __future__ import annotations

from bot.store.ledger import Ledger
from scoring.models import Proposal
from scoring.precedents import PastCase, Precedents, case_of, features, summarize

WINDOW = 300  # the newest decided cases of a category and action a card compares itself with


def recent_cases(
    ledger: Ledger, *, category: str, action: str, exclude: str = "", limit: int = WINDOW
) -> list[PastCase]:
    """The newest `limit` cases people decided in `category` with `action`, newest first (without `exclude`)."""
    rows = ledger.db.execute(
        "SELECT proposal_id, outcome, reviewer, decided_at, features, changes, reason FROM precedents"
        " WHERE category = ? AND action = ? ORDER BY decided_at DESC LIMIT ?",
        [category, action, limit + 1],
    ).fetchall()
    cases = [case_of(tuple(row)) for row in rows if row[0] != exclude]
    return cases[:limit]


def precedents_for(ledger: Ledger, pid: str, proposal: Proposal, *, window: int = WINDOW) -> Precedents:
    """How the proposal's similar past cases went (see `scoring.precedents`), from the newest `window`."""
    cases = recent_cases(ledger, category=proposal.category, action=proposal.action.name, exclude=pid, limit=window)
    return summarize(features(proposal), cases, window=window)
