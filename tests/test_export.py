"""`handoff export`: documented datasets, filtered by category and time, with secrets redacted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.insights.export import export_records
from bot.store.ledger import Ledger
from scoring.diff import Change, action_diff
from scoring.models import Action, Outcome, Route
from scoring.redact import REDACTED, redact
from tests.ledger_history import add, policy


@pytest.fixture
def ledger(ledger_target: str) -> Ledger:
    ledger = Ledger(ledger_target)
    add(ledger, "ok1", "customer_email", args={"to": "a@b.c", "api_key": "sk-ant-abcdef123456789"})
    add(ledger, "ed1", "customer_email", outcome=Outcome.EDIT, args={"n": 1, "phone": "555"}, edited={"n": 2})
    add(ledger, "alt1", "customer_email", outcome=Outcome.ALTERNATIVE, edited={"m": 1})
    add(ledger, "rej1", "customer_email", outcome=Outcome.REJECT)
    add(ledger, "ra1", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    add(ledger, "ra2", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    add(ledger, "pend", "customer_email", outcome=None)
    add(ledger, "ra3", "tag_ticket", route=Route.REVIEW_AFTER, outcome=Outcome.AUTO)
    ledger.record_flag("ra2", flagger="U0BOB", reason="wrong tag")
    ledger.record_confirmation("ra1", reviewer="U0BOB")
    ledger.record_escalation_step("ok1", "asked", "U0ALICE", "rotation email-oncall")
    return ledger


def records(ledger: Ledger, dataset: str, **filters: object) -> list[dict[str, object]]:
    return list(export_records(ledger, policy(), dataset=dataset, **filters))  # type: ignore[arg-type]


def test_eval_set_labels_each_judged_proposal(ledger: Ledger) -> None:
    """Approvals and review-after actions someone said look right are ok; edits, alternatives, rejections and
    flags are bad; an action nobody answered (ra3) has no label."""
    labels = {r["id"]: (r["label"], r["label_source"]) for r in records(ledger, "eval")}
    assert labels == {
        "ok1": ("ok", "approve"),
        "ed1": ("bad", "edit"),
        "alt1": ("bad", "alternative"),
        "rej1": ("bad", "reject"),
        "ra1": ("ok", "looks_right"),
        "ra2": ("bad", "flag"),
    }


def test_supervised_pairs_hold_the_action_a_human_approved(ledger: Ledger) -> None:
    """approve → proposed action, edit → edited action, alternative → chosen action; nothing else."""
    pairs = {r["id"]: r["action"] for r in records(ledger, "sft")}
    assert set(pairs) == {"ok1", "ed1", "alt1"}
    assert pairs["ed1"] == {"name": "act", "args": {"n": 2}}
    assert pairs["alt1"] == {"name": "act", "args": {"m": 1}}


def test_preference_pairs_choose_the_edit_over_the_proposal(ledger: Ledger) -> None:
    """Each edit or alternative gives chosen (the reviewer's) and rejected (the agent's), with the diff."""
    pairs = {r["id"]: r for r in records(ledger, "preference")}
    assert set(pairs) == {"ed1", "alt1"}
    assert pairs["ed1"]["chosen"] == {"name": "act", "args": {"n": 2}}
    assert pairs["ed1"]["rejected"]["args"]["n"] == 1
    assert {"path": "args.n", "op": "changed", "before": 1, "after": 2} in pairs["ed1"]["diff"]


def test_raw_records_capture_the_whole_handoff(ledger: Ledger) -> None:
    """Raw records carry assessment, escalation path, decision, diff, wait, flag and policy version."""
    raw = {r["proposal_id"]: r for r in records(ledger, "raw")}
    assert raw["ok1"]["escalation_path"][0]["target"] == "U0ALICE"
    assert raw["ok1"]["policy_version"] == "v1"
    assert raw["ok1"]["diff"] == []
    assert raw["ok1"]["time_to_decision_s"] > 0
    assert raw["ra2"]["flag"]["flagger"] == "U0BOB"
    assert raw["pend"]["decision"] is None


def test_secrets_and_configured_fields_are_redacted(ledger: Ledger) -> None:
    """API keys by name and by shape, and the policy's `export.redact_fields`, never leave the ledger."""
    text = json.dumps(records(ledger, "raw"))
    assert "sk-ant-abcdef" not in text
    assert '"phone": "555"' not in text
    assert REDACTED in text
    assert redact({"note": "use xoxb-12345678-abcdefgh", "tokens": 5}) == {"note": f"use {REDACTED}", "tokens": 5}


def test_export_filters_by_category_and_time(ledger: Ledger) -> None:
    """--category keeps one category; --since in the future keeps nothing; --until today keeps everything."""
    assert {r["category"] for r in records(ledger, "raw", category="tag_ticket")} == {"tag_ticket"}
    assert records(ledger, "raw", since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(records(ledger, "raw", until=datetime.now(UTC) + timedelta(hours=1))) == 8


def test_export_command_refuses_a_bad_date(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed --since exits 2 with one line naming the option; a good one prints JSONL."""
    monkeypatch.setenv("HANDOFF_DB", ledger.target)
    assert main(["export", "--since", "last tuesday"]) == 2
    assert "--since is 'last tuesday'" in capsys.readouterr().err
    assert main(["export", "--dataset", "eval", "--since", "2020-01-01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    assert all(json.loads(line)["label"] in ("ok", "bad") for line in lines)


@pytest.mark.parametrize(
    ("before", "after", "changes"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [Change("args.a", "changed", 1, 2)]),
        ({"a": 1}, {}, [Change("args.a", "removed", before=1)]),
        ({}, {"b": [1]}, [Change("args.b", "added", after=[1])]),
        ({"l": [1, 2]}, {"l": [1, 3, 4]}, [Change("args.l.1", "changed", 2, 3), Change("args.l.2", "added", after=4)]),
    ],
)
def test_action_diff_lists_every_change(
    before: dict[str, object], after: dict[str, object], changes: list[Change]
) -> None:
    """The diff names each added, removed and changed value by its dotted path."""
    assert action_diff(Action(name="x", args=before), Action(name="x", args=after)) == changes
