"""PostgreSQL restarting under handoff: a click while the server is down is "not recorded, try again" and
publishes nothing; a job that fails on it is retried once the server is back; nothing is lost or doubled.
The server is the test's own cluster on a free port (never the shared one), stopped and started with pg_ctl."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from bot.app.web import LocalServer, wsgi_app
from bot.client import Client
from bot.jobs import assess_job_id
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.store.ledger import Ledger
from bot.store.postgres import close_all
from bot.store.queues import QUEUES, SCORE_QUEUE
from tests.conftest import SIGNING_SECRET, activated, free_port, work
from tests.ledger_backends import PrivateServer, postgres_bin
from tests.test_flows import card_of
from tests.test_loop import EMAIL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    bindir = postgres_bin()
    if bindir is None:
        pytest.fail("PostgreSQL's server programs are not installed (apt-get install postgresql); .ci/run does it")
    own = PrivateServer(bindir, free_port())
    own.start()
    yield own
    close_all()
    own.remove()


@pytest.fixture
def runtime_on_own_server(
    settings: Settings, server: PrivateServer, redis_client: object, request: pytest.FixtureRequest
) -> Iterator[Runtime]:
    """The wired runtime with its ledger on the private server (a database of its own); a write gives up on
    the server after 3 s."""
    url = server.create_database(f"handoff_{request.node.name[-40:].lower()}")
    with activated(settings.model_copy(update={"db_url": SecretStr(url), "db_path": None})) as runtime:
        runtime.ledger.close()
        runtime.ledger = Ledger(url, busy_timeout=3)
        yield runtime
    close_all()


def kinds(ledger: Ledger, pid: str) -> list[str]:
    return [str(k) for (k,) in ledger.db.execute("SELECT kind FROM events WHERE proposal_id = ? ORDER BY seq", [pid])]


def test_a_click_while_postgres_restarts_is_not_recorded_then_decides_once(
    runtime_on_own_server: Runtime, server: PrivateServer, slack: SlackStandIn
) -> None:
    """Server down: Approve tells the reviewer to try again and the agent hears nothing. Server back: the
    next click decides, once, and the chain verifies."""
    runtime = runtime_on_own_server
    web = LocalServer(wsgi_app(runtime))
    try:
        reviewer = Reviewer(web.url + "/slack/events", SIGNING_SECRET, slack)
        pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
        work(runtime)
        posted = card_of(slack, pid)
        server.stop()
        assert reviewer.click(posted, blocks.APPROVE, user="U0ALICE").status == 200
        told = slack.wait_for(
            lambda s: [e for e in s.ephemerals("U0ALICE") if "not recorded" in e["text"].lower()], timeout=30
        )
        assert "try again" in told[-1]["text"]
        assert Client(runtime.redis).wait(pid, timeout=0.5) is None, "nothing published that the ledger lacks"
        server.start()
        assert reviewer.click(card_of(slack, pid), blocks.APPROVE, user="U0ALICE").status == 200
        decision = Client(runtime.redis).wait(pid, timeout=30)
    finally:
        web.stop()
    assert decision is not None
    assert decision.reviewer == "U0ALICE"
    assert runtime.ledger.decision(pid) == decision
    assert kinds(runtime.ledger, pid).count("decided") == 1
    assert runtime.ledger.verify().ok


def test_a_job_that_fails_while_postgres_is_down_is_retried_and_lands_once(
    runtime_on_own_server: Runtime, server: PrivateServer, slack: SlackStandIn
) -> None:
    """assess fails on the stopped server and RQ schedules it again; run after the restart, it stores the
    proposal and posts its card once."""
    runtime = runtime_on_own_server
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    server.stop()
    work(runtime)
    queue = runtime.queue(SCORE_QUEUE)
    scheduled = ScheduledJobRegistry(queue=queue)
    assert scheduled.get_job_ids() == [assess_job_id(pid)], "the failed job is scheduled again, not dropped"
    assert slack.messages() == []
    server.start()
    job = queue.fetch_job(assess_job_id(pid))
    assert job is not None
    scheduled.schedule(job, datetime.now(UTC))  # its backoff has passed
    worker = SimpleWorker([runtime.queue(q) for q in QUEUES], connection=runtime.redis, serializer=queue.serializer)
    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
    work(runtime)
    assert card_of(slack, pid)
    assert runtime.ledger.pending_ids() == [pid]
    assert [k for k in kinds(runtime.ledger, pid) if k in ("proposed", "assessed", "card_posted")] == [
        "proposed",
        "assessed",
        "card_posted",
    ]
    assert runtime.ledger.verify().ok
