"""LangGraph / LangChain: handoff decides what `HumanInTheLoopMiddleware` asks a person.

    agent = create_agent(model, tools, middleware=[HumanInTheLoopMiddleware(interrupt_on={"send_email": True})],
                         checkpointer=saver)
    run = run_reviewed(agent, {"messages": [...]}, config={"configurable": {"thread_id": "t1"}}, approvals=approvals)

Each action the middleware interrupts for (a `HITLRequest` in batched mode, a `tool_approval` request per
call in per-call mode) becomes a proposal; the decisions resume the same thread with `Command(resume=...)`:
approve; edit (same tool, the decided args; an alternative of the same tool too); reject with the
reviewer's reason, or with the verdict's message for a redirect or a switch to another tool (never run
under this approval). A timeout leaves the thread interrupted: run again later and the same proposals
(stable ids from thread and tool-call id) are waited on, not resubmitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, Interrupt

from bot.adapters.core import Approvals, ToolCall, Verdict, proposal_id_for, seen_from_turns

REPORT_CHARS = 300  # of a failed tool's message, in the execution report (said in the card's thread)
MAX_ROUNDS = 50  # interrupts answered in one run before giving up (a model looping on a tool)
# A per-call request carries its allowed decisions only as a schema type: these are assumed, and LangGraph
# refuses an answer the tool does not allow (a ValidationError; nothing runs).
PER_CALL_ALLOWED = ["approve", "edit", "reject"]
ROLES = {"human": "user", "ai": "assistant", "tool": "tool", "system": "system"}

__all__ = ["ReviewedRun", "answer_interrupts", "run_reviewed"]


@dataclass
class ReviewedRun:
    """Where a reviewed run stopped: the graph's last output, every (call, verdict), and whether it is paused."""

    result: Any
    reviews: list[tuple[ToolCall, Verdict]] = field(default_factory=list)
    paused: bool = False  # a verdict timed out: the thread is still interrupted, waiting for the decision
    messages: list[BaseMessage] = field(default_factory=list)

    def handed_back(self, call: ToolCall) -> str | None:
        """The tool message the model got for `call` (its result, or the rejection), if any yet."""
        for message in reversed(self.messages):
            if isinstance(message, ToolMessage) and call.call_id and message.tool_call_id == call.call_id:
                return message.text
        return None


def run_reviewed(
    graph: Pregel[Any, Any, Any, Any],
    graph_input: Any,
    *,
    config: RunnableConfig,
    approvals: Approvals,
    max_rounds: int = MAX_ROUNDS,
) -> ReviewedRun:
    """Invoke the graph and answer its review interrupts from handoff until it finishes or a verdict times out.

    `graph_input` None resumes a thread that was left paused (after a timeout or a restart) without new input.
    The graph needs a checkpointer and `config` a `thread_id`.
    """
    thread_id = _thread_id(config)
    run = ReviewedRun(result=graph.invoke(graph_input, config) if graph_input is not None else None)
    for _round in range(max_rounds):
        snapshot = graph.get_state(config)
        run.messages = list(snapshot.values.get("messages", []))
        interrupts = [i for i in snapshot.interrupts if _is_review(i.value)]
        if not interrupts:
            _report_runs(run, approvals)
            return run
        resume, reviews = answer_interrupts(interrupts, approvals=approvals, thread_id=thread_id, messages=run.messages)
        run.reviews.extend(reviews)
        if resume is None:
            run.paused = True
            return run
        run.result = graph.invoke(Command(resume=resume), config)
    raise RuntimeError(f"the graph asked for review more than {max_rounds} times in one run; is the model looping?")


def _report_runs(run: ReviewedRun, approvals: Approvals) -> None:
    """Tell handoff how each approved call went: the tool's message says whether it raised (status error)."""
    for call, verdict in run.reviews:
        message = next(
            (m for m in run.messages if isinstance(m, ToolMessage) and call.call_id and m.tool_call_id == call.call_id),
            None,
        )
        if verdict.runs and message is not None:
            failed = message.status == "error"
            approvals.report(verdict, ok=not failed, detail=message.text[:REPORT_CHARS] if failed else "")


def answer_interrupts(
    interrupts: Sequence[Interrupt],
    *,
    approvals: Approvals,
    thread_id: str,
    messages: Sequence[BaseMessage] = (),
) -> tuple[dict[str, Any] | None, list[tuple[ToolCall, Verdict]]]:
    """Submit every action the interrupts ask about, wait for the verdicts, and build the resume map
    (interrupt id -> answer); None when any verdict timed out (nothing is resumed then)."""
    seen = seen_from_turns([(ROLES.get(m.type, m.type), m.text) for m in messages])
    asked: list[tuple[Interrupt, list[tuple[ToolCall, list[str]]]]] = []
    pending: list[tuple[ToolCall, str]] = []
    for item in interrupts:
        calls = _calls_of(item, messages, seen)
        asked.append((item, calls))
        for call, _allowed in calls:
            pid = proposal_id_for(thread_id, call.call_id or item.id)
            pending.append((call, approvals.submit(call, proposal_id=pid)))
    verdicts_in_order = approvals.wait_all([(pid, call) for call, pid in pending])
    reviews = [(call, verdict) for (call, _pid), verdict in zip(pending, verdicts_in_order, strict=True)]
    if any(verdict.outcome == "timeout" for _call, verdict in reviews):
        return None, reviews
    verdicts = iter(reviews)
    resume: dict[str, Any] = {}
    for item, calls in asked:
        answers = [_answer(call, next(verdicts)[1], allowed) for call, allowed in calls]
        resume[item.id] = answers[0] if _is_per_call(item.value) else {"decisions": answers}
    return resume, reviews


def _answer(call: ToolCall, verdict: Verdict, allowed: Sequence[str]) -> dict[str, Any]:
    """The middleware's decision for a verdict."""
    if verdict.runs and verdict.args == dict(call.args) and "approve" in allowed:
        return {"type": "approve"}
    if verdict.runs and "edit" in allowed:
        return {"type": "edit", "edited_action": {"name": call.name, "args": verdict.args}}
    if "reject" not in allowed:
        raise ValueError(
            f"interrupt_on[{call.name!r}]: allowed_decisions {list(allowed)} lacks 'reject' (or 'edit'), which "
            f"handoff needs to answer a {verdict.outcome}; allow all decisions for tools handoff reviews"
        )
    if verdict.runs:  # changed by the reviewer, but this tool takes no edits: nothing runs
        text = f"The reviewer changed the arguments, but {call.name} takes no edits here, so it did not run."
        return {"type": "reject", "message": f"{text} {verdict.message}"}
    if verdict.outcome == "reject":
        return {"type": "reject", "message": verdict.reason} if verdict.reason else {"type": "reject"}
    return {"type": "reject", "message": verdict.message}  # redirect, or another tool chosen instead


def _calls_of(item: Interrupt, messages: Sequence[BaseMessage], seen: Any) -> list[tuple[ToolCall, list[str]]]:
    value: Mapping[str, Any] = item.value
    if _is_per_call(value):
        allowed = PER_CALL_ALLOWED
        call = ToolCall(
            name=value["name"],
            args=dict(value["args"]),
            call_id=value["tool_call_id"],
            seen=seen,
            description=_description(value.get("description")),
        )
        return [(call, allowed)]
    configs = {c["action_name"]: list(c["allowed_decisions"]) for c in value["review_configs"]}
    ids = _tool_call_ids(value["action_requests"], messages)
    return [
        (
            ToolCall(
                name=request["name"],
                args=dict(request["args"]),
                call_id=ids[index] or f"{item.id}-{index}",
                seen=seen,
                description=_description(request.get("description")),
            ),
            configs.get(request["name"], []),
        )
        for index, request in enumerate(value["action_requests"])
    ]


def _tool_call_ids(requests: Sequence[Mapping[str, Any]], messages: Sequence[BaseMessage]) -> list[str | None]:
    """The model's tool-call ids of a batched request's actions, matched in order by name and args."""
    last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
    unmatched = list(last.tool_calls) if last is not None else []
    ids: list[str | None] = []
    for request in requests:
        match = next((c for c in unmatched if c["name"] == request["name"] and c["args"] == request["args"]), None)
        if match is not None:
            unmatched.remove(match)
        ids.append(match["id"] if match else None)
    return ids


def _description(text: Any) -> str | None:
    """The middleware's description, unless it is its generic default (the summary is better then)."""
    if not isinstance(text, str) or text.startswith("Tool execution requires approval"):
        return None
    return text


def _is_per_call(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "tool_approval"


def _is_review(value: Any) -> bool:
    return _is_per_call(value) or (isinstance(value, Mapping) and "action_requests" in value)


def _thread_id(config: RunnableConfig) -> str:
    thread = (config.get("configurable") or {}).get("thread_id")
    if not thread:
        raise ValueError("config: configurable.thread_id is required; the reviewed run resumes on the same thread")
    return str(thread)
