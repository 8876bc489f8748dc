"""The agent side: submit a proposal, wait for its decision, or wrap a tool function in a review.

client = Client.connect()   # REDIS_URL, else the embedded server `handoff worker` runs under .handoff
pid = client.submit({"category": "customer_email", "action": {...}, "summary": "..."})
decision = client.wait(pid, timeout=600)   # None: no decision yet (never an approval)
"""

from __future__ import annotations

import functools
import inspect
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import redis
from pydantic import ValidationError

from bot.agent_http import ApiRequestError, HttpTransport
from bot.jobs import enqueue_assess, enqueue_report_execution
from bot.store.clock import utcnow
from bot.store.embedded_redis import DeploymentNotFoundError, connect, find_deployment
from bot.store.review_state import Board
from bot.store.rows import Submission
from scoring.models import MAX_PROPOSAL_BYTES, Action, Decision, Proposal, describe_validation_error
from scoring.policy import Policy

REVIEW_TIMEOUT = 300.0  # seconds a reviewed call waits for a person before ReviewPendingError
P = ParamSpec("P")
__all__ = [
    "ApiRequestError",
    "Client",
    "DeploymentNotFoundError",
    "ProposalError",
    "ReviewPendingError",
    "ReviewRejectedError",
]
T = TypeVar("T")


class ProposalError(ValueError):
    """A proposal handoff cannot accept; the message names the field and what is expected."""


class ReviewRejectedError(RuntimeError):
    """The reviewed call did not run: rejected, redirected or timed out; `decision` says why."""

    def __init__(self, decision: Decision) -> None:
        reason = f": {decision.comment}" if decision.comment else ""
        super().__init__(f"{decision.outcome.value} by {decision.reviewer}{reason}")
        self.decision = decision


class ReviewPendingError(TimeoutError):
    """No decision arrived within the wait; the proposal stays pending (this is not an approval)."""

    def __init__(self, proposal_id: str, timeout: float) -> None:
        super().__init__(f"no decision for {proposal_id} within {timeout:g}s; it is still pending")
        self.proposal_id = proposal_id


def parse_proposal(data: Mapping[str, Any] | Proposal, *, policy: Policy | None = None) -> Proposal:
    """Validate a proposal, checking its size and (when a policy is given) its category."""
    if isinstance(data, Proposal):
        proposal = data
    else:
        size = len(json.dumps(data, default=str).encode())
        if size > MAX_PROPOSAL_BYTES:
            raise ProposalError(
                f"proposal: {size / 1e6:.1f} MB is over the {MAX_PROPOSAL_BYTES / 1e6:.0f} MB limit; "
                "pass large material by reference (a URL or document id in input.context)"
            )
        try:
            proposal = Proposal.model_validate(data)
        except ValidationError as exc:
            raise ProposalError(describe_validation_error("proposal", exc)) from exc
    if policy is not None and policy.category(proposal.category) is None:
        known = ", ".join(sorted(policy.categories))
        raise ProposalError(f"proposal: category: {proposal.category!r} is not in the policy; use one of {known}")
    return proposal


class Client:
    """Submits proposals to handoff and waits for decisions, over Redis."""

    def __init__(self, connection: redis.Redis, *, policy: Policy | None = None) -> None:
        self.board = Board(connection)
        self.policy = policy

    @classmethod
    def from_url(cls, url: str, *, policy: Policy | None = None, token: str | None = None) -> Client:
        """A client for the handoff deployment whose Redis is at `url` (`redis://`), or whose HTTP API is
        (`https://`, with the agent's `token`)."""
        if url.startswith(("https://", "http://")):
            return HttpClient(HttpTransport(url, token or ""), policy=policy)
        return cls(connect(url), policy=policy)

    @classmethod
    def connect(cls, *, policy: Policy | None = None) -> Client:
        """A client for this machine's handoff: REDIS_URL, else the embedded server of HANDOFF_DATA_DIR.

        Raises DeploymentNotFoundError (one line: start `handoff worker` first) when there is neither.
        """
        from bot.settings import Settings

        settings = Settings.from_env()
        return cls.from_url(find_deployment(settings.redis_url, settings.data_dir), policy=policy)

    def close(self) -> None:
        """Close this client's Redis connections."""
        self.board.redis.close()

    def submit(self, proposal: Mapping[str, Any] | Proposal) -> str:
        """Queue a proposal for review and return its id at once; resubmitting an id is a no-op."""
        parsed = parse_proposal(proposal, policy=self.policy)
        if self.policy is None:
            self._check_category(parsed.category)
        pid = parsed.id or uuid.uuid4().hex
        parsed = parsed.model_copy(update={"id": pid})
        if self.board.put_proposal(pid, Submission(parsed, submitted_at=utcnow())):
            enqueue_assess(self.board.redis, pid)
        return pid

    def _check_category(self, category: str) -> None:
        """Refuse a category the running deployment's policy does not have, as `handoff submit` does."""
        known = self.board.categories()
        if known is None:
            raise ProposalError(
                f"proposal: category: cannot check {category!r}: no handoff worker has published its policy's "
                "categories to this Redis yet; start `handoff worker` first"
            )
        if category not in known:
            raise ProposalError(
                f"proposal: category: {category!r} is not in the deployment's policy; use one of {', '.join(known)}"
            )

    def wait(self, proposal_id: str, timeout: float) -> Decision | None:
        """The decision, or None if none arrives within `timeout` seconds."""
        return self.board.wait(proposal_id, timeout)

    def report_execution(self, proposal_id: str, ok: bool, detail: str = "") -> None:
        """Tell handoff how running the decided action went: recorded in the ledger, said in the card's thread."""
        enqueue_report_execution(self.board.redis, proposal_id, ok=ok, detail=detail)

    def reviewed(
        self, category: str, *, summary: str | Callable[..., str], timeout: float = REVIEW_TIMEOUT, **fields: Any
    ) -> Callable[[Callable[P, T]], Callable[..., T]]:
        """Decorate a tool function: each call is submitted for review and runs with the decided args.

        The call's arguments (bound to the function's parameters) become the action's args; an edit
        changes what the function receives, as keyword arguments.
        A rejection, redirect, timeout, or an alternative that names another tool raises
        ReviewRejectedError (its `decision` carries the alternative); no decision within `timeout` seconds
        (default 300) raises ReviewPendingError. Pass `fields` such as `rationale=` or `input=` to enrich the proposal.
        """

        def decorate(func: Callable[P, T]) -> Callable[..., T]:
            signature = inspect.signature(func)

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> T:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                text = summary(**arguments) if callable(summary) else summary
                action = Action(name=func.__name__, args=arguments)
                pid = self.submit({"category": category, "action": action.model_dump(), "summary": text, **fields})
                decision = self.wait(pid, timeout)
                if decision is None:
                    raise ReviewPendingError(pid, timeout)
                if not decision.executes or decision.action is None or decision.action.name != func.__name__:
                    raise ReviewRejectedError(decision)  # an alternative naming another tool is the agent's to run
                return func(**decision.action.args)  # type: ignore[call-arg]

            return wrapper

        return decorate


class HttpClient(Client):
    """A `Client` over handoff's HTTP API (see `Client.from_url`): the same submit, wait, report and decorator."""

    def __init__(self, transport: HttpTransport, *, policy: Policy | None = None) -> None:
        self.transport = transport
        self.policy = policy

    def close(self) -> None:
        """Nothing to close: each request opens (and closes) its own connection."""

    def submit(self, proposal: Mapping[str, Any] | Proposal) -> str:
        """Send a proposal for review and return its id; resubmitting an id with the same body is a no-op."""
        parsed = parse_proposal(proposal, policy=self.policy)
        try:
            return self.transport.submit(parsed.model_dump(mode="json", exclude_unset=True))
        except ApiRequestError as exc:
            if exc.status in (403, 409, 413, 422):
                raise ProposalError(f"proposal: {exc.message}") from None
            raise

    def wait(self, proposal_id: str, timeout: float) -> Decision | None:
        """The decision, or None if none arrives within `timeout` seconds."""
        return self.transport.wait(proposal_id, timeout)

    def report_execution(self, proposal_id: str, ok: bool, detail: str = "") -> None:
        """Tell handoff how running the decided action went (once; a repeat is a no-op)."""
        self.transport.report_execution(proposal_id, ok, detail)
