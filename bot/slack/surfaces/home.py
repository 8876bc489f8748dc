"""The App Home tab and the answers of `/handoff`, built by pure functions from ledger figures.

`home_view` is what `views.publish` shows a reviewer: the reviews waiting on them, all pending
reviews, and per-category figures. `command_answer` is the ephemeral reply to `/handoff pending`,
`/handoff oncall` and `/handoff status CATEGORY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.slack.surfaces.blocks import channel_link, clip, context, escape, header, mention, section
from bot.slack.surfaces.cards import reviewer_ids
from scoring.policy import Policy

LISTED = 20  # pending reviews listed on the Home tab or in a reply
CATEGORIES_LISTED = 40
ANSWER_LIMIT = 3000
NO_ROTATION = (
    "No rotation configured: on-call rotations are not set in the policy yet, so each review goes to its "
    "category's channel and anyone allowed there can decide it."
)
USAGE = (
    "`/handoff pending` lists the reviews waiting · `/handoff oncall` says who is on call · "
    "`/handoff status CATEGORY` shows a category's rules and figures · `/handoff standing` lists standing "
    "approvals (`/handoff standing revoke ID` revokes one)"
)


@dataclass(frozen=True)
class PendingReview:
    """One escalated proposal without a decision, and whether the person looking may decide it."""

    pid: str
    category: str
    agent: str
    summary: str
    channel: str | None
    mine: bool


def pending_line(review: PendingReview) -> str:
    """One pending review as a line of mrkdwn: category, agent, summary, where its card is."""
    where = f" in {channel_link(review.channel)}" if review.channel else ""
    summary = escape(clip(review.summary, 200))
    return f"• *{escape(review.category)}* from {escape(review.agent)}: {summary}{where} (`{review.pid}`)"


def category_line(figures: dict[str, Any], policy: Policy) -> str:
    """A category's level and figures from `build_report`, in one line of mrkdwn."""
    name = str(figures.get("category", "?"))
    rules = policy.category(name)
    level = f"{rules.level.value}{', irreversible' if rules.irreversible else ''}" if rules else "not in the policy"
    rate = figures.get("override_rate")
    override = "-" if rate is None else f"{100 * float(rate):.0f}%"
    counts = f"{figures.get('volume', 0)} proposals · {figures.get('escalated', 0)} escalated"
    return f"*{escape(name)}* ({level}) · {counts} · {figures.get('pending', 0)} pending · override rate {override}"


def home_view(
    pending: list[PendingReview],
    report: dict[str, Any],
    policy: Policy,
    *,
    standing: list[dict[str, Any]] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """The Home tab for one reviewer: what waits on them, what is pending overall, the standing approvals
    (`standing`, built by `bot.slack.surfaces.standing.home_blocks`), how categories do; `note` answers
    what they just did there (a revocation)."""
    mine = [r for r in pending if r.mine]
    blocks = [
        header("handoff reviews", "home:h"),
        *([context(note, "home:note")] if note else []),
        section(f"*{len(mine)}* waiting on you · *{len(pending)}* pending in total", "home:counts"),
        {"type": "divider", "block_id": "home:d1"},
        section(_listing("Waiting on you", mine, "Nothing waits on you."), "home:mine"),
        section(f"*Your rotation*\n{NO_ROTATION}", "home:rotation"),
        {"type": "divider", "block_id": "home:d2"},
    ]
    if standing:
        blocks += [*standing, {"type": "divider", "block_id": "home:d3"}]
    figures = list(report.get("categories", []))
    blocks.append(section("*Categories*", "home:cats"))
    for index, row in enumerate(figures[:CATEGORIES_LISTED]):
        blocks.append(section(category_line(row, policy), f"home:cat:{index}"))
    if len(figures) > CATEGORIES_LISTED:
        blocks.append(context(f"… and {len(figures) - CATEGORIES_LISTED} more: run `handoff report`", "home:more"))
    if report.get("status"):
        blocks.append(context(escape(str(report["status"])), "home:status"))
    return {"type": "home", "blocks": blocks}


def _listing(title: str, reviews: list[PendingReview], empty: str) -> str:
    if not reviews:
        return f"*{title}*\n{empty}"
    lines = [pending_line(r) for r in reviews[:LISTED]]
    if len(reviews) > LISTED:
        lines.append(f"… and {len(reviews) - LISTED} more: `/handoff pending` lists them")
    return clip(f"*{title}*\n" + "\n".join(lines), 2900)


def command_answer(text: str, *, pending: list[PendingReview], report: dict[str, Any], policy: Policy) -> str:
    """The ephemeral reply to `/handoff TEXT`."""
    word, _, rest = text.strip().partition(" ")
    word = word.lower()
    if word == "pending":
        answer = _listing(
            f"{len(pending)} pending review{'s' if len(pending) != 1 else ''}", pending, "Nothing pending."
        )
    elif word == "oncall":
        answer = NO_ROTATION
    elif word == "status":
        answer = _status(rest.strip(), report, policy)
    elif word in ("", "help"):
        answer = USAGE
    else:
        answer = f"I do not know `{escape(clip(word, 50))}`. {USAGE}"
    return clip(answer, ANSWER_LIMIT)


def _status(name: str, report: dict[str, Any], policy: Policy) -> str:
    rules = policy.category(name)
    if not name or rules is None:
        known = ", ".join(f"`{n}`" for n in sorted(policy.categories))
        asked = f"`{escape(clip(name, 60))}` is not a category. " if name else ""
        return f"{asked}Say `/handoff status CATEGORY` with one of {known}."
    figures: dict[str, Any] = next(
        (c for c in report.get("categories", []) if c.get("category") == name), {"category": name}
    )
    threshold = f", acts alone at a score of {rules.threshold:.2f} or more" if rules.level == "on_uncertainty" else ""
    ids = reviewer_ids(rules)
    who = ", ".join(mention(r) for r in ids) if ids else "anyone in the channel"
    decisions: dict[str, Any] = dict(figures.get("decisions") or {})
    mix = ", ".join(f"{k} {v}" for k, v in decisions.items()) or "no decisions yet"
    return (
        f"{category_line(figures, policy)}\n"
        f"Level {rules.level.value}{threshold}; reviewed in {escape(policy.channel_for(name))} by {who}.\n"
        f"Decisions: {mix}."
    )
