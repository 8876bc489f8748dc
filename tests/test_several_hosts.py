"""Several hosts, no shared disk: two `handoff web` and two `handoff worker` processes, each in its own working
directory with its own data directory (its own policy.yaml, nothing else in common), against one PostgreSQL
database and one Redis. The whole loop runs with signed clicks; a worker killed mid-job loses nothing; clicks on
both web processes at once decide exactly once. Run on either `--ledger-backend`: the ledger here is always
PostgreSQL, as the deployment this test stands for has no disk to share."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.client import Client
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from bot.store.embedded_redis import connect
from bot.store.ledger import Ledger
from tests.conftest import BOT_TOKEN, REPO, SIGNING_SECRET, free_port, wait_until
from tests.test_loop import EMAIL

pytestmark = pytest.mark.slow


class Host:
    """One process on its own "host": its own working directory, data directory and policy file."""

    def __init__(self, root: Path, name: str, env: dict[str, str]) -> None:
        self.dir = root / name
        (self.dir / "data").mkdir(parents=True)
        shutil.copy(REPO / "policy.yaml", self.dir / "policy.yaml")
        self.env = {**env, "HANDOFF_DATA_DIR": "data", "HANDOFF_POLICY": "policy.yaml", "PORT": str(free_port())}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    def start(self, command: str) -> Host:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", command],
            env=self.env,
            cwd=self.dir,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def kill(self) -> str:
        """SIGKILL the process group (a host lost); returns what it wrote to stderr."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        self.proc = None
        return err


@pytest.fixture
def hosts(
    tmp_path: Path, slack: SlackStandIn, redis_url: str, redis_client: Any, new_postgres_url: Callable[[], str]
) -> Iterator[dict[str, Host]]:
    """web-a, web-b, worker-a, worker-b: one PostgreSQL database and one Redis between them, nothing else."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),  # the code (its callbacks among it), not data
        "REDIS_URL": redis_url,
        "SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HANDOFF_DB": new_postgres_url(),
        "HANDOFF_LOG_LEVEL": "WARNING",
    }
    made = {name: Host(tmp_path, name, env) for name in ("web-a", "web-b", "worker-a", "worker-b")}
    yield made
    for host in made.values():
        host.kill()


def healthy(host: Host) -> bool:
    try:
        with urllib.request.urlopen(host.url + "/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def card(slack: SlackStandIn, pid: str) -> dict[str, Any] | None:
    cards = [m for m in slack.messages() if pid in json.dumps(m.get("blocks") or [])]
    return cards[-1] if cards else None


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read PostgreSQL directly, as an outside check would."""
    with psycopg.connect(url) as conn:
        return list(conn.execute(query, params).fetchall())  # type: ignore[arg-type]


def click_at_once(reviewers: dict[str, Reviewer], posted: dict[str, Any]) -> list[int]:
    """Alice approves on web-a while Bob approves on web-b; both HTTP statuses."""
    statuses: list[int] = []

    def click(web: str, user: str) -> None:
        statuses.append(reviewers[web].click(posted, blocks.APPROVE, user=user).status)

    clicks = [threading.Thread(target=click, args=pair) for pair in (("web-a", "U0ALICE"), ("web-b", "U0BOB"))]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(timeout=30)
    return statuses


def test_the_loop_runs_across_hosts_and_two_web_processes_decide_once(
    hosts: dict[str, Host], slack: SlackStandIn
) -> None:
    """Proposals from an agent are assessed by either worker, clicked at once on both web processes by two
    reviewers, decided exactly once each, executed once, and all of it is in PostgreSQL's tables and chain."""
    for name in ("web-a", "web-b"):
        hosts[name].start("web")
    for name in ("worker-a", "worker-b"):
        hosts[name].start("worker")
    for name in ("web-a", "web-b"):
        wait_until(lambda name=name: healthy(hosts[name]), timeout=45, what=f"{name} to answer /healthz")
    client = Client(connect(hosts["web-a"].env["REDIS_URL"]))
    wait_until(client.board.categories, timeout=45, what="a worker to publish the categories")
    pids = [client.submit({**EMAIL, "id": f"hosts-{n}"}) for n in range(4)]
    reviewers = {
        "web-a": Reviewer(hosts["web-a"].url + "/slack/events", SIGNING_SECRET, slack),
        "web-b": Reviewer(hosts["web-b"].url + "/slack/events", SIGNING_SECRET, slack),
    }
    for pid in pids:
        posted = slack.wait_for(lambda s, pid=pid: card(s, pid), timeout=45)
        assert click_at_once(reviewers, posted) == [200, 200]
    decisions = {pid: client.wait(pid, timeout=45) for pid in pids}
    client.close()
    url = hosts["web-a"].env["HANDOFF_DB"]
    ledger = Ledger(url)
    for pid, decision in decisions.items():
        assert decision is not None
        assert decision.reviewer in ("U0ALICE", "U0BOB")
        assert ledger.decision(pid) == decision
        wait_until(lambda pid=pid: ledger.execution(pid), timeout=45, what=f"phase two of {pid}")
    for pid in pids:
        kinds = [k for (k,) in rows(url, "SELECT kind FROM events WHERE proposal_id = %s ORDER BY seq", pid)]
        assert kinds.count("decided") == 1, kinds
        assert kinds.count("executed") == 1, kinds
        assert kinds.count("assessed") == 1, kinds
    assert rows(url, "SELECT COUNT(*) FROM proposals WHERE id LIKE 'hosts-%%'") == [(4,)]
    assert rows(url, "SELECT COUNT(*) FROM decisions WHERE proposal_id LIKE 'hosts-%%'") == [(4,)]
    assert ledger.verify().ok
    ledger.close()
    assert not [p for host in hosts.values() for p in host.dir.rglob("*.db")], "no ledger file on any host"


def test_a_worker_host_lost_mid_job_loses_nothing(hosts: dict[str, Host], slack: SlackStandIn) -> None:
    """The worker assessing a proposal dies with its card unposted; the other worker, elsewhere, takes it up:
    one proposal, one assessment, one card, then a decision from a click."""
    hosts["web-a"].start("web")
    client = Client(connect(hosts["web-a"].env["REDIS_URL"]))
    with slack.hold("chat.postMessage"):
        hosts["worker-a"].start("worker")
        wait_until(client.board.categories, timeout=45, what="worker-a to publish the categories")
        pid = client.submit({**EMAIL, "id": "hosts-killed"})
        slack.wait_for(lambda s: s.held("chat.postMessage"), timeout=45)
        hosts["worker-a"].kill()
    url = hosts["web-a"].env["HANDOFF_DB"]
    ledger = Ledger(url)
    assert ledger.decision(pid) is None
    hosts["worker-b"].start("worker")
    posted = slack.wait_for(lambda s: ledger.card(pid) and card(s, pid), timeout=45)
    wait_until(lambda: healthy(hosts["web-a"]), timeout=45, what="web-a to answer /healthz")
    reviewer = Reviewer(hosts["web-a"].url + "/slack/events", SIGNING_SECRET, slack)
    assert reviewer.click(posted, blocks.APPROVE, user="U0ALICE").status == 200
    decision = client.wait(pid, timeout=45)
    client.close()
    assert decision is not None
    assert decision.reviewer == "U0ALICE"
    kinds = [k for (k,) in rows(url, "SELECT kind FROM events WHERE proposal_id = %s ORDER BY seq", pid)]
    assert kinds.count("proposed") == kinds.count("assessed") == kinds.count("decided") == 1, kinds
    assert ledger.verify().ok
    ledger.close()
