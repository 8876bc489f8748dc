"""`handoff replay` and `handoff tune`: history judged again, without calling the LLM.

`replay` re-routes every stored assessment under another policy (see `scoring.rerouting`); `tune`
certifies the loosest threshold for a category from its logged labels (see `scoring.tuning`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from bot.store import queries
from bot.store.ledger import Ledger
from scoring.models import Route
from scoring.policy import Policy
from scoring.rerouting import reroute
from scoring.tuning import Certification, Example, certify

FIELDS = ("proposals", "escalated_before", "escalated_after", "newly_escalated", "no_longer_escalated")
OVERRIDE_FIELDS = ("overrides", "overrides_run_before_review", "overrides_unseen")


def replay(ledger: Ledger, policy: Policy, *, since: datetime | None = None) -> dict[str, Any]:
    """Per category and in total: how routing changes under `policy`, and which past overrides would run."""
    start = since.isoformat(timespec="milliseconds") if since else ""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS + OVERRIDE_FIELDS, 0))
    for category, assessment, overridden in queries.replay_rows(ledger, since=start):
        route, audit = reroute(assessment, category, policy)
        before, after = assessment.route is Route.ESCALATE, route is Route.ESCALATE
        row = counts[category]
        row["proposals"] += 1
        row["escalated_before"] += before
        row["escalated_after"] += after
        row["newly_escalated"] += after and not before
        row["no_longer_escalated"] += before and not after
        if overridden:
            row["overrides"] += 1
            row["overrides_run_before_review"] += not after
            row["overrides_unseen"] += route is Route.AUTO and not audit
    total = {key: sum(row[key] for row in counts.values()) for key in FIELDS + OVERRIDE_FIELDS}
    return {
        "policy_version": policy.version,
        "since": start or None,
        "total": total,
        "categories": {name: counts[name] for name in sorted(counts)},
    }


def format_replay(result: dict[str, Any]) -> str:
    """The replay as text for a person."""
    t = result["total"]
    lines = [
        f"replayed {t['proposals']} proposals under policy {result['policy_version']}",
        f"escalated: {t['escalated_before']} before, {t['escalated_after']} under the new policy "
        f"({t['newly_escalated']} newly escalated, {t['no_longer_escalated']} no longer)",
        f"past human overrides: {t['overrides']}; {t['overrides_run_before_review']} would have run before review, "
        f"{t['overrides_unseen']} of them with no human ever seeing them",
        "",
        f"{'category':<20} {'proposals':>9} {'esc. before':>11} {'esc. after':>10} {'overrides':>9} {'would run':>9}",
    ]
    for name, row in result["categories"].items():
        lines.append(
            f"{name:<20} {row['proposals']:>9} {row['escalated_before']:>11} {row['escalated_after']:>10}"
            f" {row['overrides']:>9} {row['overrides_run_before_review']:>9}"
        )
    return "\n".join(lines)


def tune(ledger: Ledger, category: str, *, target: float, confidence: float) -> Certification:
    """The loosest threshold the category's logged labels certify for `target` escape rate at `confidence`."""
    examples = [
        Example(
            score=a.score, bad=a.bad, hard=a.hard, stratum="" if a.route == "escalate" else a.route, labelled=a.labelled
        )
        for a in queries.tune_actions(ledger, category)
    ]
    return certify(examples, target=target, confidence=confidence)
