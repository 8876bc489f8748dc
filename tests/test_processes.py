"""The loop across OS processes: `handoff web` (gunicorn), `handoff worker` and `handoff submit`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import Job

from bot.client import Client
from bot.jobs import TICK_KEY
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.reviewer_transport import SocketModeTransport
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_socket import SocketModeStandIn
from bot.slack.surfaces import blocks
from bot.store.embedded_redis import connect
from bot.store.ledger import Ledger
from tests.conftest import BOT_TOKEN, REPO, SIGNING_SECRET, free_port, wait_until
from tests.test_docs import README, code_blocks
from tests.test_loop import EMAIL

pytestmark = pytest.mark.slow


class Processes:
    """Starts handoff commands as separate process groups and kills them all at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, stdin: int | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            env=env or self.env,
            cwd=REPO,
            start_new_session=True,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.running.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.running:
            self.kill(proc)
            for pipe in (proc.stdout, proc.stderr, proc.stdin):
                if pipe:
                    pipe.close()


@pytest.fixture
def env(tmp_path: Path, slack: SlackStandIn, redis_url: str, redis_client: Any, ledger_target: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REDIS_URL": redis_url,
        "SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HANDOFF_DB": ledger_target,
        "HANDOFF_POLICY": str(REPO / "policy.yaml"),
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_LOG_LEVEL": "WARNING",
        "PORT": str(free_port()),
    }


@pytest.fixture
def processes(env: dict[str, str]) -> Iterator[Processes]:
    procs = Processes(env)
    yield procs
    procs.stop_all()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _card(slack: SlackStandIn, pid: str) -> dict[str, Any] | None:
    cards = [m for m in slack.messages() if pid in json.dumps(m.get("blocks") or [])]
    return cards[-1] if cards else None


def test_loop_across_processes(processes: Processes, env: dict[str, str], slack: SlackStandIn) -> None:
    """web, worker and agent as separate processes: the agent prints the reviewer's decision."""
    base = f"http://127.0.0.1:{env['PORT']}"
    processes.start("web")
    processes.start("worker")
    wait_until(lambda: _healthy(base + "/healthz"), timeout=30, what="handoff web to answer /healthz")
    agent = processes.start("submit", "-", "--wait", "--timeout", "60", stdin=subprocess.PIPE)
    assert agent.stdin is not None
    agent.stdin.write(json.dumps({**EMAIL, "id": "across-processes"}).encode())
    agent.stdin.close()
    agent.stdin = None  # closed: communicate() below must not flush it
    card = slack.wait_for(lambda s: _card(s, "across-processes"), timeout=30)
    response = Reviewer(base + "/slack/events", SIGNING_SECRET, slack).click(card, blocks.APPROVE, user="U0ALICE")
    assert response.status == 200
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, err.decode()
    decision = json.loads(out)
    assert (decision["outcome"], decision["reviewer"]) == ("approve", "U0ALICE")
    assert decision["action"]["args"]["to"] == "jane@example.com"
    final = slack.wait_for(lambda s: "Approved" in json.dumps(_card(s, "across-processes")), timeout=30)
    assert final


def test_readme_agent_example_runs_verbatim(processes: Processes, env: dict[str, str], slack: SlackStandIn) -> None:
    """The README's agent example, as written, submits to the running deployment and prints the decision."""
    example = next(b for b in code_blocks(README.read_text(encoding="utf-8")) if "Client.connect()" in b)
    base = f"http://127.0.0.1:{env['PORT']}"
    processes.start("web")
    processes.start("worker")
    wait_until(lambda: _healthy(base + "/healthz"), timeout=30, what="handoff web to answer /healthz")
    agent = subprocess.Popen(
        [sys.executable, "-c", example], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    processes.running.append(agent)
    card = slack.wait_for(lambda s: _card(s, "Email Jane a 40% discount"), timeout=60)
    Reviewer(base + "/slack/events", SIGNING_SECRET, slack).click(card, blocks.APPROVE, user="U0ALICE")
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, err.decode()
    assert "outcome=<Outcome.APPROVE: 'approve'>" in out.decode()


def test_worker_killed_during_assess_loses_no_proposal(
    processes: Processes, env: dict[str, str], slack: SlackStandIn, request: pytest.FixtureRequest
) -> None:
    """A worker killed mid-`assess` leaves the proposal in the inbox; the next worker assesses it."""
    client = Client(connect(env["REDIS_URL"]))
    request.addfinalizer(client.close)
    with slack.hold("chat.postMessage"):
        first = processes.start("worker")
        wait_until(client.board.categories, timeout=30, what="the worker to publish its categories")
        pid = client.submit({**EMAIL, "id": "killed-mid-assess"})
        slack.wait_for(lambda s: s.held("chat.postMessage"), timeout=30)
        processes.kill(first)
    ledger = Ledger(env["HANDOFF_DB"])
    assert ledger.decision(pid) is None
    processes.start("worker")
    card = slack.wait_for(lambda s: ledger.card(pid) and _card(s, pid), timeout=30)
    assert card is not None
    assert ledger.pending_ids() == [pid]
    wait_until(lambda: client.board.inbox() == [], timeout=30, what="the new worker to finish assess")


def _agent(processes: Processes, proposal: dict[str, Any]) -> subprocess.Popen[bytes]:
    agent = processes.start("submit", "-", "--wait", "--timeout", "60", stdin=subprocess.PIPE)
    assert agent.stdin is not None
    agent.stdin.write(json.dumps(proposal).encode())
    agent.stdin.close()
    agent.stdin = None  # closed: communicate() below must not flush it
    return agent


def _printed_decision(agent: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, err.decode()
    decision: dict[str, Any] = json.loads(out)
    return decision


def test_socket_mode_loop_across_processes(processes: Processes, env: dict[str, str], slack: SlackStandIn) -> None:
    """Two `handoff web` in Socket Mode and a worker: a click sent to both and a modal submitted after a drop
    are each decided once, and the agents print the decisions."""
    with SocketModeStandIn(slack) as standin:
        ports = [env["PORT"], str(free_port())]
        for port in ports:
            processes.start("web", env={**env, "SLACK_APP_TOKEN": standin.app_token, "PORT": port})
        processes.start("worker")
        for port in ports:
            url = f"http://127.0.0.1:{port}/healthz"
            wait_until(lambda url=url: _healthy(url), timeout=30, what="handoff web to connect in Socket Mode")
        standin.wait_for(lambda s: len(s.open_links()) == 2, timeout=30)
        reviewer = Reviewer.over(SocketModeTransport(standin), slack)

        approved = _agent(processes, {**EMAIL, "id": "socket-click"})
        card = slack.wait_for(lambda s: _card(s, "socket-click"), timeout=30)
        click = standin.deliver(reviewer.click_body(card, blocks.APPROVE, user="U0ALICE"), to=1)
        standin.redeliver(click, to=2)
        assert standin.wait_ack(click) is None
        assert (_printed_decision(approved)["outcome"], click.retry_attempt) == ("approve", 1)

        edited = _agent(processes, {**EMAIL, "id": "socket-edit"})
        card = slack.wait_for(lambda s: _card(s, "socket-edit"), timeout=30)
        assert reviewer.click(card, blocks.EDIT, user="U0BOB").status == 200
        opened = slack.wait_for(lambda s: s.views(), timeout=30)[-1]
        dropped = standin.drop()
        standin.wait_for(lambda s: len(s.open_links()) == 2 and dropped not in s.open_links(), timeout=30)
        subject = next(b["block_id"] for b in opened["view"]["blocks"] if b.get("label", {}).get("text") == "subject")
        reviewer.submit_view(opened, {subject: {blocks.ARG_INPUT: "Come back, Jane"}}, user="U0BOB")
        decision = _printed_decision(edited)
        assert (decision["outcome"], decision["action"]["args"]["subject"]) == ("edit", "Come back, Jane")
    ledger = Ledger(env["HANDOFF_DB"])
    assert ledger.outcome_counts() == {"approve": 1, "edit": 1}


def test_an_agent_in_any_language_across_processes(
    processes: Processes, env: dict[str, str], slack: SlackStandIn
) -> None:
    """As the README says: web and worker, `handoff agents add --webhook --json`, curl-style requests, the
    long-poll, a click, and a signed webhook verified with the printed secret."""
    from tests.api_helpers import Receiver, call

    hook = Receiver(statuses=[])
    try:
        added = subprocess.run(
            [sys.executable, "-m", "bot.cli", "agents", "add", "billing-bot", "--webhook", hook.url, "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=60,
        )
        agent = json.loads(added.stdout)
        base = f"http://127.0.0.1:{env['PORT']}"
        processes.start("web")
        processes.start("worker")
        wait_until(lambda: _healthy(base + "/healthz"), timeout=30, what="handoff web to answer /healthz")
        proposal = {k: v for k, v in EMAIL.items() if k != "agent"} | {"id": "curl-1"}
        assert call(base, "POST", "/v1/proposals", proposal, token=agent["token"]).status == 202
        card = slack.wait_for(lambda s: _card(s, "curl-1"), timeout=30)
        Reviewer(base + "/slack/events", SIGNING_SECRET, slack).click(card, blocks.APPROVE, user="U0ALICE")
        answer = call(base, "GET", "/v1/proposals/curl-1/decision?wait=30", token=agent["token"])
        assert answer.status == 200
        assert (answer.body["outcome"], answer.body["reviewer"]) == ("approve", "U0ALICE")
        wait_until(lambda: hook.received, timeout=30, what="the signed webhook")
        headers, body = hook.received[0]
        signed = f"v1:{headers['x-handoff-timestamp']}:".encode() + body
        mac = hmac.new(agent["webhook_secret"].encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-handoff-signature"], f"v1={mac}")
        assert json.loads(body) == answer.body
    finally:
        hook.stop()


def test_the_reconcile_tick_keeps_its_next_run_over_several_periods(processes: Processes, env: dict[str, str]) -> None:
    """A real worker with 1 s periods: each tick schedules a live successor, and the watchdog never has to
    warn that a pass was lost."""
    processes.env = {**env, "HANDOFF_RECONCILE_EVERY": "1", "HANDOFF_LOG_LEVEL": "INFO"}
    worker = processes.start("worker")
    connection = connect(env["REDIS_URL"])
    seen: set[str] = set()

    def ticks() -> bool:
        with connection.pipeline() as pipe:
            try:
                pipe.watch(TICK_KEY)  # a tick that runs between the two reads moves the pointer: look again
                pointer = pipe.get(TICK_KEY)
                exists = pointer is not None and bool(pipe.exists(Job.key_for(pointer.decode())))
                pipe.multi()
                pipe.execute()
            except redis.WatchError:
                return False
        if pointer is not None:
            assert exists, "the next tick's job was deleted while the pointer still named it"
            seen.add(pointer.decode())
        return len(seen) >= 5

    wait_until(ticks, timeout=60, what="five reconcile ticks, each scheduling the next")
    processes.kill(worker)
    assert worker.stderr is not None
    log = worker.stderr.read().decode()
    assert "no reconcile pass was scheduled" not in log


def test_a_slack_outage_is_ridden_out_by_job_retries(
    processes: Processes, env: dict[str, str], slack: SlackStandIn
) -> None:
    """Four 500s and two 429s on chat.postMessage: RQ retries assess with backoff, so the card is posted
    seconds after Slack recovers (reconcile runs only hourly here), and the worker's log says what happened."""
    processes.env = {**env, "HANDOFF_RECONCILE_EVERY": "3600"}
    slack.fail_next("chat.postMessage", status=500, times=4)
    slack.fail_next("chat.postMessage", status=429, retry_after=1, times=2)
    worker = processes.start("worker")
    client = Client(connect(env["REDIS_URL"]))
    wait_until(client.board.categories, timeout=30, what="the worker to publish its categories")
    pid = client.submit({**EMAIL, "id": "slack-outage"})
    client.close()
    card = slack.wait_for(lambda s: _card(s, pid), timeout=45)
    assert card is not None
    processes.kill(worker)
    assert worker.stderr is not None
    log = worker.stderr.read().decode()
    assert f"assess of {pid} failed (SlackApiError" in log
    assert "Traceback" not in log, "Slack failing is not a bug: one line per try, no traceback"


def test_an_unreachable_slack_is_one_line_per_try_without_a_traceback(
    processes: Processes, env: dict[str, str], slack: SlackStandIn, runtime: Runtime
) -> None:
    """Nothing listening at SLACK_API_URL: `handoff worker --burst` says, in one warning line, that assess
    failed and when it is retried; no traceback, no lines of slack_sdk's own repeating it."""
    slack.stop()
    pid = Client(runtime.redis, policy=runtime.policy).submit({**EMAIL, "id": "slack-unreachable"})
    worker = processes.start("worker", "--burst", env={**env, "HANDOFF_LOG_LEVEL": "INFO"})
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0
    problems = [line for line in err.decode().splitlines() if " WARNING " in line or " ERROR " in line]
    problems = [line for line in problems if "ANTHROPIC_API_KEY is not set" not in line]  # said at every start
    assert len(problems) == 1, problems
    assert f"WARNING bot.jobs: assess of {pid} failed (URLError" in problems[0]
    assert "retrying in 1s" in problems[0]
    assert "Traceback" not in err.decode()


def stalling_callback(decision: Any) -> str:
    """A proposal callback that records the process it runs in (the work horse), then hangs."""
    with Path(decision.state["marker"]).open("a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(120)  # killed long before this ends
    return "finished"


def test_a_work_horse_killed_mid_callback_is_recorded_as_interrupted(
    processes: Processes, env: dict[str, str], slack: SlackStandIn, tmp_path: Path
) -> None:
    """Kill the horse while the callback runs: the callback ran once and only once, the execution is recorded
    as interrupted, and the card's thread says so."""
    marker = tmp_path / "callback-runs.txt"
    base = f"http://127.0.0.1:{env['PORT']}"
    processes.start("web")
    processes.start("worker")
    wait_until(lambda: _healthy(base + "/healthz"), timeout=30, what="handoff web to answer /healthz")
    proposal = {**EMAIL, "id": "killed-mid-callback", "callback": "tests.test_processes:stalling_callback"}
    pid = Client(connect(env["REDIS_URL"])).submit({**proposal, "state": {"marker": str(marker)}})
    card = slack.wait_for(lambda s: _card(s, pid), timeout=30)
    Reviewer(base + "/slack/events", SIGNING_SECRET, slack).click(card, blocks.APPROVE, user="U0ALICE")
    horse = int(wait_until(lambda: marker.exists() and marker.read_text().strip(), timeout=30, what="the callback"))
    os.kill(horse, signal.SIGKILL)
    ledger = Ledger(env["HANDOFF_DB"])
    wait_until(lambda: ledger.execution(pid) == "interrupted", timeout=30, what="the interruption to be recorded")
    thread = slack.wait_for(
        lambda s: [m for m in s.messages() if m.get("thread_ts") and "Execution interrupted" in m["text"]], timeout=30
    )
    assert "may or may not have taken effect" in thread[0]["text"]
    assert marker.read_text().splitlines() == [str(horse)], "the callback ran exactly once"
