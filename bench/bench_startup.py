"""Benchmark: how long `handoff` commands take to start, against a baseline measured in the same run.

CLI: `handoff --version` (`--help` where there is no `--version`), `handoff policy check policy.yaml` and
`handoff submit -` (no `--wait`) against `python -c "import redis, pydantic"`. Worker: `handoff worker
--burst` on empty queues, with ANTHROPIC_API_KEY set (as production runs; no call is made), against
`rq worker --burst`. Each command runs `--rounds` times, interleaved with its baseline; the figure is
the ratio of the medians. Private redis-server, temp ledger; loopback only.
Run: `python bench/bench_startup.py [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _common as common

BIN = Path(sys.executable).parent
TARGETS = {"version": 1.3, "policy check": 2.0, "submit": 2.0}
PROPOSAL = {
    "category": "tag_ticket",
    "action": {"name": "tag", "args": {"ticket_id": "T-1", "tag": "billing"}},
    "summary": "Tag ticket T-1 as billing",
}


def seconds(args: list[str], *, env: dict[str, str], stdin: bytes = b"") -> float:
    """Wall time of one run of `args`; a failing command is an error, not a figure."""
    started = time.perf_counter()
    done = subprocess.run(args, env=env, input=stdin, capture_output=True, cwd=common.REPO, timeout=120)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return took


Pairs = dict[str, tuple[list[str], list[str], bytes]]


def medians(pairs: Pairs, *, env: dict[str, str], rounds: int) -> dict[str, tuple[float, float]]:
    """Median seconds of each command and of its baseline, run alternately `rounds` times after a warm-up."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pairs}
    for r in range(rounds + 1):
        for name, (mine, base, stdin) in pairs.items():
            first, second = seconds(mine, env=env, stdin=stdin), seconds(base, env=env)
            if r:
                times[name][0].append(first)
                times[name][1].append(second)
    return {name: (statistics.median(a), statistics.median(b)) for name, (a, b) in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="measured runs of each command and its baseline")
    args = parser.parse_args(argv)
    from bot.sandbox.anthropic_api import AnthropicStandIn
    from bot.sandbox.slack_api import SlackStandIn

    with (
        common.Processes() as processes,
        SlackStandIn(token="xoxb-bench-token") as slack,
        AnthropicStandIn() as claude,
        tempfile.TemporaryDirectory(prefix="handoff-startup-") as tmp,
    ):
        workdir = Path(tmp)
        url = common.start_redis(processes, workdir)
        env = {
            **os.environ,
            "REDIS_URL": url,
            "SLACK_API_URL": slack.url,
            "SLACK_BOT_TOKEN": slack.token,
            "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key",
            "ANTHROPIC_BASE_URL": claude.url,
            "HANDOFF_DB": str(workdir / "ledger.db"),
            "HANDOFF_DATA_DIR": str(workdir / "data"),
            "HANDOFF_LOG_LEVEL": "WARNING",
        }
        print(common.machine_info(), flush=True)
        print(_load(), flush=True)
        handoff, python = str(BIN / "handoff"), sys.executable
        version = ["--version"] if _succeeds([handoff, "--version"], env) else ["--help"]
        baseline = [python, "-c", "import redis, pydantic"]
        cli = {
            "version": ([handoff, *version], baseline, b""),
            "policy check": ([handoff, "policy", "check", "policy.yaml"], baseline, b""),
            "submit": ([handoff, "submit", "-"], baseline, json.dumps(PROPOSAL).encode()),
        }
        rq_worker = [str(BIN / "rq"), "worker", "--burst", "-u", url]
        worker = {"worker --burst": ([handoff, "worker", "--burst"], rq_worker, b"")}
        figures = medians(cli, env=env, rounds=args.rounds) | medians(worker, env=env, rounds=args.rounds)
        rows = [("command", "handoff s", "baseline s", "ratio", "target")]
        for name, (mine, base) in figures.items():
            label = f"handoff {' '.join(version)}" if name == "version" else f"handoff {name}"
            target = TARGETS.get(name)
            verdict = f"<= {target:g}x {'met' if mine <= target * base else 'MISSED'}" if target else "info"
            rows.append((label, f"{mine:.3f}", f"{base:.3f}", f"{mine / base:.2f}", verdict))
        print("baseline: `python -c 'import redis, pydantic'` for the CLI, `rq worker --burst` for the worker")
        print("\n".join(common.render_table(rows)))
        print(_load(), flush=True)
    return 0


def _succeeds(args: list[str], env: dict[str, str]) -> bool:
    return subprocess.run(args, env=env, capture_output=True, timeout=60).returncode == 0


def _load() -> str:
    return "load average: " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    raise SystemExit(main())
