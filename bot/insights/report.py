"""`handoff report`: per-category figures a team can steer by, computed by aggregates inside SQLite.

Every figure comes from aggregates over the ledger: one pass for each category's counts, decisions and
graduation evidence (`bot.store.category_stats`), one for the waits, a few small reads, whatever its size;
the Python side only turns counts into rates, bounds, quantiles and the graduation verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.review.graduation import effective_level, evidence_from, verdict_from, windows_for
from bot.review.policy_file import configured_policy
from bot.settings import Settings
from bot.store import category_stats, queries, review_load, standing
from bot.store.category_stats import CategoryScan
from bot.store.ledger import Ledger
from scoring.policy import Policy
from scoring.stats import quantile_from_histogram, wilson_upper


def build_report(
    ledger: Ledger, policy: Policy | None = None, *, now: datetime | None = None, verify: bool = True
) -> dict[str, Any]:
    """Every figure of `handoff report` as plain data, per category and for the whole deployment.

    Without `policy` the packaged example policy is used; without `now`, the current time.
    """
    policy = policy or configured_policy(Settings())
    now = now or datetime.now(UTC)
    names = sorted(set(policy.categories))
    windows = {name: windows_for(ledger, policy, name, now=now) for name in names}
    found = category_stats.scan(ledger, windows)  # one pass: counts, decisions, graduation evidence
    waits, steps = queries.wait_histogram(ledger), queries.escalation_step_counts(ledger)
    categories = [
        _category(ledger, policy, name, found.get(name, CategoryScan()), waits.get(name, {}), steps.get(name, {}))
        for name in sorted(set(found) | set(names))
    ]
    posts = review_load.posts_by_category(ledger)
    rules = standing.counts_by_category(ledger, now=now.isoformat(timespec="milliseconds"))
    for c in categories:  # two small GROUP BYs for all categories (an index each): no pass per category
        c.update(load_figures(c, posts.get(c["category"], {}), rules.get(c["category"], (0, 0))))
    totals = {key: sum(c[key] for c in categories) for key in ("volume", "auto", "review_after", "escalated")}
    report: dict[str, Any] = {
        "generated_at": now.isoformat(timespec="seconds"),
        "policy_version": policy.version,
        "status": status_line(totals["auto"], totals["review_after"], totals["escalated"]),
        "totals": totals,
        "categories": categories,
    }
    report["quarantined"] = queries.quarantined(ledger)
    report["chain_head"] = ledger.head()
    if verify:
        verdict = ledger.verify()
        report["chain_ok"] = verdict.ok
        if not verdict.ok:
            report["chain_problem"] = verdict.problem
    return report


def _category(
    ledger: Ledger, policy: Policy, name: str, found: CategoryScan, waits: dict[float, int], steps: dict[str, int]
) -> dict[str, Any]:
    row, mix = found.counts, found.decisions
    count = row.counts()
    labelled, overrides = count["labelled"], count["overrides"]
    assessed = count["escalated"] + count["auto"] + count["review_after"]
    rules = policy.category(name)
    verdict = None
    if rules:
        evidence = evidence_from(policy, name, labels=found.labels, watched=found.watched, sizes=found.sizes)
        verdict = verdict_from(ledger, policy, name, evidence)
    return {
        "category": name,
        "level": rules.level.value if rules else None,
        "effective_level": effective_level(ledger, policy, name).value if rules else None,
        **count,
        "cost_usd": round(row.cost_usd, 6),
        "escalation_rate": _share(count["escalated"], assessed),
        "acting_unreviewed": _share(count["auto"] + count["review_after"], assessed),
        "unseen": _share(count["unseen"], assessed),
        "unreviewed_share": _share(count["unreviewed"], count["ran_before_review"]),
        "override_rate": _share(overrides, labelled),
        "override_upper95": round(wilson_upper(overrides, labelled), 6) if labelled else None,
        "decisions": dict(sorted(mix.items())),
        "time_to_decision_s": {
            "count": sum(waits.values()),
            "median": quantile_from_histogram(waits, 0.5),
            "p90": quantile_from_histogram(waits, 0.9),
        },
        "escalation_steps": dict(sorted(steps.items())),
        "graduation": verdict.as_dict() if verdict else {"state": "unknown_category", "reason": "not in the policy"},
    }


def load_figures(category: dict[str, Any], posts: dict[str, int], rules: tuple[int, int]) -> dict[str, Any]:
    """What the category's reviewing asks of people: Slack messages per 100 proposals (and per 100 actions
    that ran before review, counting their own messages and digests), the share of decisions standing rules
    took, and the share of actions that ran before review someone looked at (flag, "Looks right", digest)."""
    messages = sum(posts.values())
    after = sum(posts.get(kind, 0) for kind in review_load.REVIEW_AFTER_KINDS)
    ran, unreviewed = category["ran_before_review"], category["unreviewed"]
    decided, (by_rules, active) = sum(category["decisions"].values()), rules
    return {
        "slack_messages": {"total": messages, **dict(sorted(posts.items()))},
        "messages_per_100_proposals": _per_100(messages, category["volume"]),
        "review_after_messages_per_100": _per_100(after, ran),
        "standing_decisions": by_rules,
        "standing_share": _share(by_rules, decided),
        "standing_rules_active": active,
        "looked_at_share": _share(ran - unreviewed, ran),
    }


def _per_100(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def status_line(auto: int, review_after: int, escalated: int) -> str:
    """The deployment in one sentence, e.g. "94% autonomous with review-after on the remaining 6%"."""
    total = auto + review_after + escalated
    if total == 0:
        return "no assessed proposals yet"
    a, r = round(100 * auto / total), round(100 * review_after / total)
    if escalated == 0:
        return f"{a}% autonomous with review-after on the remaining {100 - a}%" if review_after else "100% autonomous"
    if review_after == 0:
        return f"{a}% autonomous with approval before acting on the remaining {100 - a}%"
    return f"{a}% autonomous, review-after on {r}%, approval before acting on {100 - a - r}%"


def format_report(report: dict[str, Any]) -> str:
    """The report as text for a person: one table row per category, then each graduation reason."""
    header = (
        f"{'category':<20} {'level':<15} {'volume':>7} {'escal.':>7} {'unrev.':>7} {'override':>9} {'≤95%':>7}"
        f" {'median':>7} {'p90':>7}  graduation"
    )
    lines = [report["status"], "", header]
    for c in report["categories"]:
        wait = c["time_to_decision_s"]
        level = c["effective_level"] or "-"
        if c["level"] and c["effective_level"] != c["level"]:
            level += "*"
        lines.append(
            f"{c['category']:<20} {level:<15} {c['volume']:>7} {_fmt_pct(c['escalation_rate']):>7}"
            f" {_fmt_pct(c['acting_unreviewed']):>7} {_fmt_pct(c['override_rate']):>9}"
            f" {_fmt_pct(c['override_upper95']):>7} {_fmt_s(wait['median']):>7} {_fmt_s(wait['p90']):>7}"
            f"  {c['graduation'].get('recommendation', '-')}"
        )
    lines.append("")
    for c in report["categories"]:
        mix = ", ".join(f"{k} {v}" for k, v in c["decisions"].items()) or "no decisions"
        answered = ""
        if c["ran_before_review"]:
            answered = (
                f"; {c['unreviewed']} of {c['ran_before_review']} that ran before review still unreviewed "
                f"({_fmt_pct(c['unreviewed_share'])}, not counted)"
            )
        state = f"{c['graduation']['state']}: {c['graduation']['reason']}"
        lines.append(f"{c['category']}: {mix}{answered}; {_load_text(c)}; {state}")
    if any(c["level"] and c["effective_level"] != c["level"] for c in report["categories"]):
        lines.append("* level changed by an applied promotion or demotion (see `handoff graduate`)")
    for row in report.get("quarantined", []):
        lines.append(f"quarantined {row['proposal_id']} ({row['stage']}, {row['at']}): {row['error']}")
    if "chain_ok" in report:
        state = "intact" if report["chain_ok"] else f"BROKEN: {report.get('chain_problem', '')}"
        lines.append(f"ledger hash chain {state}; head {report['chain_head']} (save it: `handoff verify --head`)")
    return "\n".join(lines)


def _load_text(c: dict[str, Any]) -> str:
    """What reviewing the category asks of people (docs/review-load.md), in words."""
    wait = c["time_to_decision_s"]
    per_100 = c["messages_per_100_proposals"]
    messages = "no proposals" if per_100 is None else f"{per_100:g} Slack messages per 100 proposals"
    if c["review_after_messages_per_100"] is not None:
        messages += f" ({c['review_after_messages_per_100']:g} per 100 that ran before review)"
    looked = "-" if c["looked_at_share"] is None else _fmt_pct(c["looked_at_share"])
    return (
        f"{messages}; time to decision median {_fmt_s(wait['median'])}, p90 {_fmt_s(wait['p90'])};"
        f" decided by standing rules {_fmt_pct(c['standing_share'])}; looked at after running {looked}"
        f" of {c['ran_before_review']}"
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"
