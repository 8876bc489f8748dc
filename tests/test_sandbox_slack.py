"""The Slack sandbox itself: the Web API stand-in over real HTTP, and the signed reviewer simulator."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.sandbox import Response, Reviewer, SlackStandIn

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "slack"  # copies of Slack's real-shaped payloads
SECRET = "sandbox-signing-secret"
ALICE = "U0ALICE"


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    """A mrkdwn section block."""
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    return block if block_id is None else {**block, "block_id": block_id}


def button(action_id: str, value: str = "p-1", text: str = "Approve") -> dict[str, Any]:
    """A button element."""
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}, "value": value}


def card() -> list[dict[str, Any]]:
    """A small review card: a section and an actions block with two buttons and a select."""
    select = {
        "type": "static_select",
        "action_id": "pick",
        "placeholder": {"type": "plain_text", "text": "Alternative"},
        "options": [{"text": {"type": "plain_text", "text": t}, "value": t} for t in ("refund", "credit")],
    }
    approve = button("approve") | {"style": "primary"}
    actions = {"type": "actions", "block_id": "review:v1", "elements": [approve, button("reject"), select]}
    return [section("Refund $40?", "what"), actions]


def reason_input(**element: Any) -> dict[str, Any]:
    """The reason input block, its plain_text_input given by `element`."""
    label = {"type": "plain_text", "text": "Why?"}
    return {"type": "input", "block_id": "reason", "label": label, "element": {"type": "plain_text_input"} | element}


def modal(**fields: Any) -> dict[str, Any]:
    """A reject modal with one reason input, overridable field by field."""
    note = {"type": "plain_text_input", "action_id": "note_input"}
    return {
        "type": "modal",
        "callback_id": "reject_modal",
        "title": {"type": "plain_text", "text": "Reject"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "private_metadata": "p-1",
        "notify_on_close": True,
        "blocks": [
            reason_input(action_id="reason_input", initial_value="too generous"),
            {"type": "input", "block_id": "note", "label": {"type": "plain_text", "text": "Note"}, "element": note},
        ],
    } | fields


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SignedReceiver(ThreadingHTTPServer):
    """A stand-in for handoff's /slack/events that checks Slack signatures and keeps the payloads."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.verifier = SignatureVerifier(SECRET)
        self.payloads: list[dict[str, Any]] = []
        self.ack = b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/slack/events"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: SignedReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        valid = self.server.verifier.is_valid_request(body, dict(self.headers))
        if valid:
            self.server.payloads.append(json.loads(parse_qs(body.decode())["payload"][0]))
        answer = self.server.ack if valid else b""
        self.send_response(200 if valid else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=standin.token, base_url=standin.url)


@pytest.fixture
def receiver() -> Iterator[SignedReceiver]:
    server = SignedReceiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def reviewer(receiver: SignedReceiver, standin: SlackStandIn) -> Reviewer:
    return Reviewer(receiver.url, SECRET, standin)


def refusal(call: Any) -> dict[str, Any]:
    """The body of the Slack error a WebClient call raised."""
    with pytest.raises(SlackApiError) as raised:
        call()
    data: dict[str, Any] = raised.value.response.data
    return data


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
    """POST without slack_sdk, to see exactly what the stand-in answers."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request("POST", parts.path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_update_leaves_the_current_revision_and_its_history(client: WebClient, standin: SlackStandIn) -> None:
    """chat.update replaces text and blocks; messages() shows the latest with earlier revisions."""
    posted = client.chat_postMessage(channel="C1", text="Review needed", blocks=card())
    client.chat_update(channel="C1", ts=posted["ts"], text="Approved", blocks=[section("Approved by Alice")])
    (message,) = standin.messages("C1")
    assert (message["ts"], message["text"]) == (posted["ts"], "Approved")
    assert message["blocks"][0]["text"]["text"] == "Approved by Alice"
    assert message["history"][0]["blocks"][1]["block_id"] == "review:v1"
    assert standin.rejections == []


def test_timestamps_are_unique_and_increasing(client: WebClient) -> None:
    """Each posted message gets a Slack-shaped ts later than the previous one."""
    stamps = [client.chat_postMessage(channel="C1", text=str(n))["ts"] for n in range(5)]
    assert stamps == sorted(set(stamps))
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([section("x" * 3001)], "/blocks/0/text/text"),
        ([section(str(n)) for n in range(51)], "/blocks"),
        ([section("a", "same"), section("b", "same")], "/blocks/1/block_id"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text/text"),
        ([{"type": "actions", "elements": [button("a", text="t" * 76)]}], "/blocks/0/elements/0"),
        ([{"type": "actions", "elements": [button("a", value="v" * 2001)]}], "/blocks/0/elements/0/value"),
        ([{"type": "actions", "elements": [button("a" * 256)]}], "/blocks/0/elements/0/action_id"),
        ([{"type": "actions", "elements": [button("a"), button("a")]}], "/blocks/0/elements/1/action_id"),
        ([section("a", "b" * 256)], "/blocks/0/block_id"),
        ([{**section("a"), "txet": "typo"}], "/blocks/0/txet"),
        ([{"type": "section", "text": "a plain string"}], "/blocks/0/text"),
        ([{"type": "no_such_block"}], "/blocks/0/type"),
    ],
)
def test_invalid_blocks_are_refused_like_slack(
    client: WebClient, standin: SlackStandIn, blocks: list[dict[str, Any]], pointer: str
) -> None:
    """Blocks breaking Slack's rules get `invalid_blocks` with json-pointers, are recorded, and not posted."""
    body = refusal(lambda: client.chat_postMessage(channel="C1", text="t", blocks=blocks))
    assert body["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}" in line for line in body["errors"]), body["errors"]
    assert body["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert [r.error for r in standin.rejections] == ["invalid_blocks"]
    assert standin.messages() == []


def test_fifty_blocks_and_limit_length_texts_are_accepted(client: WebClient, standin: SlackStandIn) -> None:
    """Exactly at the limits is fine: 50 blocks, 3000-character sections."""
    client.chat_postMessage(channel="C1", text="t", blocks=[section("x" * 3000)] + [section("y")] * 49)
    assert len(standin.messages()[0]["blocks"]) == 50
    assert len({b["block_id"] for b in standin.messages()[0]["blocks"]}) == 50


@pytest.mark.parametrize(
    "view",
    [
        modal(title={"type": "plain_text", "text": "t" * 25}),
        modal(private_metadata="m" * 3001),
        modal(blocks=[section(str(n)) for n in range(101)]),
        {k: v for k, v in modal().items() if k != "submit"},
        modal(blocks=[reason_input(action_id="r", initial_value="x" * 3001)]),
        modal(blocks=[reason_input(action_id="r", max_length=3001)]),
    ],
)
def test_invalid_modals_are_refused(client: WebClient, standin: SlackStandIn, view: dict[str, Any]) -> None:
    """Modal limits (title, metadata, 100 blocks, input lengths, a submit for inputs) are enforced."""
    body = refusal(lambda: client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=view))
    assert body["error"] == "invalid_arguments"
    assert [r.method for r in standin.rejections] == ["views.open"]
    assert standin.views() == []


@pytest.mark.parametrize(
    ("params", "error"),
    [({"channel": "C1"}, "no_text"), ({"channel": "C1", "text": "x" * 40001}, "msg_too_long")],
)
def test_message_text_is_required_and_bounded(client: WebClient, params: dict[str, Any], error: str) -> None:
    """A message needs text or blocks, and its text fallback is at most 40000 characters."""
    assert refusal(lambda: client.api_call("chat.postMessage", json=params))["error"] == error


def test_blocks_without_text_are_posted_with_a_warning(client: WebClient, standin: SlackStandIn) -> None:
    """Slack accepts blocks without `text`, but notifications then have nothing to show."""
    client.api_call("chat.postMessage", json={"channel": "C1", "blocks": [section("hi")]})
    assert len(standin.messages()) == 1
    assert "without a `text` fallback" in standin.warnings[0]


def test_rate_limited_call_is_retried_by_the_sdk_and_succeeds(standin: SlackStandIn) -> None:
    """A 429 with Retry-After is waited out by slack_sdk's RateLimitErrorRetryHandler."""
    retrying = WebClient(token=standin.token, base_url=standin.url, retry_handlers=[RateLimitErrorRetryHandler()])
    standin.fail_next("chat.postMessage", status=429, retry_after=0)
    assert retrying.chat_postMessage(channel="C1", text="hello")["ok"]
    assert [(c.failed, c.error) for c in standin.calls] == [(True, "ratelimited"), (False, None)]
    assert len(standin.messages()) == 1
    assert standin.rejections == []


def test_rate_limit_answer_carries_retry_after(standin: SlackStandIn) -> None:
    """The injected 429 is real HTTP: status 429 and a Retry-After header, as Slack sends."""
    standin.fail_next("chat.postMessage")
    body = urlencode({"channel": "C1", "text": "hi"}).encode()
    headers = {"Authorization": f"Bearer {standin.token}", "Content-Type": "application/x-www-form-urlencoded"}
    response = raw_post(standin.url + "chat.postMessage", body, headers)
    assert (response.status, response.getheader("Retry-After")) == (429, "1")


def test_injected_errors_answer_the_next_calls_only(client: WebClient, standin: SlackStandIn) -> None:
    """fail_next with `error` answers ok:false `times` times, a status answers that HTTP error."""
    standin.fail_next("usergroups.users.list", error="paid_teams_only", times=2)
    standin.fail_next("usergroups.users.list", status=500)
    standin.set_usergroup("S1", ["U1", "U2"])
    assert refusal(lambda: client.usergroups_users_list(usergroup="S1"))["error"] == "paid_teams_only"
    assert refusal(lambda: client.usergroups_users_list(usergroup="S1"))["error"] == "paid_teams_only"
    with pytest.raises(SlackApiError) as raised:
        client.usergroups_users_list(usergroup="S1")
    assert raised.value.response.status_code == 500
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    assert refusal(lambda: client.usergroups_users_list(usergroup="S9"))["error"] == "no_such_subteam"


def test_trigger_ids_are_single_use(client: WebClient, standin: SlackStandIn) -> None:
    """A trigger_id opens one view; reusing it or inventing one is refused."""
    trigger = standin.issue_trigger_id(ALICE)
    opened = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert standin.views()[0]["user"] == ALICE
    assert opened["id"] == standin.views()[0]["id"]
    assert refusal(lambda: client.views_open(trigger_id=trigger, view=modal()))["error"] == "exchanged_trigger_id"
    assert refusal(lambda: client.views_open(trigger_id="1.2.3", view=modal()))["error"] == "invalid_trigger_id"


def test_trigger_ids_expire_after_three_seconds() -> None:
    """A trigger_id older than three seconds is `expired_trigger_id`."""
    clock = FakeClock()
    with SlackStandIn(clock=clock) as standin:
        client = WebClient(token=standin.token, base_url=standin.url)
        fresh, stale = standin.issue_trigger_id(ALICE), standin.issue_trigger_id(ALICE)
        clock.now += 2.9
        assert client.views_open(trigger_id=fresh, view=modal())["ok"]
        clock.now += 0.2
        assert refusal(lambda: client.views_open(trigger_id=stale, view=modal()))["error"] == "expired_trigger_id"


def test_views_update_replaces_the_view_and_checks_its_hash(client: WebClient, standin: SlackStandIn) -> None:
    """views.update keeps the view id, and a stale hash is a `hash_conflict`."""
    opened = client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=modal())["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(private_metadata="p-2"))
    assert (updated["view"]["id"], standin.views()[0]["view"]["private_metadata"]) == (opened["id"], "p-2")
    stale = refusal(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal()))
    assert stale["error"] == "hash_conflict"


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), ("", "not_authed")])
def test_bad_tokens_are_refused(standin: SlackStandIn, token: str, error: str) -> None:
    """A wrong token is `invalid_auth` and a missing one `not_authed`, with HTTP 200 like Slack."""
    body = refusal(lambda: WebClient(token=token or None, base_url=standin.url).auth_test())
    assert body == {"ok": False, "error": error}


def test_form_encoded_calls_and_token_fields_are_accepted(standin: SlackStandIn) -> None:
    """Form bodies with a `token` field and JSON-string blocks work like slack_sdk's JSON calls."""
    fields = {"token": standin.token, "channel": "C1", "text": "t", "blocks": json.dumps([section("hi")])}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert raw_post(standin.url + "chat.postMessage", urlencode(fields).encode(), headers).status == 200
    assert standin.messages()[0]["blocks"][0]["text"]["text"] == "hi"
    assert "token" not in standin.calls[0].params


def test_directory_methods_answer_like_slack(client: WebClient, standin: SlackStandIn) -> None:
    """auth.test, users.info, conversations.open, getPermalink and unknown methods answer Slack's shapes."""
    assert client.auth_test()["user_id"] == standin.bot_user_id
    standin.set_user(ALICE, real_name="Alice Example")
    assert client.users_info(user=ALICE)["user"]["real_name"] == "Alice Example"
    dm = client.conversations_open(users=[ALICE])["channel"]["id"]
    assert dm.startswith("D")
    assert client.conversations_open(users=ALICE)["channel"]["id"] == dm
    ts = client.chat_postMessage(channel="C1", text="t")["ts"]
    assert ts.replace(".", "") in client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert refusal(lambda: client.api_call("files.uploadV3"))["error"] == "unknown_method"


def test_ephemeral_messages_are_kept_per_user(client: WebClient, standin: SlackStandIn) -> None:
    """chat.postEphemeral answers a message_ts and is visible only under its user."""
    assert client.chat_postEphemeral(channel="C1", user=ALICE, text="Already decided")["message_ts"]
    assert [e["text"] for e in standin.ephemerals(ALICE)] == ["Already decided"]
    assert standin.ephemerals("U0BOB") == []
    assert standin.messages() == []


def test_wait_for_wakes_on_a_call_from_another_thread(client: WebClient, standin: SlackStandIn) -> None:
    """wait_for returns the predicate's value once another thread's call makes it true."""
    poster = threading.Thread(target=lambda: client.chat_postMessage(channel="C7", text="card"))
    poster.start()
    (message,) = standin.wait_for(lambda s: s.messages("C7"), timeout=5)
    poster.join()
    assert message["text"] == "card"


def test_wait_for_times_out_saying_what_it_saw(standin: SlackStandIn) -> None:
    """An unmet condition raises TimeoutError naming the calls seen so far."""
    with pytest.raises(TimeoutError, match="0 calls so far"):
        standin.wait_for(lambda s: s.messages("C404"), timeout=0.1)


def test_held_calls_wait_until_released(client: WebClient, standin: SlackStandIn) -> None:
    """Inside `hold`, calls of the method stay unanswered; leaving it lets them through."""
    with standin.hold("chat.postMessage"):
        poster = threading.Thread(target=lambda: client.chat_postMessage(channel="C1", text="late"))
        poster.start()
        standin.wait_for(lambda s: s.held("chat.postMessage"), timeout=5)
        assert standin.messages() == []
    poster.join(timeout=5)
    assert [m["text"] for m in standin.messages()] == ["late"]


def test_signature_matches_slacks_test_vector() -> None:
    """generate_signature reproduces the published signing example byte for byte."""
    vector = slack_example("signing_test_vector.json")
    headers = vector["headers"]
    signature = SignatureVerifier(vector["signing_secret"]).generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=vector["raw_body"]
    )
    assert signature == headers["X-Slack-Signature"]


def test_click_is_signed_and_shaped_like_slack(
    client: WebClient, standin: SlackStandIn, reviewer: Reviewer, receiver: SignedReceiver
) -> None:
    """A click passes SignatureVerifier and carries user, container, message, action and a live trigger."""
    client.chat_postMessage(channel="C1", text="Review needed", blocks=card())
    response = reviewer.click(reviewer.latest_card("C1"), "approve", user=ALICE)
    assert response.status == 200
    assert response.elapsed > 0
    (payload,) = receiver.payloads
    assert (payload["type"], payload["user"]["id"], payload["channel"]["id"]) == ("block_actions", ALICE, "C1")
    ts = payload["message"]["ts"]
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": "C1", "is_ephemeral": False}
    action = payload["actions"][0]
    assert [action[k] for k in ("action_id", "block_id", "value", "type")] == ["approve", "review:v1", "p-1", "button"]
    assert client.views_open(trigger_id=payload["trigger_id"], view=modal())["ok"]
    WebhookClient(payload["response_url"]).send(replace_original=True, text="Approved", blocks=[section("Done")])
    (replaced,) = standin.messages("C1")
    assert (replaced["text"], replaced["blocks"][0]["text"]["text"], len(replaced["history"])) == (
        "Approved",
        "Done",
        1,
    )


def test_select_click_sends_the_picked_option(client: WebClient, reviewer: Reviewer, receiver: SignedReceiver) -> None:
    """Picking a static_select option sends it as `selected_option`; unknown options are a LookupError."""
    client.chat_postMessage(channel="C1", text="Review needed", blocks=card())
    reviewer.click(reviewer.latest_card(), "pick", user=ALICE, value="credit")
    assert receiver.payloads[0]["actions"][0]["selected_option"]["value"] == "credit"
    with pytest.raises(LookupError, match="no option"):
        reviewer.click(reviewer.latest_card(), "pick", user=ALICE, value="voucher")
    with pytest.raises(LookupError, match="action_ids present"):
        reviewer.click(reviewer.latest_card(), "escalate", user=ALICE)


def test_forged_and_stale_requests_fail_verification(
    client: WebClient, reviewer: Reviewer, receiver: SignedReceiver
) -> None:
    """post() can forge the signature or age the timestamp; a verifier refuses both."""
    client.chat_postMessage(channel="C1", text="Review needed", blocks=card())
    body = reviewer.click_payload(reviewer.latest_card(), "approve", user=ALICE)
    forged: Response = reviewer.post(body, signature="v0=" + "0" * 64)
    stale = reviewer.post(body, timestamp=int(time.time()) - 301)
    assert (forged.status, stale.status, reviewer.post(body).status) == (401, 401, 200)


def test_submit_view_reports_plain_values_as_input_state(
    client: WebClient, standin: SlackStandIn, reviewer: Reviewer, receiver: SignedReceiver
) -> None:
    """Plain values become element state, untouched inputs keep their initial value, an empty ack closes."""
    client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=modal())
    reviewer.submit_view(standin.views()[0], {"note": {"note_input": "call me"}}, user=ALICE)
    values = receiver.payloads[0]["view"]["state"]["values"]
    assert values["reason"]["reason_input"] == {"type": "plain_text_input", "value": "too generous"}
    assert values["note"]["note_input"] == {"type": "plain_text_input", "value": "call me"}
    assert receiver.payloads[0]["type"] == "view_submission"
    assert standin.views()[0]["closed"]
    with pytest.raises(LookupError, match="closed"):
        reviewer.submit_view(standin.views()[0], {}, user=ALICE)


def test_view_acks_are_applied_and_checked(
    client: WebClient, standin: SlackStandIn, reviewer: Reviewer, receiver: SignedReceiver
) -> None:
    """An `errors` ack keeps the modal open but must name input blocks; an `update` ack is validated."""
    client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=modal())
    receiver.ack = json.dumps({"response_action": "errors", "errors": {"reason": "Say why"}}).encode()
    assert reviewer.submit_view(standin.views()[0], {}, user=ALICE).json()["errors"] == {"reason": "Say why"}
    assert not standin.views()[0]["closed"]
    assert standin.rejections == []
    receiver.ack = json.dumps({"response_action": "update", "view": modal(private_metadata="m" * 3001)}).encode()
    reviewer.submit_view(standin.views()[0], {}, user=ALICE)
    assert [(r.method, r.error) for r in standin.rejections] == [("view_submission", "invalid_arguments")]


def test_close_view_notifies_the_app_only_when_asked(
    client: WebClient, standin: SlackStandIn, reviewer: Reviewer, receiver: SignedReceiver
) -> None:
    """view_closed is sent for modals with notify_on_close, and the modal is closed either way."""
    for notify in (True, False):
        client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=modal(notify_on_close=notify))
    sent = [reviewer.close_view(record, user=ALICE) for record in standin.views()]
    assert [r is not None for r in sent] == [True, False]
    assert [p["type"] for p in receiver.payloads] == ["view_closed"]
    assert all(record["closed"] for record in standin.views())


def slack_example(name: str) -> Any:
    """One of the real-shaped Slack payloads kept in tests/fixtures/slack."""
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_slacks_example_requests_are_accepted(client: WebClient, standin: SlackStandIn) -> None:
    """The example escalation card and edit modal pass validation untouched."""
    card_request = slack_example("chat_postMessage_escalation.request.json")
    modal_request = slack_example("views_open_edit_modal.request.json")
    client.chat_postMessage(**card_request)
    client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=modal_request["view"])
    assert standin.rejections == []
    assert standin.messages()[0]["blocks"] == card_request["blocks"]


def test_payloads_have_the_fields_of_slacks_examples(
    client: WebClient, standin: SlackStandIn, reviewer: Reviewer, receiver: SignedReceiver
) -> None:
    """block_actions, view_submission and view_closed carry the same fields as Slack's examples."""
    client.chat_postMessage(channel="C1", text="Review needed", blocks=card())
    reviewer.click(reviewer.latest_card(), "approve", user=ALICE)
    client.views_open(trigger_id=standin.issue_trigger_id(ALICE), view=modal())
    receiver.ack = json.dumps({"response_action": "errors", "errors": {"reason": "Say why"}}).encode()
    reviewer.submit_view(standin.views()[0], {}, user=ALICE)
    reviewer.close_view(standin.views()[0], user=ALICE)
    click, submission, closed = receiver.payloads
    example = slack_example("block_actions.json")
    assert set(click) == set(example)
    assert (set(click["container"]), set(click["user"])) == (set(example["container"]), set(example["user"]))
    assert set(click["actions"][0]) == set(example["actions"][0])
    assert set(click["message"]) == set(example["message"])
    for payload, name in ((submission, "view_submission.json"), (closed, "view_closed.json")):
        assert set(payload) == set(slack_example(name))
        assert set(payload["view"]) == set(slack_example(name)["view"])


def test_post_by_name_answers_with_the_channel_id_and_updates_need_it(client: WebClient, standin: SlackStandIn) -> None:
    """Like Slack: chat.postMessage to `#name` answers with a `C…` id; chat.update by name is channel_not_found."""
    posted = client.chat_postMessage(channel="#handoff-reviews", text="Review needed")
    channel = posted["channel"]
    assert re.fullmatch(r"C[A-Z0-9]{8}", channel)
    assert client.chat_postMessage(channel="#handoff-reviews", text="again")["channel"] == channel, "stable per name"
    with pytest.raises(SlackApiError) as refused:
        client.chat_update(channel="#handoff-reviews", ts=posted["ts"], text="Approved")
    assert refused.value.response["error"] == "channel_not_found"
    client.chat_update(channel=channel, ts=posted["ts"], text="Approved")
    assert [m["text"] for m in standin.messages("#handoff-reviews")] == ["Approved", "again"]
    assert standin.channel_name(channel) == "#handoff-reviews"
