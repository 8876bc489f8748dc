"""`handoff demo` runs the whole loop on a machine with nothing configured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_demo_runs_the_loop_and_exits_zero() -> None:
    """The demo shows routes, cards, an approval, a rejection with its reason, and the ledger summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "SLACK_", "ANTHROPIC_", "HANDOFF_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "route ESCALATE" in out
    assert "route REVIEW_AFTER" in out
    assert "┌─ Slack card in #handoff-reviews" in out
    assert "received approve from U0" in out
    assert "received reject from U0DANA: “40% is over the 25% retention limit" in out
    assert "hash chain intact" in out
    assert "Traceback" not in result.stderr.decode()
