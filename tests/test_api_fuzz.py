"""Fuzz the agents' API from its own /openapi.json with schemathesis: no 500, every response as documented."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app.wiring import build_runtime
from bot.runtime import activate
from bot.settings import Settings
from tests.api_helpers import add_agent

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 30  # per operation: enough to cross every validator, short enough for the suite


@pytest.fixture
def served(settings: Settings, redis_client: redis.Redis) -> Iterator[tuple[str, str]]:
    """The web process under uvicorn with a rate limit the fuzzer does not hit; its URL and an agent's token."""
    from bot.app.asgi import LocalAsgiServer, asgi_app

    runtime = build_runtime(settings.model_copy(update={"api_rate": 100_000}), redis_url=settings.redis_url or "")
    activate(runtime)
    token, _ = add_agent(runtime, "fuzzer")
    server = LocalAsgiServer(asgi_app(runtime))
    yield server.url, token
    server.stop()


OPERATIONS = [
    ("POST", "/v1/proposals"),
    ("GET", "/v1/proposals/{id}"),
    ("GET", "/v1/proposals/{id}/decision"),
    ("POST", "/v1/proposals/{id}/execution"),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_answers_every_generated_request_as_its_schema_says(
    served: tuple[str, str], method: str, path: str
) -> None:
    """Requests generated from the API's own description, with a valid token: never a 500, always an answer
    whose status, content type and body the description documents."""
    url, token = served
    api = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = {(o.method.upper(), o.path): o for o in (r.ok() for r in api.get_all_operations())}
    assert set(operations) == set(OPERATIONS), "every route is in the description"

    @given(case=operations[(method, path)].as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def answers_as_documented(case: schemathesis.Case) -> None:
        if case.query and "wait" in case.query:  # a generated 60 s long-poll on an id it created is only slow
            case.query["wait"] = 0
        case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    answers_as_documented()
