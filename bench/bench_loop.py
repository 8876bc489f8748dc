"""Benchmark: the review loop against bare RQ and a no-op Bolt handler, measured in the same run.

(a) proposals per second through `assess` (hard signals only; `tag_ticket` is made autonomous with no
audit sampling in the bench's copy of the policy, so policy decides each and phase two runs inline in
the same job; a proposal is done when its `assess` job has finished) against no-op RQ jobs, with RQ's
forking `Worker` and with
`SimpleWorker`, each in its own worker process; (b) click-ack latency p50/p99 of `handoff web` under
concurrent signed clicks against a Bolt app whose only listener acks, both under uvicorn (Slack's routes
in a2wsgi's thread pool);
(c) peak memory (VmHWM) of the web and worker processes. Private redis-server, temp SQLite ledgers,
the Slack stand-in; loopback only. Run: `python bench/bench_loop.py [--n 500] [--clicks 200]`.

handoff's modules are imported inside the functions that use them: the bare-RQ baseline worker
imports this module for `noop`, and must stay as light as a plain `rq worker`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

from bench import _common as common
from bench._common import Peak, Processes, pop, wait_until
from bot.store.embedded_redis import connect  # imports only redis

if TYPE_CHECKING:
    from bot.sandbox.reviewer import Response, Reviewer
    from bot.sandbox.slack_api import SlackStandIn

NOOP_QUEUE = "bench-noop"
SIGNING_SECRET = "bench-signing-secret-0000"  # the stand-in's, not a secret
JOB_OPTIONS: dict[str, Any] = {"result_ttl": 3600, "failure_ttl": 7 * 86400}  # what handoff's own jobs use
CHILD_WAIT = 60.0
THROUGHPUT_TARGET, P99_TARGET, MEMORY_TARGET_MB = 0.7, 2.0, 150.0
SIMPLE_TARGET = 0.8  # in process against in process: nothing but handoff's own work in between
# name shown -> (the bare-RQ worker class of its baseline, the kind `bot.app.worker.build_worker` builds)
CLASSES: dict[str, tuple[type[BaseWorker], str]] = {
    "HandoffWorker": (Worker, "handoff"),  # what `handoff worker` runs, against what `rq worker` runs
    "Worker": (Worker, "fork"),
    "SimpleWorker": (SimpleWorker, "simple"),
}
Row = tuple[str, str, str, str, str]


def noop(i: int) -> None:
    """The baseline RQ job: takes a plain argument, does nothing."""


# -- worker processes ---------------------------------------------------------------------------


def worker_child(kind: str, class_name: str, run_id: str) -> int:
    """A worker process that reports ready, waits for the go, bursts, and stays until told to quit.

    `bare`: only RQ and this module loaded, no-op jobs. `loaded`: handoff's worker process (runtime
    built, activated and preloaded by `bot.app.worker.build_worker`, as `handoff worker` does) running
    no-op jobs. `handoff`: that process on handoff's own queues. Staying alive lets the parent read the
    process's VmHWM.
    """
    importlib.import_module("bench.bench_loop")  # resolve `noop` before forking, as bot.jobs is
    url = os.environ["REDIS_URL"]
    connection = connect(url)
    worker: BaseWorker
    if kind == "bare":
        queue = Queue(NOOP_QUEUE, connection=connection, serializer=JSONSerializer)
        worker = CLASSES[class_name][0]([queue], connection=connection, serializer=JSONSerializer)
    else:  # what `handoff worker` does before it works: build, activate, reconcile, preload
        from bot.app.wiring import build_runtime
        from bot.app.worker import build_worker
        from bot.review.reconcile import reconcile
        from bot.runtime import activate
        from bot.settings import Settings
        from bot.store.queues import QUEUES

        runtime = build_runtime(Settings.from_env(), redis_url=url)
        activate(runtime)
        reconcile(runtime)
        connection = runtime.redis
        names = QUEUES if kind == "handoff" else (NOOP_QUEUE,)
        worker = build_worker(runtime, queues=names, kind=CLASSES[class_name][1])
    connection.rpush(f"bench:ready:{run_id}", os.getpid())
    if pop(connection, f"bench:go:{run_id}", timeout=CHILD_WAIT) is None:
        return 1
    ran = worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
    horse_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    connection.rpush(f"bench:done:{run_id}", json.dumps({"ran": ran, "horse_mb": horse_mb}))
    pop(connection, f"bench:quit:{run_id}", timeout=CHILD_WAIT)
    return 0


@dataclass
class Batch:
    """Work for one worker run: the child's kind, and how to enqueue it.

    `enqueue` returns the ids of the jobs whose end marks an item done, and of other jobs it causes.
    """

    kind: str
    enqueue: Callable[[redis.Redis], tuple[list[str], list[str]]]
    keyed: bool = False  # the worker runs with ANTHROPIC_API_KEY set, against the Anthropic stand-in


@dataclass
class WorkerRun:
    """One burst: how many finished, seconds from the first enqueue to the last job's end, memory."""

    label: str
    count: int
    finished: int
    seconds: float
    enqueue_seconds: float
    memory: list[Peak] = field(default_factory=list)
    horse_mb: float = 0.0
    job_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0


def run_worker(bench: Bench, batch: Batch, class_name: str, *, ledger: Path) -> WorkerRun:
    """Start a worker process, enqueue the batch, let it burst, and time first enqueue to last end."""
    client = connect(bench.redis_url)
    client.flushdb()
    run_id = f"{batch.kind}-{class_name}-{ledger.stem}"
    env = {**bench.env, "HANDOFF_DB": str(ledger), **(bench.key_env if batch.keyed else {})}
    log = bench.workdir / f"worker-{run_id}.log"
    args = [common.python(), "-m", "bench.bench_loop", "--worker-child", batch.kind, class_name, run_id]
    proc = bench.processes.start(args, env=env, log=log)
    try:
        common.await_key(client, f"bench:ready:{run_id}", proc, log, timeout=CHILD_WAIT)
        started = time.time()
        job_ids, other_ids = batch.enqueue(client)
        enqueued = time.time()
        client.rpush(f"bench:go:{run_id}", 1)
        report = json.loads(common.await_key(client, f"bench:done:{run_id}", proc, log, timeout=bench.work_timeout))
        memory = common.peaks(proc.pid)
        client.rpush(f"bench:quit:{run_id}", 1)
        proc.wait(timeout=10)
    finally:
        bench.processes.stop(proc)
    jobs = [j for j in Job.fetch_many(job_ids, connection=client, serializer=JSONSerializer) if j is not None]
    ends = [j.ended_at.timestamp() for j in jobs if j.get_status(refresh=False) == JobStatus.FINISHED and j.ended_at]
    seconds = (max(ends) - started) if ends else 0.0
    run = WorkerRun(run_id, len(job_ids), len(ends), seconds, enqueued - started, memory, report["horse_mb"])
    run.job_ms = common.job_run_ms(client, job_ids + other_ids)
    return run


# -- (a) throughput -----------------------------------------------------------------------------


def noop_batch(kind: str, n: int) -> Batch:
    """`n` no-op jobs on their own queue, enqueued with the options handoff's jobs use."""

    def enqueue(client: redis.Redis) -> tuple[list[str], list[str]]:
        queue = Queue(NOOP_QUEUE, connection=client, serializer=JSONSerializer)
        ids = [f"noop-{i}" for i in range(n)]
        for i, job_id in enumerate(ids):
            queue.enqueue("bench.bench_loop.noop", i, job_id=job_id, **JOB_OPTIONS)
        return ids, []

    return Batch(kind, enqueue)


def proposal_batch(
    bench: Bench, n: int, make: Callable[[int], dict[str, Any]], *, timed: str, keyed: bool = False
) -> Batch:
    """`n` proposals submitted as an agent does; the `timed` job ("execute" or "assess") marks each done."""
    from bot.client import Client
    from bot.jobs import assess_job_id, execute_job_id

    def enqueue(client: redis.Redis) -> tuple[list[str], list[str]]:
        agent = Client(client, policy=bench.policy)
        pids = [agent.submit(make(i)) for i in range(n)]
        assess_ids, execute_ids = [assess_job_id(p) for p in pids], [execute_job_id(p) for p in pids]
        return (execute_ids, assess_ids) if timed == "execute" else (assess_ids, [])

    return Batch("handoff", enqueue, keyed)


def tag_proposal(i: int) -> dict[str, Any]:
    """An autonomous proposal with no hard signal: policy decides it and phase two runs inline."""
    return {
        "id": f"tag-{i}",
        "category": "tag_ticket",
        "action": {"name": "tag", "args": {"ticket_id": f"T-{i}", "tag": "billing"}},
        "summary": f"Tag ticket T-{i} as billing",
        "input": {"request": f"Ticket T-{i}: I was charged twice this month."},
        "rationale": ["The customer mentions a double charge"],
    }


def email_proposal(i: int) -> dict[str, Any]:
    """An on_uncertainty email: without soft signals nothing is confident, so it escalates to a card."""
    return {
        "id": f"email-{i}",
        "category": "customer_email",
        "action": {"name": "send_email", "args": {"to": f"c{i}@example.com", "subject": "Hi", "body": "40% off"}},
        "summary": f"Send customer {i} a 40% discount to win them back",
        "input": {"request": "Customer churned last week; try to win them back."},
        "rationale": ["Churned accounts respond to discounts"],
        "state": {"ticket": i},
    }


@dataclass
class Throughput:
    """One worker class: bare no-op jobs, no-op jobs in handoff's worker process, proposals without and
    with ANTHROPIC_API_KEY (the configuration production runs; no LLM call is made for `tag_ticket`)."""

    bare: WorkerRun
    loaded: WorkerRun
    handoff: WorkerRun
    keyed: WorkerRun

    @property
    def ratio(self) -> float:
        return self.handoff.rate / self.bare.rate if self.bare.rate else 0.0

    @property
    def keyed_ratio(self) -> float:
        return self.keyed.rate / self.bare.rate if self.bare.rate else 0.0


def measure_throughput(bench: Bench) -> dict[str, Throughput]:
    """For each worker class, `--repeat` rounds of bare, handoff without and with a key, taken in turn (so
    a change in the machine's load hits all three), then the median of each; handoff's on fresh ledgers."""
    results = {}
    for class_name in CLASSES:
        spare = bench.workdir / f"noop-{class_name}.db"
        loaded = run_worker(bench, noop_batch("loaded", bench.n), class_name, ledger=spare)
        rounds: list[list[WorkerRun]] = [[], [], []]
        for r in range(bench.repeat):
            rounds[0].append(run_worker(bench, noop_batch("bare", bench.n), class_name, ledger=spare))
            for i, keyed in enumerate((False, True), start=1):
                ledger = bench.workdir / f"assess-{class_name}-{'key' if keyed else 'nokey'}-{r}.db"
                batch = proposal_batch(bench, bench.n, tag_proposal, timed="assess", keyed=keyed)
                rounds[i].append(run_worker(bench, batch, class_name, ledger=ledger))
                _check_ledger(ledger, bench.n)
        bare, handoff, keyed_run = (_median_run(runs) for runs in rounds)
        result = results[class_name] = Throughput(bare, loaded, handoff, keyed_run)
        print(
            f"(a) {class_name:<13} bare no-op {bare.rate:6.1f} jobs/s | no-op in handoff's process"
            f" {loaded.rate:6.1f} jobs/s | handoff {result.handoff.rate:6.1f} proposals/s, ratio {result.ratio:.2f}"
            f" | with ANTHROPIC_API_KEY {result.keyed.rate:6.1f} proposals/s, ratio {result.keyed_ratio:.2f}",
            flush=True,
        )
        for label, run in (("no key", result.handoff), ("key", result.keyed)):
            spans = {**bare.job_ms, **run.job_ms}
            print(
                f"    {label}: {run.finished}/{bench.n} in {run.seconds:.2f}s (submitting {run.enqueue_seconds:.2f}s);"
                f" median job run time (ms): {', '.join(f'{k} {v:.2f}' for k, v in spans.items())}",
                flush=True,
            )
    return results


def _median_run(runs: list[WorkerRun]) -> WorkerRun:
    """The run with the median rate (of an odd count; the upper middle of an even one)."""
    return sorted(runs, key=lambda run: run.rate)[len(runs) // 2]


def _check_ledger(path: Path, n: int) -> None:
    from bot.store.ledger import Ledger

    ledger = Ledger(path)
    counts, outcomes = ledger.counts(), ledger.outcome_counts()
    if counts["executions"] != n or outcomes.get("auto") != n:
        print(f"    warning: ledger {path.name} has {counts} and outcomes {outcomes}; expected {n} auto", flush=True)


# -- (b) click-ack latency ----------------------------------------------------------------------


def baseline_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The click baseline: a Bolt app configured like handoff's whose only listener acks."""
    from slack_bolt import Ack, App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot.slack.surfaces import blocks

    app = App(
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
    )

    @app.action(blocks.APPROVE)
    def approve(ack: Ack) -> None:
        ack()

    slack_handler = SlackRequestHandler(app)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/slack/events" and environ.get("REQUEST_METHOD") == "POST":
            return slack_handler(environ, start_response)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"ok\n"]

    return application


def baseline_asgi() -> Any:
    """`baseline_app` as `handoff web` serves its Slack routes: through a2wsgi's thread pool under uvicorn."""
    from a2wsgi import WSGIMiddleware

    from bot.app.web import LISTENER_THREADS

    return WSGIMiddleware(baseline_app(), workers=LISTENER_THREADS)  # type: ignore[arg-type]


@dataclass
class Clicks:
    """Ack round trips (seconds) for handoff and the baseline, and their processes' peak memory."""

    handoff: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=lambda: {"handoff": 0, "baseline": 0})
    decided: int = 0
    web_memory: list[Peak] = field(default_factory=list)
    baseline_memory: list[Peak] = field(default_factory=list)
    prep: WorkerRun | None = None


def measure_clicks(bench: Bench) -> Clicks:
    """Escalate enough proposals, serve both apps under uvicorn, then fire rounds of concurrent clicks.

    Round 0 warms both apps up (imports, Bolt's first auth.test) and is not counted; the order of the
    two apps alternates per round, and handoff's post-ack work settles before the baseline's turn.
    """
    from bot.sandbox.reviewer import Reviewer
    from bot.store.ledger import Ledger

    result, width = Clicks(), bench.concurrency
    rounds = max(1, bench.clicks // width)
    ledger = bench.workdir / "web.db"
    batch = proposal_batch(bench, (rounds + 1) * width, email_proposal, timed="assess")
    result.prep = run_worker(bench, batch, "HandoffWorker", ledger=ledger)
    cards = [m for m in bench.standin.messages() if _has_approve(m)]
    if len(cards) < (rounds + 1) * width:
        raise RuntimeError(f"only {len(cards)} cards posted for {(rounds + 1) * width} escalations")
    apps = {
        "handoff": Reviewer(_serve_handoff(bench, ledger), SIGNING_SECRET, bench.standin),
        "baseline": Reviewer(_serve_baseline(bench), SIGNING_SECRET, bench.standin),
    }
    bodies = _click_bodies(apps["handoff"], cards, width)
    client = connect(bench.redis_url)
    with ThreadPoolExecutor(width, thread_name_prefix="click") as pool:
        for r in range(rounds + 1):
            batch_bodies = bodies[r * width : (r + 1) * width]
            for name in ("handoff", "baseline") if r % 2 == 0 else ("baseline", "handoff"):
                responses = _fire(pool, apps[name], batch_bodies)
                if name == "handoff":
                    _settle(client, (r + 1) * width)
                if r > 0:
                    getattr(result, name).extend(resp.elapsed for resp in responses)
                    result.failed[name] += sum(resp.status != 200 for resp in responses)
    result.decided = Ledger(ledger).outcome_counts().get("approve", 0)
    result.web_memory, result.baseline_memory = common.peaks(bench.web_pid), common.peaks(bench.baseline_pid)
    return result


def _serve_handoff(bench: Bench, ledger: Path) -> str:
    """`handoff web` as production runs it (uvicorn; Slack's routes in a2wsgi's thread pool), on a free port."""
    port, log = common.free_port(), bench.workdir / "web.log"
    env = {**bench.env, "HANDOFF_DB": str(ledger), "PORT": str(port)}
    proc = bench.processes.start([common.python(), "-m", "bot.cli", "web"], env=env, log=log)
    bench.web_pid = proc.pid
    return common.wait_healthy(f"http://127.0.0.1:{port}", proc, log) + "/slack/events"


def _serve_baseline(bench: Bench) -> str:
    """`baseline_asgi` under uvicorn, served the way `bot.app.asgi.run` serves handoff (same thread pool)."""
    port, log = common.free_port(), bench.workdir / "baseline.log"
    args = [common.python(), "-m", "uvicorn", "bench.bench_loop:baseline_asgi", "--factory", "--no-access-log"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "10", "--log-level", "warning"]
    proc = bench.processes.start(args, env=bench.env, log=log)
    bench.baseline_pid = proc.pid
    return common.wait_healthy(f"http://127.0.0.1:{port}", proc, log) + "/slack/events"


def _has_approve(message: dict[str, Any]) -> bool:
    """Whether a posted message is a review card with an Approve button (not, say, a review_after notice)."""
    from bot.slack.surfaces import blocks

    elements = [e for b in message.get("blocks", []) if b.get("type") == "actions" for e in b.get("elements", [])]
    return any(e.get("action_id") == blocks.APPROVE for e in elements)


def _click_bodies(reviewer: Reviewer, cards: list[dict[str, Any]], width: int) -> list[bytes]:
    """Approve clicks on distinct cards, from `width` different reviewers."""
    from bot.slack.surfaces import blocks

    return [
        reviewer.click_payload(card, blocks.APPROVE, user=f"U0REVIEWER{i % width:02d}") for i, card in enumerate(cards)
    ]


def _fire(pool: ThreadPoolExecutor, reviewer: Reviewer, bodies: list[bytes]) -> list[Response]:
    """POST `bodies` at once (each signed as Slack does, then a barrier) and return the responses."""
    barrier = threading.Barrier(len(bodies))

    def one(body: bytes) -> Response:
        barrier.wait(timeout=10)
        return reviewer.post(body)

    return list(pool.map(one, bodies, timeout=30))


def _settle(client: redis.Redis, decided: int) -> None:
    """Wait until handoff's listeners finished their post-ack work (each decision enqueues execute)."""
    queue = Queue("execute", connection=client, serializer=JSONSerializer)
    wait_until(lambda: queue.count >= decided, timeout=30, what=f"{decided} decisions to enqueue execute jobs")


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Bench:
    """One run's shared parts: processes, Redis, the Slack stand-in, the children's environment."""

    processes: Processes
    standin: SlackStandIn
    workdir: Path
    redis_url: str
    args: argparse.Namespace
    claude_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    key_env: dict[str, str] = field(default_factory=dict)
    web_pid: int = 0
    baseline_pid: int = 0

    def __post_init__(self) -> None:
        from bot.review.policy_file import load_policy

        policy_file = self.workdir / "bench-policy.yaml"
        text = (common.REPO / "policy.yaml").read_text()
        marker = "  tag_ticket:\n    description: Put a label on a support ticket.\n    level: review_after\n"
        assert marker in text, "policy.yaml's tag_ticket changed: update the bench's copy"
        autonomous = marker.replace("level: review_after\n", "level: autonomous\n    audit_rate: 0\n")
        policy_file.write_text(text.replace(marker, autonomous))
        self.policy = load_policy(policy_file)
        self.n, self.clicks, self.concurrency = self.args.n, self.args.clicks, self.args.concurrency
        self.repeat = max(1, self.args.repeat)
        self.work_timeout = max(60.0, self.n / 5)
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV") if k in os.environ}
        self.env = {
            **keep,
            "PYTHONPATH": str(common.REPO),
            "REDIS_URL": self.redis_url,
            "SLACK_API_URL": self.standin.url,
            "SLACK_BOT_TOKEN": self.standin.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "HANDOFF_POLICY": str(policy_file),
            "HANDOFF_DATA_DIR": str(self.workdir / "data"),
            "HANDOFF_LOG_LEVEL": "WARNING",
            "HANDOFF_SLACK_POST_RATE": "0",  # the stand-in has no rate limit; the click part posts 220 cards
        }  # no ANTHROPIC_API_KEY: hard signals only; `key_env` adds it for the keyed runs
        self.key_env = {"ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key", "ANTHROPIC_BASE_URL": self.claude_url}


def table(throughput: dict[str, Throughput], clicks: Clicks | None) -> list[str]:
    """The closing table: every figure, its baseline, the ratio and the target."""
    rows: list[Row] = [("figure", "handoff", "baseline", "ratio", "target")]
    for name, t in throughput.items():
        goal = SIMPLE_TARGET if name == "SimpleWorker" else THROUGHPUT_TARGET
        target = f">= {goal} {_verdict(t.ratio >= goal)}"
        rows.append(_row(f"throughput, {name} (prop/s vs bare no-op jobs/s)", t.handoff.rate, t.bare.rate, target))
        keyed_target = f">= {goal} {_verdict(t.keyed_ratio >= goal)}"
        rows.append(_row("  the same with ANTHROPIC_API_KEY (stand-in)", t.keyed.rate, t.bare.rate, keyed_target))
        rows.append(_row("  no-op jobs/s in handoff's worker process", t.loaded.rate, t.bare.rate))
    rows += _horse_rows(throughput)
    if clicks is not None:
        rows += _click_rows(clicks)
    for name, t in throughput.items():
        rows += _memory_rows(f"worker {name}", t.keyed.memory, t.bare.memory, ("main",))
        if t.keyed.horse_mb:
            rows.append(_mem_row(f"peak MB worker {name} largest horse", t.keyed.horse_mb, t.bare.horse_mb))
    if clicks is not None and clicks.prep is not None:
        rows += _memory_rows("worker HandoffWorker posting cards", clicks.prep.memory, [], ("main",))
    return common.render_table(rows)


def _horse_rows(throughput: dict[str, Throughput]) -> list[Row]:
    """The median assess run time in a forked horse against the same in SimpleWorker (target: within 2x)."""
    if not {"Worker", "SimpleWorker"} <= set(throughput):
        return []
    rows = []
    for label, pick in (("", lambda t: t.handoff), (" with key", lambda t: t.keyed)):
        simple = pick(throughput["SimpleWorker"]).job_ms.get("assess", 0.0)
        for name in ("Worker", "HandoffWorker"):
            ms = pick(throughput[name]).job_ms.get("assess", 0.0) if name in throughput else 0.0
            where = "in a horse" if name == "Worker" else "in HandoffWorker"
            target = f"<= 2x {_verdict(ms <= 2 * simple)}"
            rows.append(_row(f"median assess ms{label}, {where} vs SimpleWorker", ms, simple, target))
    return rows


def _click_rows(clicks: Clicks) -> list[Row]:
    rows = []
    for p in (50, 99):
        mine, theirs = common.percentile(clicks.handoff, p) * 1000, common.percentile(clicks.baseline, p) * 1000
        target = f"<= {P99_TARGET:g}x {_verdict(mine <= P99_TARGET * theirs)}" if p == 99 else "info"
        rows.append(_row(f"click ack p{p} (ms, vs ack-only Bolt)", mine, theirs, target))
    rows += _memory_rows("web (uvicorn)", clicks.web_memory, clicks.baseline_memory, ("main",))
    return rows


def _row(label: str, mine: float, theirs: float, target: str = "info") -> Row:
    return (label, f"{mine:.1f}", f"{theirs:.1f}" if theirs else "-", _ratio(mine, theirs), target)


def _memory_rows(what: str, mine: list[Peak], theirs: list[Peak], roles: tuple[str, ...]) -> list[Row]:
    rows = []
    for i, peak in enumerate(mine):
        role = roles[i] if i < len(roles) else f"child {peak.pid}"
        rows.append(_mem_row(f"peak MB {what} {role}", peak.mb, theirs[i].mb if i < len(theirs) else 0.0))
    if len(mine) > 1:
        total, their_total = sum(p.mb for p in mine), sum(p.mb for p in theirs)
        rows.append(_row(f"peak MB {what}, sum of tree", total, their_total))
    return rows


def _mem_row(label: str, mb: float, other: float) -> Row:
    return _row(label, mb, other, f"< {MEMORY_TARGET_MB:g} {_verdict(mb < MEMORY_TARGET_MB)}")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def run(args: argparse.Namespace) -> int:
    from bot.sandbox.anthropic_api import AnthropicStandIn
    from bot.sandbox.slack_api import SlackStandIn

    started = time.monotonic()
    with (
        common.time_limit(args.time_limit),
        Processes() as processes,
        SlackStandIn(token="xoxb-bench-token") as standin,
        AnthropicStandIn() as claude,
        tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp,
    ):
        workdir = Path(tmp)
        redis_url = common.start_redis(processes, workdir)
        bench = Bench(processes, standin, workdir, redis_url, args, claude_url=claude.url)
        print(common.machine_info(), flush=True)
        print(
            f"(a) {args.n} proposals per run; a proposal is done when its assess job (phase two inline) has finished",
            flush=True,
        )
        throughput = measure_throughput(bench)
        clicks = None if args.throughput_only else measure_clicks(bench)
        if clicks is not None:
            print(
                f"(b) {len(clicks.handoff)} clicks per app, {args.concurrency} at a time, after a warm-up round;"
                f" approvals recorded {clicks.decided}; non-200 answers {clicks.failed}",
                flush=True,
            )
        if claude.calls:
            print(f"    warning: the Anthropic stand-in served {claude.calls} calls; tag_ticket should need none")
        print()
        print("\n".join(table(throughput, clicks)))
    print(f"\n(ran in {time.monotonic() - started:.0f}s; ratios, not absolute times, are the figures)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="proposals (and no-op jobs) per throughput run")
    parser.add_argument("--clicks", type=int, default=200, help="measured clicks per app (plus a warm-up round)")
    parser.add_argument("--concurrency", type=int, default=20, help="clicks in flight at once")
    parser.add_argument("--time-limit", type=float, default=600, help="abort (and clean up) after this many seconds")
    parser.add_argument("--throughput-only", action="store_true", help="part (a) and memory only, no clicks")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each throughput run; the median counts")
    parser.add_argument("--worker-child", nargs=3, metavar=("KIND", "CLASS", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_child:
        return worker_child(*args.worker_child)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
