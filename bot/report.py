"""Figures and exports from the ledger: per-category volume, routes, decision mix, override rate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from bot.ledger import Ledger

_PER_CATEGORY = """
SELECT p.category,
       COUNT(*) AS volume,
       SUM(a.route = 'escalate') AS escalated,
       SUM(a.route IN ('auto', 'review_after')) AS acted_unreviewed,
       SUM(d.outcome IS NOT NULL AND d.reviewer NOT LIKE 'policy:%') AS human_decisions,
       SUM(d.outcome IS NOT NULL AND d.reviewer NOT LIKE 'policy:%' AND d.outcome NOT IN ('approve', 'timeout'))
         AS overrides,
       SUM(a.proposal_id IS NOT NULL AND d.proposal_id IS NULL AND a.route = 'escalate') AS pending
FROM proposals p
LEFT JOIN assessments a ON a.proposal_id = p.id
LEFT JOIN decisions d ON d.proposal_id = p.id
GROUP BY p.category ORDER BY p.category
"""


def build_report(ledger: Ledger) -> dict[str, Any]:
    """Per-category figures and the decision mix, as plain data."""
    categories = []
    for row in ledger.db.query(_PER_CATEGORY):
        humans = row["human_decisions"] or 0
        mix = dict(
            ledger.db.execute(
                "SELECT d.outcome, COUNT(*) FROM decisions d JOIN proposals p ON p.id = d.proposal_id"
                " WHERE p.category = ? GROUP BY d.outcome",
                [row["category"]],
            ).fetchall()
        )
        categories.append(
            {
                "category": row["category"],
                "volume": row["volume"],
                "escalated": row["escalated"] or 0,
                "acted_unreviewed": row["acted_unreviewed"] or 0,
                "pending": row["pending"] or 0,
                "human_decisions": humans,
                "overrides": row["overrides"] or 0,
                "override_rate": round((row["overrides"] or 0) / humans, 4) if humans else None,
                "decisions": mix,
            }
        )
    return {"categories": categories, "totals": ledger.counts(), "chain_ok": ledger.verify_chain()}


def format_report(report: dict[str, Any]) -> str:
    """The report as a small text table."""
    lines = [f"{'category':<20} {'volume':>6} {'escalated':>9} {'unreviewed':>10} {'pending':>7} {'override':>8}"]
    for c in report["categories"]:
        rate = "-" if c["override_rate"] is None else f"{c['override_rate']:.0%}"
        lines.append(
            f"{c['category']:<20} {c['volume']:>6} {c['escalated']:>9} {c['acted_unreviewed']:>10}"
            f" {c['pending']:>7} {rate:>8}"
        )
    lines.append(
        f"ledger: {report['totals']['events']} events, hash chain {'intact' if report['chain_ok'] else 'BROKEN'}"
    )
    return "\n".join(lines)


def export_rows(ledger: Ledger) -> Iterator[dict[str, Any]]:
    """One record per proposal: the proposal, its assessment, decision and execution status."""
    query = (
        "SELECT p.id, p.body AS proposal, a.body AS assessment, d.body AS decision, e.status AS execution"
        " FROM proposals p LEFT JOIN assessments a ON a.proposal_id = p.id"
        " LEFT JOIN decisions d ON d.proposal_id = p.id LEFT JOIN executions e ON e.proposal_id = p.id"
        " ORDER BY p.stored_at"
    )
    for row in ledger.db.query(query):
        yield {
            "proposal_id": row["id"],
            "proposal": json.loads(row["proposal"]),
            "assessment": json.loads(row["assessment"]) if row["assessment"] else None,
            "decision": json.loads(row["decision"]) if row["decision"] else None,
            "execution": row["execution"],
        }
