"""Profile where an `assess` job's time goes inside RQ's forking work horse (and, for contrast, in-process).

Runs handoff's worker process in this process against a private redis-server, a temp ledger, the Slack
stand-in and (with `--key`) the Anthropic stand-in, with `tag_ticket` made autonomous so no LLM call is
made. A `Worker` subclass turns cProfile on in each horse right after the fork and dumps it before the
horse exits; the dumps are summed and printed by cumulative time. Run:
`python bench/profile_horse.py [--n 200] [--key] [--preload] [--worker Worker|SimpleWorker] [--top 25]`.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rq import SimpleWorker, Worker

from bench import _common as common
from bench.bench_loop import tag_proposal


class ProfiledHorseWorker(Worker):
    """RQ's forking worker with cProfile on inside each work horse (a bench seam, not shipped)."""

    profile_dir: Path = Path()

    def main_work_horse(self, job: Any, queue: Any) -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            self.perform_job(job, queue, self.execution)  # type: ignore[arg-type]
        finally:
            profiler.disable()
            profiler.dump_stats(str(self.profile_dir / f"horse-{os.getpid()}.prof"))
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--key", action="store_true", help="set ANTHROPIC_API_KEY against the stand-in")
    parser.add_argument("--worker", default="Worker", choices=("Worker", "SimpleWorker"))
    parser.add_argument("--preload", action="store_true", help="preload as `handoff worker` does")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    from bot.sandbox.anthropic_api import AnthropicStandIn
    from bot.sandbox.slack_api import SlackStandIn

    with (
        common.Processes() as processes,
        SlackStandIn(token="xoxb-bench-token") as slack,
        AnthropicStandIn() as claude,
        tempfile.TemporaryDirectory(prefix="handoff-prof-") as tmp,
    ):
        workdir = Path(tmp)
        url = common.start_redis(processes, workdir)
        policy_file = workdir / "policy.yaml"
        policy_file.write_text(_autonomous_policy())
        os.environ.update(
            REDIS_URL=url,
            SLACK_API_URL=slack.url,
            SLACK_BOT_TOKEN=slack.token,
            HANDOFF_POLICY=str(policy_file),
            HANDOFF_DB=str(workdir / "ledger.db"),
            HANDOFF_SLACK_POST_RATE="0",
        )
        if args.key:
            os.environ.update(ANTHROPIC_API_KEY="sk-ant-bench-fake", ANTHROPIC_BASE_URL=claude.url)
        return _profile(args, workdir, url)


def _autonomous_policy() -> str:
    text = (common.REPO / "policy.yaml").read_text()
    marker = "  tag_ticket:\n    description: Put a label on a support ticket.\n    level: review_after\n"
    return text.replace(marker, marker.replace("level: review_after\n", "level: autonomous\n    audit_rate: 0\n"))


def _profile(args: argparse.Namespace, workdir: Path, url: str) -> int:
    from bot.app.wiring import build_runtime
    from bot.client import Client
    from bot.review.reconcile import reconcile
    from bot.runtime import activate
    from bot.settings import Settings
    from bot.store.queues import QUEUES

    runtime = build_runtime(Settings.from_env(), redis_url=url)
    activate(runtime)
    reconcile(runtime)
    agent = Client(runtime.redis, policy=runtime.policy)
    for i in range(args.n):
        agent.submit(tag_proposal(i))
    queues = [runtime.queue(name) for name in QUEUES]
    serializer = queues[0].serializer
    ProfiledHorseWorker.profile_dir = workdir
    if args.preload:
        from bot.app.worker import preload

        preload(runtime)
    cls = ProfiledHorseWorker if args.worker == "Worker" else SimpleWorker
    worker = cls(queues, connection=runtime.redis, serializer=serializer)
    profiler = cProfile.Profile() if args.worker != "Worker" else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(workdir / "horse-inprocess.prof"))
    seconds = time.perf_counter() - started
    dumps = sorted(str(p) for p in workdir.glob("horse-*.prof")) or [str(workdir / "none")]
    print(f"{args.n} proposals, {args.worker}, key={'set' if args.key else 'unset'}: {seconds:.2f}s wall")
    stats = pstats.Stats(*dumps)
    stats.files = [f"{len(dumps)} profile(s)"]
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
