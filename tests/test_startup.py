"""What each process loads at start: the CLI only what a command needs, the worker everything its jobs need."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _loaded_after(code: str) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, check=True, timeout=120)
    return list(json.loads(run.stdout))


def test_the_command_line_loads_no_slack_rq_anthropic_or_ledger_until_a_command_runs() -> None:
    """Importing bot.cli and building its parser (what `handoff --help` does) leaves the heavy libraries unloaded."""
    loaded = _loaded_after("from bot.cli import build_parser\nbuild_parser()")
    heavy = ("anthropic", "slack_sdk", "slack_bolt", "rq", "sqlite_utils", "httpx", "bot.store.ledger", "bot.app")
    assert [m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy)] == []
    assert "bot.cli.main" in loaded


def _modules_jobs_import_when_they_run() -> set[str]:
    tree = ast.parse((REPO / "bot" / "jobs.py").read_text(encoding="utf-8"))
    found = set()
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {f"{node.module}.{a.name}" if node.module == "bot.review" else node.module for a in node.names}
    return found


def test_the_worker_loads_its_jobs_code_before_any_fork_and_not_the_anthropic_sdk() -> None:
    """A job body's deferred imports are loaded in the worker, so a forked horse never pays them; with a key
    set, the Anthropic SDK waits for the first call (test_llm covers that the call then works)."""
    deferred = _modules_jobs_import_when_they_run()
    assert "bot.review.phases" in deferred
    loaded = set(
        _loaded_after(
            "import bot.app.worker\n"
            "from bot.llm.soft_signals import build_soft_signals\n"
            "from bot.settings import Settings\n"
            "assert build_soft_signals(Settings.from_env({'ANTHROPIC_API_KEY': 'sk-ant-test-not-a-key'}))"
        )
    )
    assert deferred - loaded == set()
    assert "anthropic" not in loaded


def test_the_parsers_choices_are_the_ones_the_commands_accept() -> None:
    """The CLI spells out datasets and levels so `--help` need not import them; they match their homes."""
    from bot.cli import insights
    from bot.insights.export import DATASETS
    from scoring.policy import Level

    assert insights.DATASETS == DATASETS
    assert tuple(level.value for level in Level) == insights.LEVELS
