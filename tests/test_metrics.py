"""`GET /metrics`: Prometheus text with queues, pending reviews, waits, overrides and LLM spend."""

from __future__ import annotations

import re
import urllib.request

from bot.insights.metrics import label, render_metrics
from bot.runtime import Runtime
from bot.store.ledger import Ledger
from scoring.models import Outcome, Route
from tests.ledger_history import add

SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$')


def seed(ledger: Ledger) -> None:
    add(ledger, "e1", "customer_email", wait_s=45, cost=0.02)
    add(ledger, "e2", "customer_email", outcome=Outcome.REJECT, wait_s=4000, cost=0.03)
    add(ledger, "e3", "customer_email", outcome=None)
    add(ledger, "t1", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    ledger.record_flag("t1", flagger="U0BOB")
    ledger.record_escalation_step("e2", "reminded", "U0ALICE")


def test_metrics_are_valid_prometheus_text(runtime: Runtime, web_url: str) -> None:
    """Every line is a comment or a sample; the families the operator needs are all there."""
    seed(runtime.ledger)
    base = web_url.removesuffix("/slack/events")
    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), f"not a sample: {line!r}"
    for family in (
        "handoff_queue_depth",
        "handoff_pending_reviews",
        "handoff_time_to_decision_seconds",
        "handoff_escalations_total",
        "handoff_overrides_total",
        "handoff_llm_calls_total",
        "handoff_llm_cost_usd_total",
    ):
        assert f"# TYPE {family} " in text


def test_histogram_and_counters_match_the_ledger(runtime: Runtime) -> None:
    """Buckets are cumulative, the count is the decided escalations, overrides count the rejection and the flag."""
    seed(runtime.ledger)
    text = render_metrics(runtime)
    buckets = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('handoff_time_to_decision_seconds_bucket{category="customer_email"')
    ]
    assert buckets == sorted(buckets)
    assert buckets[-1] == 2
    assert 'handoff_time_to_decision_seconds_bucket{category="customer_email",le="60"} 1' in text
    assert "handoff_pending_reviews 1" in text
    assert 'handoff_overrides_total{category="customer_email"} 1' in text
    assert 'handoff_overrides_total{category="tag_ticket"} 1' in text
    assert 'handoff_llm_cost_usd_total{category="customer_email"} 0.05' in text
    assert 'handoff_escalation_steps_total{category="customer_email",kind="reminded"} 1' in text


def test_label_values_are_escaped() -> None:
    """Quotes, backslashes and newlines in a category name cannot break the format."""
    assert label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
