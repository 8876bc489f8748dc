"""The agent-side client finds the deployment and refuses what the deployment's policy refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from bot.app.worker import run_worker
from bot.client import Client, DeploymentNotFoundError, ProposalError
from bot.review.policy_file import publish_categories
from bot.runtime import Runtime
from bot.store.embedded_redis import EmbeddedServer, find_deployment
from tests.test_loop import EMAIL


def test_worker_publishes_its_policys_categories_at_start(runtime: Runtime) -> None:
    """Starting a worker publishes the active policy's categories for agents to check against."""
    assert runtime.board.categories() is None
    run_worker(runtime, burst=True)
    assert runtime.board.categories() == sorted(runtime.policy.categories)


def test_client_refuses_an_unknown_category_and_names_the_known_ones(runtime: Runtime) -> None:
    """Without a policy file, the client checks the category against what the deployment published."""
    publish_categories(runtime)
    with pytest.raises(ProposalError) as refused:
        Client(runtime.redis).submit({**EMAIL, "category": "wire_money"})
    assert str(refused.value) == (
        "proposal: category: 'wire_money' is not in the deployment's policy; use one of "
        "customer_email, issue_refund, legal_reply, tag_ticket, update_crm_record"
    )
    assert runtime.queue("score").count == 0, "nothing was queued"
    pid = Client(runtime.redis).submit(EMAIL)
    assert runtime.board.get_proposal(pid) is not None, "a known category is accepted"


def test_client_says_to_start_the_worker_when_nothing_is_published(redis_client: redis.Redis) -> None:
    """Before any worker has started, the client cannot check categories and says what to do."""
    with pytest.raises(ProposalError, match=r"start `handoff worker` first$"):
        Client(redis_client).submit(EMAIL)


def test_deployment_is_redis_url_when_set(tmp_path: Path) -> None:
    """REDIS_URL wins over any embedded server."""
    assert find_deployment("redis://example.invalid:6379/0", tmp_path) == "redis://example.invalid:6379/0"


def test_deployment_is_the_embedded_server_of_the_data_directory(tmp_path: Path) -> None:
    """Without REDIS_URL, the client finds the server `handoff worker` started under the data directory."""
    server = EmbeddedServer(tmp_path / "data")
    url = server.join_or_start()
    try:
        assert find_deployment(None, tmp_path / "data") == url
    finally:
        server.stop()


def test_no_deployment_is_one_line_that_says_to_start_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither REDIS_URL nor a running embedded server: Client.connect says to start `handoff worker`."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("HANDOFF_DATA_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(DeploymentNotFoundError) as missing:
        Client.connect()
    message = str(missing.value)
    assert "\n" not in message
    assert message.endswith("start `handoff worker` first (in this directory), or set REDIS_URL")
