"""The agents' HTTP API: a FastAPI app whose `/openapi.json` is generated from the models it serves.

Requests authenticate with a Bearer token per agent, are rate limited per agent and capped in size.
Authentication and the rate limit run on the event loop; each request then makes one trip to the thread
pool for its blocking work (the ledger, Redis), and the long-poll awaits the decision stream on the event
loop, so a thousand waiting agents hold no thread.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.api import errors, intake
from bot.api.credentials import authenticate
from bot.api.errors import ApiError
from bot.api.limits import BodyLimit
from bot.api.models import Accepted, Error, ExecutionAccepted, ExecutionReport, Pending, ProposalStatus
from bot.api.waiting import DecisionWaiter
from bot.runtime import Runtime
from bot.store.agents import AgentStore
from bot.store.rate_limit import RateLimiter
from bot.store.rows import Agent
from scoring.models import MAX_PROPOSAL_BYTES, PROPOSAL_ID_PATTERN, Decision, Proposal

MAX_WAIT = 60
MAX_BODY_BYTES = MAX_PROPOSAL_BYTES
_bearer = HTTPBearer(auto_error=False, description="The agent's token from `handoff agents add NAME`")
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "No token, or one that is unknown or revoked"},
    429: {"model": Error, "description": "Over the agent's rate limit; retry after `Retry-After` seconds"},
}
_BAD: dict[int | str, dict[str, Any]] = {
    413: {"model": Error, "description": "The body is over the size limit"},
    422: {"model": Error, "description": "Invalid input; `fields` names each bad field by its path"},
}
_MINE: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "No such proposal of this agent"}}
ProposalId = Annotated[str, Path(pattern=PROPOSAL_ID_PATTERN, description="The proposal's id")]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def build_api(runtime: Runtime) -> FastAPI:
    """The API over `runtime`; mount other apps (Slack's events) on it after the API's routes."""
    store = AgentStore(runtime.ledger)
    rate = runtime.settings.api_rate
    waiter = DecisionWaiter(runtime.redis_url)
    limiter = RateLimiter(waiter.client, rate=rate, capacity=max(10.0, 2 * rate)) if rate else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await waiter.close()

    api = FastAPI(
        title="handoff",
        summary="Human review for AI agents: submit proposals, wait for decisions, report executions.",
        version="1",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    api.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    errors.install(api)

    async def caller(credentials: Credentials) -> Agent:
        """The token's agent, within its rate. The ledger read is one indexed row (tens of microseconds), done
        on the event loop so that a refused request costs no trip to the thread pool."""
        agent = authenticate(store, credentials.credentials) if credentials else None
        if agent is None:
            raise ApiError(
                401,
                "send Authorization: Bearer <token> with a token from `handoff agents add NAME`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        wait = await limiter.take(agent.name) if limiter else 0
        if wait:
            raise ApiError(429, f"over the rate limit; retry in {wait:g}s", headers={"Retry-After": f"{wait:g}"})
        return agent

    Caller = Annotated[Agent, Depends(caller)]

    @api.post(
        "/v1/proposals",
        status_code=202,
        response_model=Accepted,
        responses={
            200: {"model": Accepted, "description": "The same id and body again"},
            403: {"model": Error, "description": "`agent` names another agent"},
            409: {"model": Error, "description": "The id was taken by a different body"},
            **_AUTH,
            **_BAD,
        },
    )
    async def submit_proposal(proposal: Proposal, agent: Caller) -> Any:
        """Submit a proposal for review; its `agent` is the token's. Resubmitting an id is idempotent."""
        status, accepted = await run_in_threadpool(intake.submit, runtime, agent, proposal)
        return JSONResponse(accepted.model_dump(), status_code=status)

    @api.get("/v1/proposals/{id}", response_model=ProposalStatus, responses={**_AUTH, **_MINE, **_BAD})
    async def proposal_status(id: ProposalId, agent: Caller) -> ProposalStatus:
        """Where the proposal stands: pending, decided or executed, its route and score, its decision."""

        def work() -> ProposalStatus:
            intake.owned(runtime, agent, id)
            return intake.status(runtime, id)

        return await run_in_threadpool(work)

    @api.get(
        "/v1/proposals/{id}/decision",
        response_model=Decision,
        responses={
            202: {"model": Pending, "description": "No decision within `wait` seconds"},
            **_AUTH,
            **_MINE,
            **_BAD,
        },
    )
    async def decision(
        id: ProposalId,
        agent: Caller,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="Seconds to wait for the decision")] = 0,
    ) -> Any:
        """The decision as soon as it exists (200), or `{"status": "pending"}` (202) once `wait` passes."""

        def work() -> Decision | None:
            intake.owned(runtime, agent, id)
            return intake.decision_of(runtime, id)

        known = await run_in_threadpool(work)
        raw = known.model_dump_json().encode() if known else await waiter.wait(id, wait)
        if raw is None:
            return JSONResponse(Pending().model_dump(), status_code=202)
        return Response(raw, media_type="application/json")

    @api.post(
        "/v1/proposals/{id}/execution",
        status_code=202,
        response_model=ExecutionAccepted,
        responses={**_AUTH, **_MINE, **_BAD, 409: {"model": Error, "description": "Not decided yet"}},
    )
    async def execution(id: ProposalId, report: ExecutionReport, agent: Caller) -> ExecutionAccepted:
        """Record how the agent's run of the decided action went (once; a repeat is a no-op)."""

        def work() -> ExecutionAccepted:
            intake.owned(runtime, agent, id)
            intake.report(runtime, id, report)
            return ExecutionAccepted(id=id)

        return await run_in_threadpool(work)

    return api
