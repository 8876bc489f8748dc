"""handoff web in Socket Mode: exactly once across connections, reconnects that lose no click, /healthz."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bot.app.socket_mode import SocketModeApp, SocketModeLink
from bot.app.web import LocalServer, build_app, wsgi_app
from bot.app.wiring import build_runtime
from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.reviewer_transport import SocketModeTransport
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_socket import SocketModeStandIn
from bot.settings import Settings, SettingsError
from bot.slack.surfaces import blocks
from tests.conftest import wait_until, work
from tests.factories import EMAIL

ALICE, BOB = "U0ALICE", "U0BOB"
RECONNECTED = "Socket Mode reconnected"
COMMAND_FIELDS = {"command": "/handoff", "text": "help", "user_id": ALICE, "trigger_id": "1.2.3"}


class WebProcesses:
    """handoff's web app in Socket Mode, once per runtime, as separate `handoff web` processes would run it."""

    def __init__(self, standin: SocketModeStandIn) -> None:
        self.standin = standin
        self.apps: list[SocketModeApp] = []

    def start(self, runtime: Runtime) -> SocketModeApp:
        app = SocketModeApp(build_app(runtime), app_token=self.standin.app_token, connection=runtime.redis)
        self.apps.append(app)
        app.link.connect()
        return app

    def close(self) -> None:
        for app in self.apps:
            app.link.close()


@pytest.fixture
def standin(slack: SlackStandIn) -> Iterator[SocketModeStandIn]:
    with SocketModeStandIn(slack, drain_seconds=1.0) as socket_mode:
        yield socket_mode


@pytest.fixture
def webs(standin: SocketModeStandIn) -> Iterator[WebProcesses]:
    processes = WebProcesses(standin)
    yield processes
    processes.close()


@pytest.fixture
def socket_reviewer(standin: SocketModeStandIn, slack: SlackStandIn) -> Reviewer:
    return Reviewer.over(SocketModeTransport(standin), slack)


def escalate(runtime: Runtime, slack: SlackStandIn) -> tuple[str, dict[str, Any]]:
    """Submit the email proposal, assess it, and return its id and live card."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    card = slack.wait_for(lambda s: [m for m in s.messages() if pid in json.dumps(m["blocks"])], timeout=5)[0]
    return pid, card


def decided_once(runtime: Runtime, pid: str) -> Any:
    # The ledger takes the decision first; it is published on the stream right after.
    wait_until(lambda: runtime.redis.xrange(f"handoff:decision:{pid}"), what=f"{pid}'s decision to be published")
    decision = runtime.ledger.decision(pid)
    assert decision is not None
    assert runtime.ledger.outcome_counts() == {decision.outcome.value: 1}
    assert len(runtime.redis.xrange(f"handoff:decision:{pid}")) == 1
    return decision


def test_a_click_delivered_to_two_processes_and_again_decides_once(
    runtime: Runtime, settings: Settings, slack: SlackStandIn, standin: SocketModeStandIn, webs: WebProcesses
) -> None:
    """Two web processes, the same click on both connections and redelivered: one decision, no repeated note."""
    webs.start(runtime)
    webs.start(build_runtime(settings, redis_url=runtime.redis_url))
    standin.wait_for(lambda s: len(s.open_links()) == 2)
    pid, card = escalate(runtime, slack)
    click = Reviewer.over(SocketModeTransport(standin), slack).click_body(card, blocks.APPROVE, user=ALICE)
    first = standin.deliver(click, to=1)
    twin = standin.deliver(click, to=2)
    standin.redeliver(first, to=2)
    standin.redeliver(twin, to=1)
    for envelope in (first, twin):
        assert standin.wait_ack(envelope) is None
    assert decided_once(runtime, pid).reviewer == ALICE
    assert Client(runtime.redis).wait(pid, timeout=5) is not None
    late = Reviewer.over(SocketModeTransport(standin), slack).click(card, blocks.APPROVE, user=BOB)
    assert late.status == 200
    told = slack.wait_for(lambda s: s.ephemerals(), timeout=5)
    assert [e["user"] for e in told] == [BOB]
    assert runtime.ledger.outcome_counts() == {"approve": 1}


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_disconnect_leads_to_a_new_connection_and_loses_no_click(
    reason: str,
    runtime: Runtime,
    slack: SlackStandIn,
    standin: SocketModeStandIn,
    webs: WebProcesses,
    socket_reviewer: Reviewer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack's disconnect: handoff opens a new connection; a click sent meanwhile is decided once; one log line."""
    caplog.set_level(logging.INFO, logger="bot.app.socket_mode")
    web = webs.start(runtime)
    pid, card = escalate(runtime, slack)
    standin.disconnect(reason)
    click = standin.deliver(socket_reviewer.click_body(card, blocks.APPROVE, user=ALICE))
    standin.wait_for(lambda s: s.opened() == 2, timeout=10)
    assert standin.wait_ack(click) is None
    assert decided_once(runtime, pid).reviewer == ALICE
    standin.wait_for(lambda s: s.open_links() == [2], timeout=10)  # Slack closed the old one after draining
    assert web.link.state() == "open"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(RECONNECTED)]
    assert lines == [f"{RECONNECTED} after Slack asked: {reason} (reconnect 1 since start)"]


def test_dropped_socket_reconnects_and_the_click_it_carried_is_redelivered(
    runtime: Runtime,
    slack: SlackStandIn,
    standin: SocketModeStandIn,
    webs: WebProcesses,
    socket_reviewer: Reviewer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A click lost with a dropped socket comes again on the new connection (retry_attempt 1) and decides once."""
    caplog.set_level(logging.INFO, logger="bot.app.socket_mode")
    web = webs.start(runtime)
    pid, card = escalate(runtime, slack)
    click = standin.deliver(socket_reviewer.click_body(card, blocks.APPROVE, user=ALICE), to=1, lost=True)
    standin.drop(link=1)
    standin.wait_for(lambda s: s.open_links() == [2], timeout=10)
    assert standin.wait_ack(click) is None
    assert click.sent_on == [1, 2]
    assert decided_once(runtime, pid).reviewer == ALICE
    opened = socket_reviewer.click(card, blocks.EDIT, user=BOB)
    assert opened.status == 200
    assert web.link.state() == "open"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(RECONNECTED)]
    assert lines == [f"{RECONNECTED} after connection dropped (reconnect 1 since start)"]


def test_edit_modal_opened_before_a_drop_is_submitted_after_it(
    runtime: Runtime, slack: SlackStandIn, standin: SocketModeStandIn, webs: WebProcesses, socket_reviewer: Reviewer
) -> None:
    """Edit opens its modal over one connection; after a drop its submission arrives over the next and decides."""
    webs.start(runtime)
    pid, card = escalate(runtime, slack)
    assert socket_reviewer.click(card, blocks.EDIT, user=ALICE).status == 200
    opened = slack.wait_for(lambda s: s.views(), timeout=5)[-1]
    standin.drop()
    standin.wait_for(lambda s: len(s.open_links()) == 1 and s.opened() == 2, timeout=10)
    subject = next(b["block_id"] for b in opened["view"]["blocks"] if b.get("label", {}).get("text") == "subject")
    socket_reviewer.submit_view(opened, {subject: {blocks.ARG_INPUT: "Come back, Jane"}}, user=ALICE)
    decision = decided_once(runtime, pid)
    assert decision.action is not None
    assert decision.action.args["subject"] == "Come back, Jane"


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_healthz_reports_the_socket_and_is_503_while_none_is_open(
    runtime: Runtime, slack: SlackStandIn, webs: WebProcesses, standin: SocketModeStandIn
) -> None:
    """/healthz says socket true while connected, 503 while reconnecting fails, and 200 once a connection is back."""
    web = webs.start(runtime)
    server = LocalServer(wsgi_app(runtime, slack_events=False, socket_state=web.link.state))
    try:
        assert _health(server.url) == (200, {"ok": True, "socket": True, "redis": True, "ledger": True})
        standin.stop()  # Slack unreachable: the connection closes and apps.connections.open fails
        _, body = wait_until(lambda: (h := _health(server.url))[0] == 503 and h, what="/healthz to answer 503")
        assert body["socket"] == "connecting"
        assert body["ok"] is False
        standin.start()
        wait_until(lambda: _health(server.url)[0] == 200, timeout=15, what="the socket to reconnect")
    finally:
        server.stop()


def test_a_bot_token_as_app_token_is_a_clear_error(runtime: Runtime, standin: SocketModeStandIn) -> None:
    """SLACK_APP_TOKEN set to the bot token fails at start, naming the variable and Slack's error."""
    app = SocketModeApp(
        build_app(runtime), app_token=runtime.settings.slack_bot_token.get_secret_value(), connection=runtime.redis
    )
    try:
        with pytest.raises(SettingsError, match=r"SLACK_APP_TOKEN was refused by Slack \(not_allowed_token_type\)"):
            app.link.connect()
    finally:
        app.link.close()
    assert standin.opened() == 0


def test_slack_unreachable_at_start_is_retried_not_fatal(
    runtime: Runtime, slack: SlackStandIn, standin: SocketModeStandIn, webs: WebProcesses
) -> None:
    """When apps.connections.open fails with a server error, handoff web stays up, says `connecting`, then connects."""
    slack.fail_next("apps.connections.open", status=500, times=4)  # the first attempt, with the client's 3 retries
    web = webs.start(runtime)
    assert web.link.state() == "connecting"
    wait_until(lambda: web.link.state() == "open", timeout=15, what="the retry to connect")
    assert standin.open_links() == [1]


def test_a_connection_slack_never_closes_after_disconnect_is_closed_by_handoff(
    slack: SlackStandIn, runtime: Runtime
) -> None:
    """If Slack keeps a connection it asked us to leave, handoff closes it itself once its grace is over."""
    with SocketModeStandIn(slack, drain_seconds=600) as standin:
        link = SocketModeLink(standin.app_token, web_client=runtime.slack, handler=lambda _: None, retire_seconds=0.2)
        link.connect()
        try:
            standin.wait_for(lambda s: s.open_links() == [1], timeout=10)  # the stand-in has registered it
            standin.disconnect("warning")
            standin.wait_for(lambda s: s.open_links() == [2], timeout=10)
            envelope = standin.deliver(COMMAND_FIELDS)
            assert standin.wait_ack(envelope) is None
            assert envelope.sent_on == [2]
        finally:
            link.close()
