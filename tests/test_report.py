"""`handoff report`: per-category figures from SQL aggregates, graduation state, the status line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.insights.report import build_report, format_report, status_line
from bot.review.graduation import effective_level, effective_policy, graduate
from bot.store.ledger import Ledger
from scoring.models import Outcome, Route
from scoring.policy import Level
from tests.ledger_history import add, backdate, policy

LATER = datetime.now(UTC) + timedelta(days=30)


@pytest.fixture
def ledger(ledger_target: str) -> Ledger:
    ledger = Ledger(ledger_target)
    for n in range(8):
        add(ledger, f"e{n}", "customer_email", wait_s=60 * (n + 1))
    add(ledger, "e-edit", "customer_email", outcome=Outcome.EDIT, edited={"n": 2}, wait_s=600)
    add(ledger, "e-reject", "customer_email", outcome=Outcome.REJECT, wait_s=1200)
    add(ledger, "e-timeout", "customer_email", outcome=Outcome.TIMEOUT, wait_s=86400)
    add(ledger, "e-pending", "customer_email", outcome=None)
    for n in range(6):
        add(ledger, f"t{n}", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO, cost=0.01)
    add(ledger, "a1", "customer_email", route=Route.AUTO, outcome=Outcome.AUTO, audit=True)
    ledger.record_flag("t0", flagger="U0BOB")
    ledger.record_confirmation("t1", reviewer="U0BOB")
    ledger.record_confirmation("t2", reviewer="U0CAROL")
    return ledger


def category(report: dict[str, object], name: str) -> dict[str, object]:
    return next(c for c in report["categories"] if c["category"] == name)  # type: ignore[attr-defined,index]


def test_override_rate_counts_changes_and_flags_not_timeouts(ledger: Ledger) -> None:
    """Edits, rejections and flags are overrides; timeouts, pending reviews and unanswered actions are not labels."""
    report = build_report(ledger, policy(), now=LATER)
    email, tag = category(report, "customer_email"), category(report, "tag_ticket")
    assert (email["labelled"], email["overrides"]) == (10, 2)
    assert email["override_rate"] == pytest.approx(2 / 10, abs=1e-6)
    assert email["override_upper95"] > email["override_rate"]
    assert email["decisions"] == {"approve": 8, "auto": 1, "edit": 1, "reject": 1, "timeout": 1}
    assert (email["pending"], email["escalated"], email["audited"]) == (1, 12, 1)
    assert (tag["labelled"], tag["overrides"], tag["flags"]) == (3, 1, 1)
    assert tag["acting_unreviewed"] == 1.0
    assert tag["cost_usd"] == pytest.approx(0.06)


def test_silence_is_not_a_clean_review(ledger: Ledger) -> None:
    """Actions that ran before review count only once a person answered; the rest are reported as unreviewed."""
    report = build_report(ledger, policy(), now=LATER)
    email, tag = category(report, "customer_email"), category(report, "tag_ticket")
    assert (tag["ran_before_review"], tag["unreviewed"], tag["unreviewed_share"]) == (6, 3, 0.5)
    assert (email["ran_before_review"], email["unreviewed"], email["unreviewed_share"]) == (1, 1, 1.0)
    assert "3 of 6 that ran before review still unreviewed (50.0%, not counted)" in format_report(report)
    assert not ledger.record_confirmation("t0", reviewer="U0CAROL"), "a flagged action cannot also look right"
    assert not ledger.record_confirmation("t1", reviewer="U0CAROL"), "an action is confirmed once"


def test_time_to_decision_runs_from_the_card_to_the_decision(ledger: Ledger) -> None:
    """Median and p90 of the wait for escalated proposals, in seconds."""
    wait = category(build_report(ledger, policy(), now=LATER), "customer_email")["time_to_decision_s"]
    assert wait["count"] == 11
    assert 290 <= wait["median"] <= 370
    assert 1100 <= wait["p90"] <= 1300


def test_status_line_is_computed_from_routes() -> None:
    """The deployment's sentence names the autonomous, review-after and ask-first shares."""
    assert status_line(94, 6, 0) == "94% autonomous with review-after on the remaining 6%"
    assert status_line(50, 0, 50) == "50% autonomous with approval before acting on the remaining 50%"
    assert status_line(60, 30, 10) == "60% autonomous, review-after on 30%, approval before acting on 10%"
    assert status_line(0, 0, 0) == "no assessed proposals yet"


def test_report_shows_graduation_state_and_effective_level(ledger: Ledger) -> None:
    """Each category carries its verdict; an applied promotion changes the effective level, not the file's."""
    rules = policy()
    report = build_report(ledger, rules, now=LATER)
    assert category(report, "issue_refund")["graduation"]["state"] == "never_graduate"
    assert category(report, "customer_email")["graduation"]["recommendation"] == "hold"
    ledger.record_policy_event(
        "tag_ticket", kind="promote", levels=("review_after", "autonomous", "review_after"), reason="t", actor="U0OWNER"
    )
    assert effective_level(ledger, rules, "tag_ticket") is Level.AUTONOMOUS
    moved = category(build_report(ledger, rules, now=LATER), "tag_ticket")
    assert (moved["level"], moved["effective_level"]) == ("review_after", "autonomous")
    assert "autonomous*" in format_report(build_report(ledger, rules, now=LATER))


def test_graduate_demotes_at_once_and_proposes_promotions(new_ledger_target: Callable[[], str]) -> None:
    """A flagged-heavy review_after category is demoted; a clean one is proposed, then applied with --apply."""
    ledger = Ledger(new_ledger_target())
    for n in range(20):
        add(ledger, f"t{n}", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
        if n % 2 == 0:
            ledger.record_flag(f"t{n}", flagger="U0BOB")
    for n in range(700):
        add(ledger, f"e{n}", "customer_email")
        backdate(ledger, f"e{n}", days=n % 10)
    rules = policy()
    steps = {s.verdict.category: s for s in graduate(ledger, rules, now=LATER)}
    assert steps["tag_ticket"].action == "applied"
    assert effective_level(ledger, rules, "tag_ticket") is Level.ON_UNCERTAINTY
    assert steps["customer_email"].action == "proposed"
    assert effective_level(ledger, rules, "customer_email") is Level.ON_UNCERTAINTY
    again = {s.verdict.category: s for s in graduate(ledger, rules, now=LATER)}
    assert again["customer_email"].action == "pending"
    applied = {s.verdict.category: s for s in graduate(ledger, rules, now=LATER, apply=True)}
    assert applied["customer_email"].action == "applied"
    assert effective_level(ledger, rules, "customer_email") is Level.REVIEW_AFTER
    assert ledger.verify_chain()


def test_report_command_prints_json(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`handoff report --json` prints the categories, the status line and an intact chain."""
    monkeypatch.setenv("HANDOFF_DB", ledger.target)
    monkeypatch.delenv("HANDOFF_POLICY", raising=False)
    assert main(["report", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chain_ok"] is True
    assert "autonomous" in data["status"]
    assert {c["category"] for c in data["categories"]} >= {"customer_email", "tag_ticket"}
    assert main(["report"]) == 0
    assert "customer_email" in capsys.readouterr().out


def test_unanswered_actions_never_graduate_a_category(new_ledger_target: Callable[[], str]) -> None:
    """700 review_after actions over 10 days that nobody answered hold the category; answered ones promote it."""
    ledger = Ledger(new_ledger_target())
    for n in range(700):
        add(ledger, f"t{n}", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
        backdate(ledger, f"t{n}", days=n % 10)
    rules = policy()
    quiet = {s.verdict.category: s for s in graduate(ledger, rules, now=LATER)}["tag_ticket"]
    assert quiet.action == "none"
    assert "0 of 200 labelled reviews" in quiet.verdict.reason
    assert "700 actions ran with nobody saying they looked right" in quiet.verdict.reason
    for n in range(700):
        ledger.record_confirmation(f"t{n}", reviewer="U0BOB")
    answered = {s.verdict.category: s for s in graduate(ledger, rules, now=LATER)}["tag_ticket"]
    assert (answered.action, answered.verdict.target) == ("proposed", Level.AUTONOMOUS)


def test_audits_rise_when_automatic_actions_are_too_few_to_watch(new_ledger_target: Callable[[], str]) -> None:
    """With 10 automatic actions a day, every one is audited; with 200 a day, a tenth; with none, the policy's rate."""
    ledger = Ledger(new_ledger_target())
    rules = policy()
    assert (
        effective_policy(ledger, rules, "customer_email", now=datetime.now(UTC)).audit_rate_for("customer_email")
        == 0.05
    )
    for n in range(70):
        add(ledger, f"a{n}", "customer_email", route=Route.AUTO, outcome=Outcome.AUTO)
    raised = effective_policy(ledger, rules, "customer_email", now=datetime.now(UTC))
    assert raised.audit_rate_for("customer_email") == 1.0
    assert raised.audit_rate_for("tag_ticket") == 0.05
    for n in range(70, 1400):
        add(ledger, f"a{n}", "customer_email", route=Route.AUTO, outcome=Outcome.AUTO)
    busy = effective_policy(ledger, rules, "customer_email", now=datetime.now(UTC))
    assert busy.audit_rate_for("customer_email") == pytest.approx(0.1)


def test_an_audit_rate_of_zero_is_never_raised(new_ledger_target: Callable[[], str]) -> None:
    """audit_rate 0 is an explicit "never audit": thin evidence does not override it."""
    ledger = Ledger(new_ledger_target())
    for n in range(70):
        add(ledger, f"a{n}", "customer_email", route=Route.AUTO, outcome=Outcome.AUTO)
    rules = policy(
        "categories:\n  customer_email: {level: on_uncertainty, audit_rate: 0}\n  tag_ticket: {level: review_after}\n"
    )
    assert (
        effective_policy(ledger, rules, "customer_email", now=datetime.now(UTC)).audit_rate_for("customer_email") == 0
    )
