"""`POST /slack/events`: bounded before read, signed before parsed, malformed-but-signed is 400, replays do
nothing, and no input at all produces a 500."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from bot.app.gate import MAX_BODY_BYTES, signature_of
from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox.reviewer import FORM, Reviewer
from bot.sandbox.reviewer_transport import Response, SignedHttp
from bot.sandbox.slack_api import SlackStandIn
from bot.slack.surfaces import blocks
from tests.conftest import SIGNING_SECRET, wait_until, work
from tests.test_flows import card_of
from tests.test_loop import EMAIL

SIGNER = SignatureVerifier(SIGNING_SECRET)


def sign(body: bytes, stamp: str) -> str:
    """Slack's signature of `body` (computed over bytes, so bodies that are not UTF-8 can be signed too)."""
    signature = signature_of(SIGNING_SECRET.encode(), body, stamp)
    with contextlib.suppress(UnicodeDecodeError):  # slack_sdk signs text only
        assert signature == SIGNER.generate_signature(timestamp=stamp, body=body)
    return signature


@pytest.mark.parametrize(
    ("body", "content_type", "stamp", "signed", "status"),
    [
        (b"payload=%7B%22type%22%3A1%7D", FORM, "not-a-number", True, 401),
        (b"payload=%7Bnot-json", FORM, None, True, 400),
        (b"payload=%7Bnot-json", FORM, None, False, 401),
        (b"token=x&payload=%5B1%2C2%5D", FORM, None, True, 400),
        (b"payload=%7B%7D&x=1", "application/json", None, True, 400),
        (b"\xff\xfe not utf-8", FORM, None, True, 400),
        (b'{"type": [', "application/json", None, True, 400),
        (b'payload={"type": "view_submission", "view": []}', FORM, None, True, 400),
        (b"[" * 100_000, "application/json", None, True, 400),
    ],
)
def test_bad_requests_get_a_4xx_and_never_a_500(
    reviewer: Reviewer, body: bytes, content_type: str, stamp: str | None, signed: bool, status: int
) -> None:
    """Each malformed request of the attack gets the right 4xx: 401 unsigned, 400 signed but malformed."""
    stamp = stamp or str(int(time.time()))
    signature = sign(body, stamp) if signed else "v0=" + "1" * 64
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    assert raw_post(reviewer.web_url, body, headers, content_type=content_type).status == status


def raw_post(
    url: str, body: bytes, headers: dict[str, str], *, content_type: str = FORM, declared: int | None = None
) -> http.client.HTTPResponse:
    """POST exactly these bytes and headers (a Content-Length that may lie about the body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.putrequest("POST", parts.path)
        connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(len(body) if declared is None else declared))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # answered before reading it all
            connection.send(body)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


@pytest.mark.parametrize("signed", [True, False])
def test_a_10_mb_body_is_refused_unread(reviewer: Reviewer, signed: bool) -> None:
    """A body over the cap is 413 from its Content-Length, signed or not."""
    body = b"payload=" + b"x" * 10_000_000
    stamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign(body, stamp) if signed else "v0=0"}
    assert raw_post(reviewer.web_url, body[: MAX_BODY_BYTES + 1], headers, declared=len(body)).status == 413


def test_a_replayed_approve_has_no_effect(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer) -> None:
    """The same signed request sent five times decides once and tells the reviewer nothing more."""
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    body = reviewer.click_payload(card_of(slack, pid), blocks.APPROVE, user="U0ALICE")
    stamp = int(time.time())
    signature = sign(body, str(stamp))
    statuses = [reviewer.post(body, timestamp=stamp, signature=signature).status for _ in range(5)]
    assert statuses == [200] * 5
    assert Client(runtime.redis).wait(pid, timeout=5) is not None
    work(runtime)
    assert slack.ephemerals("U0ALICE") == [], "a replay is not even told 'already decided'"
    assert runtime.ledger.outcome_counts() == {"approve": 1}


class Recording(SignedHttp):
    """Slack's HTTP delivery that keeps each signed request it sent, so a test can replay it byte for byte."""

    def __init__(self, web_url: str) -> None:
        super().__init__(web_url, SIGNING_SECRET)
        self.sent: list[tuple[bytes, int, str]] = []

    def post(
        self, raw_body: bytes, *, timestamp: int | None = None, signature: str | None = None, content_type: str = FORM
    ) -> Response:
        stamp = int(time.time()) if timestamp is None else timestamp
        signature = signature or sign(raw_body, str(stamp))
        self.sent.append((raw_body, stamp, signature))
        return super().post(raw_body, timestamp=stamp, signature=signature, content_type=content_type)


def test_a_replayed_redirect_does_not_restart_the_chain(runtime: Runtime, slack: SlackStandIn, web_url: str) -> None:
    """Replaying a redirect to a person does not restart the reminder chain or DM them again."""
    recording = Recording(web_url)
    reviewer = Reviewer(web_url, SIGNING_SECRET, slack, transport=recording)
    pid = Client(runtime.redis, policy=runtime.policy).submit(EMAIL)
    work(runtime)
    seen = len(slack.views())
    reviewer.click(card_of(slack, pid), blocks.REDIRECT, user="U0ALICE")
    opened = slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)
    reviewer.submit_view(opened, {blocks.PERSON_BLOCK: {blocks.PERSON_INPUT: "U0CAROL"}}, user="U0ALICE")
    assert runtime.ledger.timers(pid)[0].generation == 2
    dms = wait_until(
        lambda: len([c for c in slack.calls if c.method == "conversations.open"]), what="the redirect's DM"
    )
    body, stamp, signature = recording.sent[-1]
    for _ in range(3):
        assert recording.post(body, timestamp=stamp, signature=signature).status == 200
    assert runtime.ledger.timers(pid)[0].generation == 2
    assert len([c for c in slack.calls if c.method == "conversations.open"]) == dms, "no second DM"


_BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
        max_leaves=15,
    ).map(lambda value: json.dumps(value).encode()),
    st.dictionaries(
        st.sampled_from(["type", "actions", "user", "view", "payload", "event", "command", "token"]),
        st.recursive(st.none() | st.text(max_size=10) | st.integers(), lambda i: st.lists(i, max_size=2), max_leaves=4),
        max_size=5,
    ).map(lambda value: b"payload=" + json.dumps(value).encode()),
)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_BODIES,
    content_type=st.sampled_from([FORM, "application/json", "text/plain", ""]),
    signed=st.booleans(),
    skew=st.sampled_from([0, -400, 400]),
)
def test_fuzzed_requests_never_get_a_500(
    reviewer: Reviewer, body: bytes, content_type: str, signed: bool, skew: int
) -> None:
    """Random bodies, signed or not, fresh or stale, under any content type: a 2xx or 4xx, never a 5xx."""
    stamp = int(time.time()) + skew
    signature = sign(body, str(stamp)) if signed else "v0=" + "2" * 64
    response = reviewer.post(body, timestamp=stamp, signature=signature, content_type=content_type)
    assert response.status < 500, response.body[:200]
    if not signed or skew:
        assert response.status == 401
