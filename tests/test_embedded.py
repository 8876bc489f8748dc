"""The embedded default: with REDIS_URL unset, handoff runs its own server and a new user installs nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from bot.cli.exit_status import UNREACHABLE, status_of
from bot.sandbox.slack_api import SlackStandIn
from bot.store.embedded_redis import EmbeddedServer, EmbeddedServerError, is_answering, redis_url_for
from tests.conftest import BOT_TOKEN, REPO, free_port


def test_second_process_joins_the_first_ones_server_and_the_owner_stops_it(tmp_path: Path) -> None:
    """Processes sharing a data directory share one server; it stops when its starter stops."""
    owner = EmbeddedServer(tmp_path)
    url = owner.join_or_start()
    try:
        joiner = EmbeddedServer(tmp_path)
        assert joiner.join_or_start() == url
        joiner.stop()
        assert is_answering(url), "a joining process must not stop the server"
    finally:
        owner.stop()
    assert not is_answering(url)
    assert not (tmp_path / "redis.json").exists()


def test_embedded_server_keeps_data_across_restarts(tmp_path: Path) -> None:
    """The embedded server writes an append-only file under the data directory, so a restart keeps state."""
    with redis_url_for(None, tmp_path) as url, redis.Redis.from_url(url) as client:
        client.set("handoff:test", "kept")
    with redis_url_for(None, tmp_path) as url, redis.Redis.from_url(url) as client:
        assert client.get("handoff:test") == b"kept"


def test_submit_and_worker_run_on_the_embedded_default(tmp_path: Path, slack: SlackStandIn) -> None:
    """`handoff submit` then `handoff worker --burst` with no REDIS_URL decide a review_after proposal."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"HANDOFF_DATA_DIR": str(tmp_path / "data"), "HANDOFF_LOG_LEVEL": "WARNING"}
    env |= {"SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": BOT_TOKEN}
    proposal = {
        "id": "embedded-1",
        "category": "tag_ticket",
        "summary": "Tag T-1",
        "action": {"name": "tag", "args": {"ticket_id": "T-1", "tag": "billing"}},
    }
    run = [sys.executable, "-m", "bot.cli"]
    submitted = subprocess.run(
        [*run, "submit", "-"], input=json.dumps(proposal).encode(), env=env, cwd=REPO, capture_output=True, timeout=120
    )
    assert submitted.returncode == 0, submitted.stderr.decode()
    worked = subprocess.run([*run, "worker", "--burst"], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert worked.returncode == 0, worked.stderr.decode()
    waited = subprocess.run(
        [*run, "submit", "-", "--wait", "--timeout", "10"],
        input=json.dumps(proposal).encode(),
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert waited.returncode == 0, waited.stderr.decode()
    assert json.loads(waited.stdout)["outcome"] == "auto"
    assert (tmp_path / "data" / "ledger.db").exists()
    assert [m["text"] for m in slack.messages()][-1].startswith("Ran without review"), "the review_after notice"


def test_worker_without_a_slack_token_refuses_to_start(tmp_path: Path) -> None:
    """A worker that could not post cards says so at start, in one line, instead of failing every job."""
    env = {"PATH": os.environ.get("PATH", ""), "HANDOFF_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker"], env=env, cwd=REPO, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert (
        result.stderr.decode().strip()
        == "handoff worker: SLACK_BOT_TOKEN is not set; the worker posts review cards with it"
    )


def test_a_port_taken_before_the_server_binds_it_is_replaced_by_another(tmp_path: Path) -> None:
    """Two processes starting servers at once may pick the same port; the one that loses it starts on
    another instead of failing (a demo once ended in a traceback this way)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], free_port()])
        server = EmbeddedServer(tmp_path, pick_port=lambda: next(ports))
        url = server.join_or_start()
        try:
            assert is_answering(url)
            assert url.rsplit(":", 1)[1].split("/")[0] != str(taken.getsockname()[1])
        finally:
            server.stop()


def test_a_server_that_cannot_start_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    """Every port taken: a clear error naming the data directory and REDIS_URL, which the CLI prints as
    one line with its own exit status."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedServer(tmp_path, pick_port=lambda: int(taken.getsockname()[1]))
        with pytest.raises(EmbeddedServerError, match=r"did not start .*Set REDIS_URL") as raised:
            server.join_or_start()
    assert status_of(raised.value) == UNREACHABLE
    assert not (tmp_path / "redis.json").exists()
