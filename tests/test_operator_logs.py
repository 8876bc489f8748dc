"""What an operator reads: one clear line per event, nothing alarming on a first start."""

from __future__ import annotations

import io
import json
import logging
import sys
from urllib.error import URLError

import pytest

from bot.app.web import build_app, wsgi_app
from bot.app.worker import build_worker
from bot.review.reconcile import reconcile
from bot.runtime import Runtime
from bot.slack.failures import is_outside_failure
from bot.store.queues import QUEUES
from tests.conftest import BOT_TOKEN


def test_first_start_is_not_reported_as_lost_state(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    """An empty Redis beside an empty ledger is a first start, not a loss: no warning."""
    with caplog.at_level(logging.INFO):
        reconcile(runtime)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not runtime.board.lost_memory()


def test_bolt_does_not_warn_about_the_token_it_reads_from_the_environment(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SLACK_BOT_TOKEN set (as in production), building the app logs no 'token will be unused'."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with caplog.at_level(logging.WARNING):
        build_app(runtime)
    assert [r.getMessage() for r in caplog.records] == []


def test_head_healthz_answers_headers_without_a_body(runtime: Runtime) -> None:
    """HEAD /healthz: the GET's status and headers, no body bytes (gunicorn would drop them and complain)."""
    app = wsgi_app(runtime)
    answers: dict[str, tuple[str, list[tuple[str, str]]]] = {}

    def call(method: str) -> bytes:
        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            answers[method] = (status, headers)

        environ = {"REQUEST_METHOD": method, "PATH_INFO": "/healthz", "wsgi.input": io.BytesIO()}
        return b"".join(app(environ, start_response))

    assert call("HEAD") == b""
    assert json.loads(call("GET"))["ok"] is True
    assert answers["HEAD"] == answers["GET"]


@pytest.mark.parametrize(
    ("error", "traced"),
    [(KeyError("card"), True), (URLError(ConnectionRefusedError(111, "refused")), False), (TimeoutError(), False)],
)
def test_only_a_bug_gets_a_traceback_from_the_worker(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, error: Exception, traced: bool
) -> None:
    """RQ logs a failed job with its traceback; the worker keeps that for bugs and drops it when Slack or the
    network failed (bot.jobs.note_failure has already said so in one line)."""
    assert is_outside_failure(error) is not traced
    worker = build_worker(runtime)
    job = runtime.queue(QUEUES[0]).enqueue("tests.test_operator_logs.raise_a_bug", job_id="a-bug")
    try:
        raise error
    except Exception:
        with caplog.at_level(logging.INFO, logger="rq.worker"):
            worker.handle_exception(job, *sys.exc_info())
    tracebacks = [r for r in caplog.records if r.name == "rq.worker" and "Traceback" in r.getMessage()]
    assert len(tracebacks) == (1 if traced else 0)
    worker.teardown()


def raise_a_bug() -> None:
    """A job function standing for a bug in handoff's own code."""
    raise KeyError("card")
