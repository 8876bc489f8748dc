"""What every framework adapter shares: a tool call in, a proposal to handoff, a neutral verdict out.

    approvals = Approvals(category={"send_email": "customer_email"}, summary={"send_email": "Email {to}: {subject}"})
    verdict = approvals.review(ToolCall(name="send_email", args={...}, call_id="call_1"))
    if verdict.runs: send_email(**verdict.args)        # approve, edit, or an alternative of the same tool
    else: tell_the_model(verdict.message)               # reject, redirect, another tool, timeout

The verdict applies to the exact action the reviewer saw. An edit or alternative that names another
tool does not run here: it is a new action, reported with `runs=False`, the chosen action in `action`
and a message telling the model that nothing ran (see docs/adapters.md). A timeout is its own outcome,
never an approval or a rejection. Adapters import handoff through this module and `bot.client` only.
"""

from __future__ import annotations

import hashlib
import json
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import redis

from bot.client import Client, ProposalError
from bot.settings import Settings
from scoring.models import AgentInput, Decision, Outcome, Turn, is_policy_reviewer

VerdictOutcome = Literal["approve", "edit", "reject", "alternative", "redirect", "timeout"]
CategoryRule = Mapping[str, str] | Callable[["ToolCall"], str]
SummaryRule = Mapping[str, str | Callable[[dict[str, Any]], str]] | Callable[["ToolCall"], str]

RUNNING_OUTCOMES: dict[Outcome, VerdictOutcome] = {
    Outcome.APPROVE: "approve",
    Outcome.AUTO: "approve",  # the policy approved it; `reviewer` says which rule
    Outcome.EDIT: "edit",
    Outcome.ALTERNATIVE: "alternative",
}
MAX_TURNS = 20  # the most recent turns of the conversation a proposal carries
MAX_TURN_CHARS = 4000
MAX_SUMMARY_CHARS = 500

__all__ = [
    "Approvals",
    "DeploymentUnreachableError",
    "ToolCall",
    "Verdict",
    "open_client",
    "proposal_id_for",
    "seen_from_turns",
]


class DeploymentUnreachableError(ConnectionError):
    """handoff could not be reached to submit or wait; nothing was approved and the tool did not run."""

    def __init__(self, client: Client, cause: BaseException) -> None:
        where = getattr(getattr(client, "transport", None), "base_url", None)
        named = f"HANDOFF_URL {where}" if where else "handoff's Redis (REDIS_URL, or the embedded server)"
        super().__init__(
            f"{named} cannot be reached ({type(cause).__name__}: {str(cause)[:200]}); start `handoff web` and "
            "`handoff worker`, or point HANDOFF_URL at the deployment. The tool did not run."
        )


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """One call a framework wants to make: the tool, its arguments, its id there and what the agent saw."""

    name: str
    args: Mapping[str, Any]
    call_id: str | None = None
    seen: AgentInput | None = None
    description: str | None = None  # the framework's own words for the call: the summary when no rule names the tool
    extra: Mapping[str, Any] = field(default_factory=dict)  # more proposal fields: rationale, alternatives, ...


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A decision in words every framework can use.

    `runs` is True only when the tool the agent asked for runs now, with `args` (approve; edit or
    alternative of the same tool). `action` is the decided action when there is one (an alternative
    naming another tool included, which does not run here). `message` is what the model should read.
    """

    outcome: VerdictOutcome
    proposal_id: str
    runs: bool
    args: dict[str, Any] | None
    message: str
    reviewer: str | None = None
    reason: str = ""
    action_name: str | None = None
    action_args: dict[str, Any] | None = None
    decision: Decision | None = field(default=None, repr=False)

    @property
    def switched_tool(self) -> bool:
        """True when the reviewer chose an action of another tool (reported, never run as this call)."""
        return self.action_name is not None and not self.runs and self.outcome in ("edit", "alternative")


def open_client(settings: Settings | None = None) -> Client:
    """The client for the deployment the environment names: HANDOFF_URL (+ HANDOFF_TOKEN), else REDIS_URL,
    else this machine's embedded server (DeploymentNotFoundError when there is none)."""
    settings = settings or Settings.from_env()
    if settings.handoff_url:
        return Client.from_url(settings.handoff_url, token=settings.handoff_token.get_secret_value() or None)
    if settings.redis_url:
        return Client.from_url(settings.redis_url)
    return Client.connect()


def proposal_id_for(*parts: str) -> str:
    """A stable proposal id for a tool call (e.g. thread id and call id): resubmitting it is a no-op."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"tc-{digest[:40]}"


def seen_from_turns(turns: Sequence[tuple[str, str]], *, request: str | None = None) -> AgentInput:
    """What the agent saw, from (role, text) turns: the latest ones, each clipped; the request is the last
    user turn unless given."""
    kept = [(role, text) for role, text in turns if text][-MAX_TURNS:]
    if request is None:
        request = next((text for role, text in reversed(kept) if role in ("user", "human")), "")
    return AgentInput(
        request=_clip(request, MAX_TURN_CHARS),
        conversation=[Turn(role=role, text=_clip(text, MAX_TURN_CHARS)) for role, text in kept],
    )


class Approvals:
    """Submits tool calls to handoff and turns decisions into verdicts (over either transport of the client)."""

    def __init__(
        self,
        *,
        category: CategoryRule,
        summary: SummaryRule | None = None,
        client: Client | None = None,
        agent: str | None = None,
        timeout: float | None = None,
        settings: Settings | None = None,
        enrich: Callable[[ToolCall], Mapping[str, Any]] | None = None,
    ) -> None:
        if client is None or timeout is None:
            settings = settings or Settings.from_env()
        self.client = client or open_client(settings)
        self.timeout = timeout if timeout is not None else settings.wait if settings else 120.0
        self.category = category
        self.summary = summary
        self.agent = agent
        self.enrich = enrich  # more proposal fields per call (rationale, alternatives, context), beside call.extra

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def category_of(self, call: ToolCall) -> str:
        """The handoff category of a call; a ProposalError naming the tool when the mapping lacks it."""
        if callable(self.category):
            return self.category(call)
        if call.name not in self.category:
            known = ", ".join(sorted(self.category)) or "none"
            raise ProposalError(
                f"category: tool {call.name!r} has no handoff category; add it to the adapter's category mapping "
                f"(mapped tools: {known})"
            )
        return self.category[call.name]

    def summary_of(self, call: ToolCall) -> str:
        """The call in plain words: the tool's template (`{arg}` fields) or callable, else the framework's
        description of the call, else its name and args."""
        rule: str | Callable[[dict[str, Any]], str] | None
        if self.summary is None:
            rule = None
        elif callable(self.summary):
            return _clip(self.summary(call), MAX_SUMMARY_CHARS) or _default_summary(call)
        else:
            rule = self.summary.get(call.name)
        if rule is None:
            return _clip(call.description or "", MAX_SUMMARY_CHARS) or _default_summary(call)
        text = rule(dict(call.args)) if callable(rule) else _fill(rule, call.args)
        return _clip(text, MAX_SUMMARY_CHARS) or _default_summary(call)

    def proposal(self, call: ToolCall, *, proposal_id: str | None = None) -> dict[str, Any]:
        """The proposal handoff receives for `call`."""
        body: dict[str, Any] = {
            **(self.enrich(call) if self.enrich else {}),
            **call.extra,
            "category": self.category_of(call),
            "action": {"name": call.name, "args": dict(call.args)},
            "summary": self.summary_of(call),
        }
        if self.agent is not None:  # over HTTP, the token names the agent: omit it or send the same name
            body["agent"] = self.agent
        if proposal_id is not None:
            body["id"] = proposal_id
        if call.seen is not None:
            body["input"] = call.seen.model_dump(mode="json")
        return body

    def submit(self, call: ToolCall, *, proposal_id: str | None = None) -> str:
        """Send the call for review and return the proposal id (resubmitting the same id is a no-op).

        A deployment that cannot be reached is a DeploymentUnreachableError; the call is not run.
        """
        proposal = self.proposal(call, proposal_id=proposal_id)
        try:
            return self.client.submit(proposal)
        except (OSError, redis.ConnectionError) as exc:
            raise DeploymentUnreachableError(self.client, exc) from exc

    def wait(self, proposal_id: str, call: ToolCall, *, timeout: float | None = None) -> Verdict:
        """Wait for the decision on a submitted call; no decision within the wait is a `timeout` verdict."""
        seconds = self.timeout if timeout is None else timeout
        try:
            decision = self.client.wait(proposal_id, seconds)
        except (OSError, redis.ConnectionError) as exc:
            raise DeploymentUnreachableError(self.client, exc) from exc
        if decision is None:
            message = (
                f"No reviewer decided within {seconds:g} seconds, so {call.name} did not run. This is neither an "
                "approval nor a rejection: the review is still open."
            )
            return Verdict(outcome="timeout", proposal_id=proposal_id, runs=False, args=None, message=message)
        return verdict_of(decision, call)

    def wait_all(self, submitted: Sequence[tuple[str, ToolCall]], *, timeout: float | None = None) -> list[Verdict]:
        """Wait for several submitted calls within one shared wait (a call still open then is a timeout)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return [self.wait(pid, call, timeout=max(0.0, deadline - time.monotonic())) for pid, call in submitted]

    def review(self, call: ToolCall, *, proposal_id: str | None = None, timeout: float | None = None) -> Verdict:
        """Submit the call and wait for its verdict."""
        pid = self.submit(call, proposal_id=proposal_id)
        return self.wait(pid, call, timeout=timeout)

    def report(self, verdict: Verdict, *, ok: bool, detail: str = "") -> None:
        """Tell handoff how running the decided call went (only for verdicts that ran)."""
        if verdict.runs:
            self.client.report_execution(verdict.proposal_id, ok, detail)


def verdict_of(decision: Decision, call: ToolCall) -> Verdict:
    """The verdict a decision on `call` comes to."""
    pid, reviewer, reason = decision.proposal_id, decision.reviewer, decision.comment
    action = decision.action
    common: dict[str, Any] = {"proposal_id": pid, "reviewer": reviewer, "reason": reason, "decision": decision}
    if action is not None:
        common |= {"action_name": action.name, "action_args": dict(action.args)}
    if decision.outcome is Outcome.TIMEOUT:
        text = f"No reviewer decided in time, so {call.name} did not run (the review expired)."
        return Verdict(outcome="timeout", runs=False, args=None, message=_with(text, reason), **common)
    if decision.outcome in (Outcome.REJECT, Outcome.REDIRECT) or action is None:
        return _refusal(decision, call, common)
    outcome = RUNNING_OUTCOMES[decision.outcome]
    if action.name != call.name:
        text = (
            f"The reviewer chose a different action instead: {action.name}({_args_text(action.args)}). "
            f"{call.name} did not run, and neither did {action.name}: call it yourself if it still fits "
            "(it is reviewed as a new action)."
        )
        return Verdict(outcome=outcome, runs=False, args=None, message=_with(text, reason), **common)
    args = dict(action.args)
    if outcome == "approve" and args == dict(call.args):
        text = "Approved by policy." if is_policy_reviewer(reviewer) else "Approved by the reviewer."
    else:
        text = f"The reviewer changed the arguments; {call.name} ran with {_args_text(args)}."
    return Verdict(outcome=outcome, runs=True, args=args, message=_with(text, reason), **common)


def _refusal(decision: Decision, call: ToolCall, common: dict[str, Any]) -> Verdict:
    reason = decision.comment
    if decision.outcome is Outcome.REDIRECT:
        text = f"The reviewer did not run {call.name} and sent it back with an instruction"
        return Verdict(outcome="redirect", runs=False, args=None, message=_with(text, reason, colon=True), **common)
    text = f"The reviewer rejected {call.name}; it did not run. Do not retry the same call"
    text = f"{text}. Reason: {reason}" if reason else f"{text}."
    return Verdict(outcome="reject", runs=False, args=None, message=text, **common)


def _with(text: str, note: str, *, colon: bool = False) -> str:
    if colon:
        return f"{text}: {note}" if note else f"{text}."
    return f"{text} Reviewer's note: {note}" if note else text


def _fill(template: str, args: Mapping[str, Any]) -> str:
    """`template` with `{name}` replaced by the arg's value; an unknown field is left as written."""
    out: list[str] = []
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        problem = f"summary: the template {template[:80]!r} is malformed ({exc})"
        raise ProposalError(f"{problem}; write fields as {{arg}}") from None
    for literal, name, spec, _conv in parts:
        out.append(literal)
        if name is None:
            continue
        if name in args and not spec:
            value = args[name]
            out.append(value if isinstance(value, str) else json.dumps(value, default=str))
        else:
            out.append("{" + name + (":" + spec if spec else "") + "}")
    return "".join(out)


def _default_summary(call: ToolCall) -> str:
    return _clip(f"Run {call.name}({_args_text(call.args)})", MAX_SUMMARY_CHARS)


def _args_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=str, ensure_ascii=False)}" for k, v in args.items())


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
