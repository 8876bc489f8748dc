"""Prometheus text exposition of handoff's state: queue depths, pending reviews, decisions."""

from __future__ import annotations

from bot.runtime import QUEUES, Runtime


def render_metrics(runtime: Runtime) -> str:
    """The current figures in Prometheus' text format (version 0.0.4)."""
    lines = [
        "# HELP handoff_queue_depth Jobs waiting in each RQ queue.",
        "# TYPE handoff_queue_depth gauge",
    ]
    lines += [f'handoff_queue_depth{{queue="{name}"}} {runtime.queue(name).count}' for name in QUEUES]
    lines += [
        "# HELP handoff_pending_reviews Escalated proposals waiting for a human decision.",
        "# TYPE handoff_pending_reviews gauge",
        f"handoff_pending_reviews {len(runtime.ledger.pending_ids())}",
        "# HELP handoff_decisions_total Decisions recorded in the ledger, by outcome.",
        "# TYPE handoff_decisions_total counter",
    ]
    outcomes = runtime.ledger.outcome_counts()
    lines += [f'handoff_decisions_total{{outcome="{o}"}} {n}' for o, n in sorted(outcomes.items())]
    return "\n".join(lines) + "\n"
