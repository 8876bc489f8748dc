"""`handoff score` and `handoff eval`: files in, JSONL or a report out, one-line reasons for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.sandbox.anthropic_api import AnthropicStandIn

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "tests" / "fixtures" / "labelled.jsonl"
POLICY = REPO / "policy.yaml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)  # the one map from an error to the exit status is in main
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "HANDOFF_POLICY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def claude(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicStandIn]:
    """ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL pointing at the stand-in."""
    with AnthropicStandIn(api_key="sk-ant-offline") as standin:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-offline")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", standin.url)
        yield standin


def proposals_file(tmp_path: Path, *lines: dict[str, Any] | str) -> Path:
    path = tmp_path / "proposals.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def unlabelled(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines()]
    return proposals_file(tmp_path, *({k: v for k, v in row.items() if k != "label"} for row in rows))


def test_score_without_a_key_reports_soft_signals_unavailable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One assessment per proposal with every signal; on_uncertainty fails closed, review_after still runs."""
    status, out, _ = run(["score", str(unlabelled(tmp_path)), "--policy", str(POLICY)], capsys)
    assessments = [json.loads(line) for line in out.splitlines()]
    by_id = {a["proposal_id"]: a for a in assessments}
    assert status == 0
    assert len(assessments) == len(LABELLED.read_text().splitlines())
    email = by_id["email-1"]
    assert email["route"] == "escalate"
    ensemble = next(s for s in email["signals"] if s["name"] == "ensemble")
    assert (ensemble["fired"], ensemble["value"]) == (True, 0.0)
    assert ensemble["reason"] == "unavailable: no ANTHROPIC_API_KEY is set"
    assert by_id["tag-1"]["route"] == "review_after"
    assert all({"name", "kind", "value", "weight", "reason"} <= set(s) for a in assessments for s in a["signals"])


def test_score_measures_soft_signals_through_the_configured_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], claude: AnthropicStandIn
) -> None:
    """With a key and ANTHROPIC_BASE_URL, the soft signals are measured and clean emails run."""
    status, out, _ = run(["score", str(unlabelled(tmp_path)), "--policy", str(POLICY)], capsys)
    by_id = {a["proposal_id"]: a for a in map(json.loads, out.splitlines())}
    assert status == 0
    assert by_id["email-1"]["route"] == "auto"
    assert by_id["email-4"]["route"] == "escalate"
    assert by_id["legal-2"]["llm_calls"] == 0, "legal_reply always asks: no answer could change its route"
    assert sum(a["llm_calls"] for a in by_id.values()) == claude.calls


def test_proposal_without_an_id_is_named_by_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Assessments of id-less proposals are keyed by line number."""
    proposal = {
        "category": "tag_ticket",
        "action": {"name": "tag", "args": {"ticket_id": "T", "tag": "x"}},
        "summary": "s",
    }
    path = proposals_file(tmp_path, proposal, "", proposal)
    _, out, _ = run(["score", str(path), "--policy", str(POLICY)], capsys)
    assert [json.loads(line)["proposal_id"] for line in out.splitlines()] == ["line-1", "line-3"]


GOOD = {"category": "tag_ticket", "action": {"name": "tag", "args": {}}, "summary": "s"}


@pytest.mark.parametrize(
    ("command", "lines", "reason"),
    [
        (
            "score",
            [GOOD, GOOD, {"category": "tag_ticket", "action": {}, "summary": "s"}],
            ":3: action.name: field required",
        ),
        ("score", [GOOD, "{not json"], ":2: not valid JSON (Expecting property name"),
        ("score", ["[1, 2]"], ":1: expected a JSON object (one proposal per line)"),
        ("score", [GOOD | {"id": "no spaces allowed"}], ":1: id: must be 1-64 letters"),
        ("eval", [GOOD | {"label": "ok"}, GOOD], ":2: label: field required; expected 'ok' or 'bad'"),
        ("eval", [GOOD | {"label": "good"}], ":1: label: is 'good'; expected 'ok' or 'bad'"),
        ("eval", [GOOD | {"label": ["ok"]}], ":1: label: is ['ok']; expected 'ok' or 'bad'"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, lines: list[Any], reason: str
) -> None:
    """Nothing is printed on stdout; stderr says which line and which field."""
    path = proposals_file(tmp_path, *lines)
    status, out, err = run([command, str(path), "--policy", str(POLICY)], capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"handoff {command}: {path}{reason}")
    assert err.count("\n") == 1


def test_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is one line, exit 2."""
    status, _, err = run(["score", str(tmp_path / "nope.jsonl"), "--policy", str(POLICY)], capsys)
    assert (status, err) == (2, f"handoff score: {tmp_path / 'nope.jsonl'}: no such file\n")


def test_policy_with_a_check_that_cannot_be_imported_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The policy's key path is in the message before any proposal is scored."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("categories:\n  tag_ticket: {level: review_after, checks: ['acme_rules_missing:limit']}\n")
    status, _, err = run(["score", str(proposals_file(tmp_path, GOOD)), "--policy", str(policy)], capsys)
    assert status == 2
    assert err.startswith(
        f"handoff score: {policy}: categories.tag_ticket.checks[0]: cannot import 'acme_rules_missing'"
    )


def test_eval_json_reports_auroc_escalation_escapes_and_the_curve(
    capsys: pytest.CaptureFixture[str], claude: AnthropicStandIn
) -> None:
    """The machine-readable report has an auroc, the rates at current thresholds and a risk-coverage curve."""
    status, out, _ = run(["eval", str(LABELLED), "--json", "--policy", str(POLICY)], capsys)
    report = json.loads(out)
    assert status == 0
    assert (report["total"], report["bad"]) == (21, 10)
    assert report["auroc"] > 0.8
    assert 0 < report["escalation_rate"] < 1
    assert report["escape_rate"] == pytest.approx(0.1)
    curve = report["risk_coverage"]
    assert [p["threshold"] for p in curve][:3] == [0.0, 0.05, 0.1]
    assert curve[0]["coverage"] == 1.0
    assert report["by_category"]["tag_ticket"]["escalation_rate"] == 0.0


def test_eval_text_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the report is text naming each figure."""
    status, out, _ = run(["eval", str(LABELLED), "--policy", str(POLICY)], capsys)
    assert status == 0
    for words in ("escalation rate", "escape rate", "AUROC", "risk-coverage", "customer_email"):
        assert words in out


def test_the_handoff_command_wires_score(tmp_path: Path) -> None:
    """`python -m bot.cli score` runs the same code and exits 2 with one line on bad input."""
    path = proposals_file(tmp_path, {"category": "tag_ticket", "summary": "s"})
    env = {"PATH": "/usr/bin:/bin", "HANDOFF_POLICY": str(POLICY)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "score", str(path)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().endswith(f"{path}:1: action: field required")


def test_skipping_calls_that_cannot_change_a_route_keeps_every_escalation_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], claude: AnthropicStandIn
) -> None:
    """On the labelled fixture the default policy routes each proposal as measuring everything does, for fewer calls."""
    measure_all = tmp_path / "measure-all.yaml"
    text = POLICY.read_text()
    assert "\nllm:\n" in text, "policy.yaml's llm section moved: update this test"
    measure_all.write_text(text.replace("\nllm:\n", "\nllm:\n  measure_always_asked: true\n", 1))
    unlabelled_copy = tmp_path / "proposals.jsonl"
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]
    unlabelled_copy.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "label"}) + "\n" for r in rows))
    routes, calls = {}, {}
    for name, policy in (("default", POLICY), ("measure all", measure_all)):
        before = claude.calls
        status, out, _ = run(["score", str(unlabelled_copy), "--policy", str(policy)], capsys)
        assert status == 0
        routes[name] = {a["proposal_id"]: a["route"] for a in map(json.loads, out.splitlines())}
        calls[name] = claude.calls - before
    assert routes["default"] == routes["measure all"]
    assert len(routes["default"]) == 21
    assert calls["default"] < calls["measure all"]
