"""Hard signals: each check as a table of proposals and what it must say."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from scoring.models import AgentInput, Proposal, Signal, SignalKind
from scoring.policy import Category, Level, Policy
from scoring.signals import (
    CategoryStats,
    CheckContext,
    CustomCheck,
    ambiguous_entity,
    amount_above_limit,
    entity_not_found,
    find_dates,
    input_out_of_range,
    required_arg_missing,
    run_custom_check,
    stale_context,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EMAIL = Category(level=Level.ON_UNCERTAINTY, required_args=["to", "subject", "body"], max_age_hours=72)


def make_proposal(**fields: Any) -> Proposal:
    base: dict[str, Any] = {
        "category": "customer_email",
        "action": {"name": "send_email", "args": {"to": "ana@example.com", "subject": "Your order", "body": "Hi"}},
        "summary": "Tell Ana her order shipped",
    }
    return Proposal.model_validate(base | fields)


def context(*, category: Category = EMAIL, history: CategoryStats | None = None, **policy: Any) -> CheckContext:
    rules = Policy.model_validate({"categories": {"customer_email": category.model_dump()}, **policy})
    return CheckContext(now=NOW, policy=rules, category_name="customer_email", history=history)


def entities(*matches: list[str]) -> list[dict[str, Any]]:
    return [{"reference": f"ref{i}", "matches": m, "field": "customer_id"} for i, m in enumerate(matches)]


@pytest.mark.parametrize(
    ("found", "fired", "in_reason"),
    [
        ([], False, "no references"),
        ([["c1"]], False, "1 references resolved"),
        ([[]], True, "'ref0' (customer_id)"),
        ([["c1"], []], True, "'ref1'"),
        ([["c1", "c2"]], False, "resolved"),
    ],
)
def test_entity_not_found_fires_on_zero_matches(found: list[list[str]], fired: bool, in_reason: str) -> None:
    """A reference that resolved to no record fires; several matches are another check's business."""
    signal = entity_not_found(make_proposal(entities=entities(*found)), EMAIL, context())
    assert (signal.fired, signal.kind, signal.value) == (fired, SignalKind.HARD, 0.0 if fired else 1.0)
    assert in_reason in signal.reason


@pytest.mark.parametrize(
    ("found", "fired", "in_reason"),
    [
        ([], False, "at most one"),
        ([[]], False, "at most one"),
        ([["c1"]], False, "at most one"),
        ([["c1", "c2"]], True, "matches 2 records: c1, c2"),
        ([["c1"], ["a", "b", "c", "d", "e"]], True, "matches 5 records: a, b, c, ..."),
    ],
)
def test_ambiguous_entity_fires_on_several_matches(found: list[list[str]], fired: bool, in_reason: str) -> None:
    """A reference that matched several records fires and names the first candidates."""
    signal = ambiguous_entity(make_proposal(entities=entities(*found)), EMAIL, context())
    assert signal.fired is fired
    assert in_reason in signal.reason


@pytest.mark.parametrize(
    ("args", "fired", "in_reason"),
    [
        ({"to": "a@b.c", "subject": "s", "body": "b"}, False, "all 3 required"),
        ({"to": "a@b.c", "subject": "s"}, True, "'body'"),
        ({"to": None, "subject": "s", "body": "b"}, True, "'to'"),
        ({"to": "", "subject": "  ", "body": "b"}, True, "'to', 'subject'"),
        ({"to": "a@b.c", "subject": 0, "body": False}, False, "all 3 required"),
    ],
)
def test_required_arg_missing_fires_on_absent_null_or_blank(args: dict[str, Any], fired: bool, in_reason: str) -> None:
    """Absent, null and blank required arguments fire; zero and false are values."""
    proposal = make_proposal(action={"name": "send_email", "args": args})
    signal = required_arg_missing(proposal, EMAIL, context())
    assert signal.fired is fired
    assert in_reason in signal.reason


def dated(*days_ago: float) -> dict[str, Any]:
    return {
        "request": "Where is my order?",
        "context": [{"source": "orders", "text": f"status as of {NOW - timedelta(days=d):%Y-%m-%d}"} for d in days_ago],
    }


@pytest.mark.parametrize(
    ("fields", "category", "policy", "fired", "in_reason"),
    [
        ({"input": dated(1)}, EMAIL, {}, False, "within"),
        ({"input": dated(10, 1)}, EMAIL, {}, False, "within"),
        ({"input": dated(10)}, EMAIL, {}, True, "10 days old"),
        ({"input": dated(4)}, EMAIL, {}, True, "allows 72 h"),
        ({"input": dated(400)}, Category(level=Level.ON_UNCERTAINTY), {}, False, "within"),
        ({"input": "no dates here"}, EMAIL, {}, False, "within"),
        ({"input": dated(2), "summary": "Refund the 2025-05-31 charge"}, EMAIL, {}, True, "refers to 2025-05-31"),
        ({"input": dated(2), "summary": "Follow up on 2025-06-20"}, EMAIL, {}, False, "within"),
        (
            {"summary": "Explain the 2025-03-01 outage"},
            EMAIL,
            {"knowledge_cutoff": date(2025, 1, 31)},
            True,
            "2025-03-01",
        ),
        ({"summary": "Explain the 2024-12-01 outage"}, EMAIL, {"knowledge_cutoff": date(2025, 1, 31)}, False, "within"),
        ({"summary": "Explain the 2025-03-01 outage"}, EMAIL, {}, False, "within"),
    ],
)
def test_stale_context_fires_on_old_context_or_dates_past_the_window(
    fields: dict[str, Any], category: Category, policy: dict[str, Any], fired: bool, in_reason: str
) -> None:
    """Context older than the category allows, or a past date nothing the agent saw covers, fires."""
    signal = stale_context(make_proposal(**fields), category, context(category=category, **policy))
    assert signal.fired is fired, signal.reason
    assert in_reason in signal.reason


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("on 2025-01-02 and 2025-01-03T10:00Z", ["2025-01-02T00:00", "2025-01-03T10:00"]),
        ("at 2025-01-02T10:00:00+02:00", ["2025-01-02T08:00"]),
        ("2025-02-30 is not a day; 12025-01-01 is not a date; 2025-1-1 neither", []),
    ],
)
def test_find_dates_reads_iso_dates_as_utc(text: str, found: list[str]) -> None:
    """ISO dates and date-times come back in UTC; impossible or embedded ones are skipped."""
    assert [f"{d:%Y-%m-%dT%H:%M}" for d in find_dates(text)] == found


HISTORY = CategoryStats.from_inputs(AgentInput(request="x" * (900 + 10 * i), context=[]) for i in range(60))


@pytest.mark.parametrize(
    ("request_chars", "items", "history", "fired", "in_reason"),
    [
        (1_000, 0, None, False, "policy's 20,000"),
        (25_000, 0, None, True, "allows 20,000 in 50"),
        (100, 51, None, True, "51 items"),
        (1_200, 0, HISTORY, False, "60 past proposals"),
        (200_000, 0, HISTORY, True, "200,000 characters"),
        (3, 0, HISTORY, True, "3 characters"),
        (1_000, 12, HISTORY, True, "12 context items"),
        (25_000, 0, CategoryStats.from_inputs([AgentInput(request="x" * 900)] * 10), True, "policy allows"),
    ],
)
def test_input_out_of_range_uses_history_once_it_is_large_enough(
    request_chars: int, items: int, history: CategoryStats | None, fired: bool, in_reason: str
) -> None:
    """A robust bound from history replaces the static policy bound after enough samples."""
    agent_input = {"request": "x" * request_chars, "context": [{"text": "c"}] * items}
    signal = input_out_of_range(make_proposal(input=agent_input), EMAIL, context(history=history))
    assert signal.fired is fired, signal.reason
    assert in_reason in signal.reason


def test_category_stats_of_nothing_has_no_samples() -> None:
    """No history means no learned bound."""
    assert CategoryStats.from_inputs([]).samples == 0


def passes(p: Proposal, c: Category, x: CheckContext) -> None:
    return None


def objects(p: Proposal, c: Category, x: CheckContext) -> str:
    return "the customer objected last week"


def explodes(p: Proposal, c: Category, x: CheckContext) -> None:
    raise KeyError("crm_id")


def soft_spoken(p: Proposal, c: Category, x: CheckContext) -> Signal:
    return Signal(name="vip", kind=SignalKind.SOFT, value=0.9, weight=0.2, reason="VIP customer", fired=True)


def confused(p: Proposal, c: Category, x: CheckContext) -> Any:
    return 42


@pytest.mark.parametrize(
    ("check", "fired", "name", "in_reason"),
    [
        (passes, False, "rule", "passed"),
        (objects, True, "rule", "objected last week"),
        (explodes, True, "rule", "raised KeyError"),
        (soft_spoken, True, "vip", "VIP customer"),
        (confused, True, "rule", "returned int"),
        (None, True, "rule", "not loaded; failing closed"),
    ],
)
def test_custom_checks_fail_closed(check: CustomCheck | None, fired: bool, name: str, in_reason: str) -> None:
    """A custom check that is missing, raises or answers nonsense escalates; its own signal is made hard."""
    signal = run_custom_check("acme.rules:rule", check, make_proposal(), EMAIL, context())
    assert (signal.fired, signal.kind, signal.name) == (fired, SignalKind.HARD, name)
    assert in_reason in signal.reason


@pytest.mark.parametrize(
    ("amount", "params", "reason"),
    [
        (1200, {"max_amount": 500}, "amount 1200 is above the customer_email limit of 500"),
        ("$1,200.50", {"max_amount": 500}, "amount 1200.5 is above the customer_email limit of 500"),
        (500, {"max_amount": 500}, None),
        (9999, {}, None),
        ("lots", {"max_amount": 500}, None),
    ],
)
def test_amount_above_limit_reads_the_category_params(amount: Any, params: dict[str, Any], reason: str | None) -> None:
    """The example custom check compares the action's amount with `params.max_amount`."""
    category = Category(level=Level.APPROVE_BEFORE, params=params)
    proposal = make_proposal(action={"name": "refund", "args": {"amount": amount}})
    assert amount_above_limit(proposal, category, context()) == reason
