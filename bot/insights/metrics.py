"""Prometheus text exposition of handoff's state: queues, pending reviews, waits, overrides, LLM spend.

Counters are totals since the ledger began. The ledger's counters come from `LedgerTotals`, which a web
process keeps across scrapes: each scrape reads only the rows added since the one before (see
`bot.store.metric_totals`), so a scrape costs what changed, not the ledger's size; the figures are
exact, never stale. Only the first scrape of a process counts the whole ledger.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.runtime import Runtime
from bot.store import queries, standing
from bot.store.clock import utcnow
from bot.store.metric_totals import LedgerTotals
from bot.store.queues import QUEUES
from bot.store.rows import WaitBuckets

BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)
_COUNTERS = (
    ("handoff_escalations_total", "Proposals sent to a human before acting, by category."),
    ("handoff_overrides_total", "Human decisions other than approve, and flags, by category."),
    ("handoff_flags_total", "Actions flagged as wrong after running unreviewed, by category."),
    ("handoff_llm_calls_total", "LLM calls made by the soft signals, by category."),
    ("handoff_llm_tokens_total", "LLM tokens (input and output) used by the soft signals, by category."),
    ("handoff_llm_cost_usd_total", "Estimated LLM cost in US dollars, by category."),
)


def label(value: str) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(runtime: Runtime, totals: LedgerTotals | None = None) -> str:
    """The current figures in Prometheus' text format (version 0.0.4); `totals` carries the ledger's
    counters from one scrape to the next (without it, the whole ledger is counted)."""
    ledger = (totals or LedgerTotals(BUCKETS)).read(runtime.ledger)
    lines = _family("handoff_queue_depth", "gauge", "Jobs waiting in each RQ queue.")
    lines += [f'handoff_queue_depth{{queue="{name}"}} {runtime.queue(name).count}' for name in QUEUES]
    lines += _family("handoff_pending_reviews", "gauge", "Escalated proposals waiting for a human decision.")
    lines.append(f"handoff_pending_reviews {ledger.pending}")
    seq, _, digest = runtime.ledger.head().partition(":")
    lines += _family(
        "handoff_ledger_chain_head", "gauge", "Sequence number of the ledger's last event; label: its hash."
    )
    lines.append(f'handoff_ledger_chain_head{{hash="{digest}"}} {seq}')
    lines += _family("handoff_quarantined_records", "gauge", "Records set aside by a pass (see handoff report).")
    lines.append(f"handoff_quarantined_records {len(queries.quarantined(runtime.ledger))}")
    lines += _family("handoff_refused_proposals_total", "counter", "Submissions refused at intake.")
    lines.append(f"handoff_refused_proposals_total {queries.refusal_count(runtime.ledger)}")
    lines += _family("handoff_decisions_total", "counter", "Decisions recorded in the ledger, by outcome.")
    outcomes = ledger.outcomes
    lines += [f'handoff_decisions_total{{outcome="{label(o)}"}} {n}' for o, n in sorted(outcomes.items()) if n]
    lines += _waits(ledger.wait_buckets())
    rows = ledger.category_totals()
    for name, help_text in _COUNTERS:  # each counter is the CategoryTotals field of its name
        field = name.removeprefix("handoff_").removesuffix("_total")
        lines += _family(name, "counter", help_text)
        lines += [f'{name}{{category="{label(row.category)}"}} {_number(getattr(row, field))}' for row in rows]
    lines += _family("handoff_escalation_steps_total", "counter", "Reminders and escalations, by category and kind.")
    for category, kinds in sorted(ledger.steps.items()):
        family = "handoff_escalation_steps_total"
        lines += [f'{family}{{category="{label(category)}",kind="{label(k)}"}} {n}' for k, n in sorted(kinds.items())]
    lines += _family("handoff_slack_messages_total", "counter", "Slack messages handoff posted, by category and kind.")
    for category, kinds in sorted(ledger.posts.items()):
        family = "handoff_slack_messages_total"
        lines += [f'{family}{{category="{label(category)}",kind="{label(k)}"}} {n}' for k, n in sorted(kinds.items())]
    lines += _standing(runtime)
    return "\n".join(lines) + "\n"


def _standing(runtime: Runtime) -> list[str]:
    """Decisions taken by standing approvals (not by a person looking) and the rules active now, by category."""
    counts = standing.counts_by_category(runtime.ledger, now=utcnow())
    decided = "handoff_standing_decisions_total"
    lines = _family(decided, "counter", "Actions approved by a standing approval, with nobody looking, by category.")
    lines += [f'{decided}{{category="{label(c)}"}} {n}' for c, (n, _) in sorted(counts.items())]
    live = "handoff_standing_rules_active"
    lines += _family(live, "gauge", "Standing approvals active now (not revoked, expired or flagged), by category.")
    lines += [f'{live}{{category="{label(c)}"}} {n}' for c, (_, n) in sorted(counts.items())]
    return lines


def _waits(rows: Iterable[WaitBuckets]) -> list[str]:
    name = "handoff_time_to_decision_seconds"
    lines = _family(name, "histogram", "Seconds from an escalation's card to its decision, by category.")
    for row in rows:
        category = label(row.category)
        for bound, count in zip(BUCKETS, row.at_most, strict=True):
            lines.append(f'{name}_bucket{{category="{category}",le="{bound}"}} {_number(count)}')
        total, seconds = row.decided, row.total_seconds
        lines.append(f'{name}_bucket{{category="{category}",le="+Inf"}} {_number(total)}')
        lines.append(f'{name}_sum{{category="{category}"}} {_number(seconds)}')
        lines.append(f'{name}_count{{category="{category}"}} {_number(total)}')
    return lines


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _number(value: object) -> str:
    if value is None:
        return "0"
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)
