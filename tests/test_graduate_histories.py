"""`handoff graduate --histories`: synthetic histories replayed through the worker's graduation code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main


def write(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "histories.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def days(name: str, count: int, *, reviews: int = 20, overrides: int = 0, start: int = 0) -> list[dict[str, object]]:
    return [{"history": name, "day": start + d, "reviews": reviews, "overrides": overrides} for d in range(count)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["graduate", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture(autouse=True)
def _example_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOFF_POLICY", raising=False)


def test_prints_one_json_line_per_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean history promotes once the test, the floor and the days are met; a flagged one is demoted."""
    rows = days("clean", 30) + days("bad", 30, overrides=2)
    out = run(capsys, "--histories", str(write(tmp_path, rows)), "--json")
    assert out == [
        {"history": "clean", "promoted_day": 9, "promoted_after_reviews": 200, "demoted_day": None},
        {"history": "bad", "promoted_day": None, "promoted_after_reviews": None, "demoted_day": out[1]["demoted_day"]},
    ]
    assert isinstance(out[1]["demoted_day"], int)
    assert out[1]["demoted_day"] <= 7


def test_a_burst_of_one_day_cannot_graduate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """400 clean reviews on one day and nothing for 13 days: only days with labelled reviews count."""
    rows = [{"history": "burst", "day": 0, "reviews": 400, "overrides": 0}]
    rows += days("burst", 6, start=14)
    out = run(capsys, "--histories", str(write(tmp_path, rows)))
    assert out[0]["promoted_day"] == 19  # the seventh day with data


def test_level_and_category_choose_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From review_after autonomy needs 400 reviews; a never_graduate category never moves."""
    path = write(tmp_path, days("h", 40))
    assert run(capsys, "--histories", str(path), "--level", "review_after")[0]["promoted_after_reviews"] == 400
    assert run(capsys, "--histories", str(path), "--category", "issue_refund")[0]["promoted_day"] is None
    assert run(capsys, "--histories", str(path), "--category", "tag_ticket")[0]["promoted_after_reviews"] == 400


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json", "line 1: not valid JSON"),
        ('{"history": "h", "day": -1, "reviews": 1, "overrides": 0}', "line 1: day: expected a whole number"),
        ('{"history": "h", "day": 0, "reviews": 1, "overrides": 2}', "line 1: overrides: 2 is more than reviews"),
        ('{"history": "h", "day": 0, "reviews": "20", "overrides": 0}', "line 1: reviews: expected a whole number"),
        ('{"history": "", "day": 0, "reviews": 1, "overrides": 0}', "line 1: history: expected a name"),
        ('{"history": "h", "day": 0, "reviews": 1, "overrides": 0, "x": 1}', "line 1: x: unknown field"),
    ],
)
def test_bad_lines_name_the_line_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, words: str
) -> None:
    """Each bad line exits 2 with one line naming where and what."""
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    assert main(["graduate", "--histories", str(path)]) == 2
    assert words in capsys.readouterr().err


def test_a_repeated_day_and_unknown_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A history may not list a day twice; --category must exist; --level needs --histories."""
    twice = write(tmp_path, days("h", 1) + days("h", 1))
    assert main(["graduate", "--histories", str(twice)]) == 2
    assert "line 2: day: day 0 of history 'h' appears twice" in capsys.readouterr().err
    assert main(["graduate", "--histories", str(twice), "--category", "nope"]) == 2
    assert "'nope' is not a category" in capsys.readouterr().err
    assert main(["graduate", "--histories", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
