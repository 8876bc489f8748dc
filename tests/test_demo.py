"""`handoff demo` runs the whole loop on a machine with nothing configured."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

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
    assert len(out.splitlines()) <= 160, "the default demo fits a screenful or two"
    assert "\x1b[" not in out, "piped output is plain text"
    assert "<@" not in out, "Slack markup is rendered, not shown raw"
    assert "*Proposes:*" not in out, "Slack markup is rendered, not shown raw"
    assert "acts alone at" not in out
    assert "REVIEW_AFTER: it runs now and a person reviews it afterwards" in out
    assert "Reviewed afterwards: #handoff-reviews shows “Ran without review”" in out
    assert "escal. = share escalated to a person" in out, "the report's headings are explained"


def test_demo_verbose_shows_the_full_cards_and_modals() -> None:
    """--verbose adds what the agent saw, the modals, and the decided cards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "SLACK_", "ANTHROPIC_", "HANDOFF_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--verbose"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "What the agent saw" in out
    assert "┌─ Modal “Edit and approve”" in out
    assert "The card, once decided:" in out


def drive_interactive_demo(choices: list[str]) -> tuple[int, str]:
    """Run `handoff demo --interactive` in a pseudo-terminal, answering each card's prompt in turn.

    `choices` cycles: "a" approves; "r" and "s" reject or send back, with a reason typed at the next prompt.
    Returns the exit status and everything the terminal showed (stdout and stderr).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "SLACK_", "ANTHROPIC_", "HANDOFF_"))}
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--interactive"],
        env=env,
        cwd=REPO,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    shown, decided, reasons = b"", 0, 0
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the demo exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if shown.count(b"Decide: [a]pprove") > decided:
                os.write(controller, choices[decided % len(choices)].encode() + b"\n")
                decided += 1
            if shown.count(b"Reason or instruction") > reasons:
                reasons += 1
                os.write(controller, f"reason number {reasons}\n".encode())
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        os.close(controller)
    return status, shown.decode(errors="replace").replace("\r\n", "\n")


def test_interactive_demo_lets_you_approve_every_card_quorum_included() -> None:
    """Approving every card, refunds and legal replies too, reaches every agent; quorum is explained."""
    status, shown = drive_interactive_demo(["a"])
    assert "Traceback" not in shown
    assert status == 0, shown[-3000:]
    assert "no decision yet" not in shown
    assert "Only legal_reply reviewers (group S0LEGAL, the legal-oncall rotation) may decide this card" in shown
    assert "It runs only after 2 distinct reviewers approve" in shown
    assert "That is approval 1 of 2" in shown
    assert "billing-bot received approve from U0FINANCE" in shown, "the second reviewer completes the quorum"
    assert "support-bot received approve from U0COUNSEL" in shown


@pytest.mark.parametrize("choices", [["r"], ["s"]])
def test_interactive_demo_rejects_or_sends_back_every_card(choices: list[str]) -> None:
    """Rejecting or sending back any card, quorum categories included, decides it for its agent."""
    status, shown = drive_interactive_demo(choices)
    assert "Traceback" not in shown
    assert status == 0, shown[-3000:]
    outcome = "reject" if choices == ["r"] else "redirect"
    assert f"billing-bot received {outcome} from U0YOU" in shown
    assert f"support-bot received {outcome} from U0YOU" in shown
    assert "no decision yet" not in shown


def test_interactive_demo_at_the_end_of_input_lets_the_simulated_reviewers_finish() -> None:
    """Closing the input (Ctrl-D) hands the remaining cards to the simulated reviewers, without a traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "SLACK_", "ANTHROPIC_", "HANDOFF_"))}
    controller, terminal = pty.openpty()
    os.write(controller, b"\x04")  # Ctrl-D: end of input at the first prompt
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--interactive"],
        env=env,
        cwd=REPO,
        stdin=terminal,
        capture_output=True,
        timeout=120,
    )
    os.close(terminal)
    os.close(controller)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out = result.stdout.decode()
    assert "end of input: the simulated reviewers decide this card and the rest" in out
    assert "received reject from U0DANA" in out, "a simulated reviewer decided a later card"
    assert "Traceback" not in result.stderr.decode()
