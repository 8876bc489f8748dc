"""The Socket Mode stand-in behaves like Slack's: app-level tokens, envelope shapes, acks and redelivery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.app.socket_mode import CONNECT_OPTIONS
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_socket import ACK_SECONDS, SocketModeStandIn
from bot.sandbox.socket_envelopes import envelope_for
from tests.conftest import BOT_TOKEN

FIXTURES = Path(__file__).parent / "fixtures"
CLICK = json.loads((FIXTURES / "socket_mode_envelope_block_actions.json").read_text())["payload"]
EVENT = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_home_opened", "user": "U0ALICE"}}
COMMAND = {"command": "/handoff", "text": "pending", "user_id": "U0ALICE", "trigger_id": "1.2.3"}


@pytest.fixture
def standin(slack: SlackStandIn) -> Iterator[SocketModeStandIn]:
    with SocketModeStandIn(slack, ack_seconds=0.3, retries=2) as socket_mode:
        yield socket_mode


@pytest.fixture
def api(slack: SlackStandIn) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.url)


class RawApp:
    """A bare WebSocket client standing for an app, so the stand-in's messages can be read as sent."""

    def __init__(self, api: WebClient, app_token: str) -> None:
        url = api.apps_connections_open(app_token=app_token)["url"]
        self.connection: ClientConnection = connect(str(url), **CONNECT_OPTIONS, open_timeout=5)

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv(timeout=5))
        return message

    def ack(self, envelope_id: str, payload: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"envelope_id": envelope_id, **({"payload": payload} if payload else {})}
        self.connection.send(json.dumps(body))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def apps(api: WebClient, standin: SocketModeStandIn) -> Iterator[list[RawApp]]:
    opened: list[RawApp] = []
    yield opened
    for app in opened:
        app.close()


def test_connections_open_takes_only_the_app_level_token(api: WebClient, standin: SocketModeStandIn) -> None:
    """A bot token is refused with not_allowed_token_type, a wrong xapp token with invalid_auth; the app token gets ws://."""
    with pytest.raises(SlackApiError) as bot_token:
        api.apps_connections_open(app_token=BOT_TOKEN)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong:
        api.apps_connections_open(app_token="xapp-1-A0OTHER-1-wrong")
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token_elsewhere:
        WebClient(token=standin.app_token, base_url=api.base_url).chat_postMessage(channel="C1", text="hi")
    assert app_token_elsewhere.value.response["error"] == "not_allowed_token_type"
    url = api.apps_connections_open(app_token=standin.app_token)["url"]
    assert str(url).startswith("ws://127.0.0.1:")
    assert "ticket=" in str(url)


def test_a_url_opens_one_connection_that_starts_with_hello(
    api: WebClient, standin: SocketModeStandIn, apps: list[RawApp]
) -> None:
    """Every connection gets `hello` with the connection count; a spent ticket is refused."""
    apps.append(RawApp(api, standin.app_token))
    hello = apps[0].next()
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"]["app_id"] == standin.slack.app_id
    apps.append(RawApp(api, standin.app_token))
    assert apps[1].next()["num_connections"] == 2
    spent = standin.open_url()
    first = connect(spent, **CONNECT_OPTIONS, open_timeout=5)
    try:
        assert json.loads(first.recv(timeout=5))["type"] == "hello"
    finally:
        first.close()
    reused = connect(spent, **CONNECT_OPTIONS, open_timeout=5)
    try:
        with pytest.raises(ConnectionClosed):
            reused.recv(timeout=5)
    finally:
        reused.close()


def test_envelopes_are_shaped_like_slacks(api: WebClient, standin: SocketModeStandIn, apps: list[RawApp]) -> None:
    """Interactions, events and commands arrive in Slack's envelope shape, each with its own type."""
    apps.append(RawApp(api, standin.app_token))
    apps[0].next()
    expected = json.loads((FIXTURES / "socket_mode_envelope_block_actions.json").read_text())
    standin.deliver(CLICK)
    click = apps[0].next()
    assert set(click) == set(expected)
    assert (click["type"], click["accepts_response_payload"], click["payload"]) == ("interactive", False, CLICK)
    standin.deliver(EVENT)
    event = apps[0].next()
    assert (event["type"], event["retry_attempt"], event["retry_reason"]) == ("events_api", 0, "")
    standin.deliver(COMMAND)
    command = apps[0].next()
    assert (command["type"], command["accepts_response_payload"]) == ("slash_commands", True)
    assert envelope_for({"type": "view_submission"}).accepts_response_payload is True
    with pytest.raises(ValueError, match="envelope type"):
        standin.deliver({"type": "mystery"})


def test_an_unacked_envelope_comes_again_with_retry_attempt(
    api: WebClient, standin: SocketModeStandIn, apps: list[RawApp]
) -> None:
    """No ack in time: the same envelope again with retry_attempt 1 and reason timeout; the ack's payload is kept."""
    assert ACK_SECONDS == 3.0
    apps.append(RawApp(api, standin.app_token))
    apps[0].next()
    envelope = standin.deliver(CLICK)
    first = apps[0].next()
    again = apps[0].next()
    assert again["envelope_id"] == first["envelope_id"] == envelope.envelope_id
    assert (again["retry_attempt"], again["retry_reason"]) == (1, "timeout")
    apps[0].ack(envelope.envelope_id, {"response_action": "clear"})
    assert standin.wait_ack(envelope) == {"response_action": "clear"}
    assert envelope.sent_on == [1, 1]


def test_retries_run_out(api: WebClient, standin: SocketModeStandIn, apps: list[RawApp]) -> None:
    """An envelope never acked is sent 1 + retries times, then given up on."""
    apps.append(RawApp(api, standin.app_token))
    apps[0].next()
    envelope = standin.deliver(CLICK)
    attempts = [apps[0].next().get("retry_attempt", 0) for _ in range(3)]
    assert attempts == [0, 1, 2]
    standin.wait_for(lambda _: envelope.gave_up)
    with pytest.raises(TimeoutError, match="never acked"):
        standin.wait_ack(envelope, timeout=1)


def test_envelopes_spread_over_connections_and_skip_one_told_to_disconnect(
    api: WebClient, standin: SocketModeStandIn, apps: list[RawApp]
) -> None:
    """Deliveries take turns over open connections; one told to disconnect gets `disconnect` and nothing more."""
    for _ in range(2):
        apps.append(RawApp(api, standin.app_token))
        apps[-1].next()
    sent = [standin.deliver(EVENT).sent_on[0] for _ in range(4)]
    assert sorted(sent) == [1, 1, 2, 2]
    for app in apps:
        for _ in range(2):
            app.ack(app.next()["envelope_id"])
    assert standin.disconnect("warning", link=1) == 1
    assert apps[0].next() == {"type": "disconnect", "reason": "warning", "debug_info": {"host": "applink-sandbox-1"}}
    assert {standin.deliver(EVENT).sent_on[0] for _ in range(3)} == {2}
    with pytest.raises(ValueError, match="refresh_requested"):
        standin.disconnect("bored")


def test_a_dropped_connection_ends_and_its_envelopes_wait_for_the_next(
    api: WebClient, standin: SocketModeStandIn, apps: list[RawApp]
) -> None:
    """After a drop and with no connection open, an envelope waits; the next connection receives it."""
    apps.append(RawApp(api, standin.app_token))
    apps[0].next()
    assert standin.drop() == 1
    assert standin.open_links() == []
    envelope = standin.deliver(CLICK)
    assert envelope.sent_on == []
    apps.append(RawApp(api, standin.app_token))
    assert apps[1].next()["type"] == "hello"
    assert apps[1].next()["envelope_id"] == envelope.envelope_id
    apps[1].ack(envelope.envelope_id)
    assert standin.wait_ack(envelope) is None
