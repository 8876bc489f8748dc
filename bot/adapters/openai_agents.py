"""OpenAI Agents SDK: handoff approves the tool calls a run is interrupted for.

    reviews = AgentApprovals(approvals)
    agent = Agent(..., tools=[function_tool(send_email, needs_approval=reviews.needs_approval("send_email"))])
    run = await reviews.run(agent, "Email Jane", state_file=Path("runs/jane.json"))

`needs_approval` submits the call as a proposal (the run is then interrupted for it); `run` keeps the
`RunState` JSON in `state_file` until the decisions come, answers the interruptions and resumes. After a
process restart, `run(agent, None, state_file=...)` picks the same run up from the file.

The SDK approves or rejects; it has no edit. An edit (or an alternative of the same tool) is a rejection
whose message gives the model the reviewer's arguments and asks it to call the tool again with exactly
those: that one call then runs without a second review (it is the action the reviewer approved). Any
other call is reviewed as usual. An action of another tool is a rejection saying what was chosen.
A timeout answers nothing: the run stays interrupted and its state stays in the file.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import Agent, FunctionTool, RunConfig, RunContextWrapper, Runner, RunResult, RunState, ToolApprovalItem

from bot.adapters.core import Approvals, ToolCall, Verdict, proposal_id_for, seen_from_turns

STATE_VERSION = 1
NeedsApproval = Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]
_RUN_KEY: contextvars.ContextVar[str] = contextvars.ContextVar("handoff_run_key")

__all__ = ["AgentApprovals", "ReviewedRun", "StateFileError"]


class StateFileError(RuntimeError):
    """A state file handoff will not resume from; the message says why and what to do."""


@dataclass
class ReviewedRun:
    """Where a reviewed run stopped: the SDK's result, every (call, verdict), and whether it is paused."""

    result: RunResult | None
    reviews: list[tuple[ToolCall, Verdict]] = field(default_factory=list)
    paused: bool = False  # a verdict timed out: the state file holds the run until the decision comes

    def handed_back(self, call: ToolCall) -> str | None:
        """What the model was given for `call`: the tool's output or the rejection message, if any yet."""
        if self.result is None:
            return None
        for item in reversed(self.result.to_input_list()):
            output = isinstance(item, Mapping) and item.get("type") == "function_call_output"
            if output and item.get("call_id") == call.call_id:
                return str(item.get("output"))
        return None


@dataclass
class _Pass:
    """An edited call the reviewer approved: the model's next call of exactly this runs without review."""

    tool: str
    args: dict[str, Any]
    proposal_id: str


class AgentApprovals:
    """handoff as the approver of an OpenAI Agents SDK run, through the shared core's `Approvals`."""

    def __init__(self, approvals: Approvals) -> None:
        self.approvals = approvals
        self._default_key = uuid.uuid4().hex
        self._passes: dict[str, list[_Pass]] = {}
        self._submitted: set[str] = set()
        self._ran_under: dict[str, str] = {}  # call id of a call run under an edit's pass -> that proposal

    def needs_approval(self, tool_name: str) -> NeedsApproval:
        """The `needs_approval` function for a tool: submits each call to handoff and interrupts the run for it."""

        async def submit_for_review(ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str) -> bool:
            key = _RUN_KEY.get(self._default_key)
            granted = self._take_pass(key, tool_name, params)
            if granted is not None:
                self._ran_under[call_id] = granted
                return False
            call = ToolCall(name=tool_name, args=params, call_id=call_id, seen=_seen(ctx.turn_input))
            pid = proposal_id_for(key, call_id)
            await asyncio.to_thread(self.approvals.submit, call, proposal_id=pid)
            self._submitted.add(pid)
            return True

        return submit_for_review

    def require_review(self, agent: Agent[Any]) -> Agent[Any]:
        """Set `needs_approval` on every function tool of `agent` the category mapping names (all of them for
        a category callable); returns the agent."""
        mapped = self.approvals.category
        for tool in agent.tools:
            if isinstance(tool, FunctionTool) and (callable(mapped) or tool.name in mapped):
                tool.needs_approval = self.needs_approval(tool.name)
        return agent

    async def run(
        self,
        agent: Agent[Any],
        run_input: str | list[Any] | None,
        *,
        state_file: Path,
        run_config: RunConfig | None = None,
        max_rounds: int = 20,
    ) -> ReviewedRun:
        """Run (or, with `run_input` None, resume from `state_file`) until the run finishes or a verdict times out."""
        key, state = await self._start(agent, run_input, state_file)
        token = _RUN_KEY.set(key)
        try:
            return await self._drive(agent, key, state, state_file, run_config, max_rounds)
        finally:
            _RUN_KEY.reset(token)

    async def _start(
        self, agent: Agent[Any], run_input: str | list[Any] | None, state_file: Path
    ) -> tuple[str, RunState[Any, Agent[Any]] | str | list[Any]]:
        if run_input is not None:
            if state_file.exists():
                raise StateFileError(
                    f"state_file: {state_file} holds a run still waiting for review; resume it with run_input=None "
                    "or use another file"
                )
            return uuid.uuid4().hex, run_input
        saved = _read(state_file)
        if saved.get("resumed"):
            raise StateFileError(
                f"state_file: {state_file} was being resumed with its decisions when the process stopped, so the "
                "approved tools may already have run; not running them twice. Check, then delete the file"
            )
        key = str(saved["run_key"])
        self._passes[key] = [_Pass(**p) for p in saved.get("passes", [])]
        self._submitted |= set(saved.get("submitted", []))
        return key, await RunState.from_json(agent, saved["run_state"])

    async def _drive(
        self,
        agent: Agent[Any],
        key: str,
        start: RunState[Any, Agent[Any]] | str | list[Any],
        state_file: Path,
        run_config: RunConfig | None,
        max_rounds: int,
    ) -> ReviewedRun:
        run = ReviewedRun(result=None)
        state = start if isinstance(start, RunState) else None
        if state is None:
            run.result = await Runner.run(agent, start, run_config=run_config)
        for _round in range(max_rounds):
            if state is None:
                assert run.result is not None
                if not run.result.interruptions:
                    state_file.unlink(missing_ok=True)
                    await asyncio.to_thread(self._report, run)
                    return run
                state = run.result.to_state()
            calls = [_call_of(item, _seen(state.to_json().get("original_input"))) for item in state.get_interruptions()]
            submitted = await asyncio.to_thread(self._submit_missing, key, calls)
            self._save(state_file, key, state, resumed=False)  # kept until the decisions come
            verdicts = await asyncio.to_thread(self.approvals.wait_all, submitted)
            run.reviews.extend(zip(calls, verdicts, strict=True))
            if any(v.outcome == "timeout" for v in verdicts):
                run.paused = True
                return run
            for item, call, verdict in zip(state.get_interruptions(), calls, verdicts, strict=True):
                self._answer(state, item, call, verdict, key)
            self._save(state_file, key, state, resumed=True)
            run.result, state = await Runner.run(agent, state, run_config=run_config), None
        raise RuntimeError(f"the run asked for review more than {max_rounds} times; is the model looping?")

    def _submit_missing(self, key: str, calls: Sequence[ToolCall]) -> list[tuple[str, ToolCall]]:
        """Submit the calls needs_approval did not (a tool set to plain True); their ids, in order."""
        submitted = []
        for call in calls:
            pid = proposal_id_for(key, call.call_id or "")
            if pid not in self._submitted:
                self.approvals.submit(call, proposal_id=pid)
                self._submitted.add(pid)
            submitted.append((pid, call))
        return submitted

    def _answer(
        self, state: RunState[Any, Agent[Any]], item: ToolApprovalItem, call: ToolCall, verdict: Verdict, key: str
    ) -> None:
        if verdict.runs and verdict.args == dict(call.args):
            state.approve(item)
            return
        if verdict.runs and verdict.args is not None:
            self._passes.setdefault(key, []).append(_Pass(call.name, verdict.args, verdict.proposal_id))
            state.reject(item, rejection_message=edit_message(call, verdict))
            return
        state.reject(item, rejection_message=verdict.message)

    def _take_pass(self, key: str, tool: str, params: Mapping[str, Any]) -> str | None:
        """The proposal whose edit allows exactly this call (used up), or None."""
        passes = self._passes.get(key, [])
        for granted in passes:
            if granted.tool == tool and granted.args == dict(params):
                passes.remove(granted)
                return granted.proposal_id
        return None

    def _report(self, run: ReviewedRun) -> None:
        """Tell handoff which decided calls ran: an approved call, or the call an edit allowed."""
        assert run.result is not None
        ran = {
            str(item.get("call_id"))
            for item in run.result.to_input_list()
            if isinstance(item, Mapping) and item.get("type") == "function_call_output"
        }
        done = [v.proposal_id for c, v in run.reviews if v.runs and v.args == dict(c.args) and c.call_id in ran]
        done += [pid for call_id, pid in self._ran_under.items() if call_id in ran]
        for pid in dict.fromkeys(done):
            self.approvals.client.report_execution(pid, True, "")

    def _save(self, path: Path, key: str, state: RunState[Any, Agent[Any]], *, resumed: bool) -> None:
        """Write the run's state atomically (a temporary file renamed over the old one)."""
        body = {
            "handoff": STATE_VERSION,
            "run_key": key,
            "resumed": resumed,
            "passes": [vars(p) for p in self._passes.get(key, [])],
            "submitted": sorted(p for p in self._submitted),
            "run_state": state.to_json(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(body, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)


def edit_message(call: ToolCall, verdict: Verdict) -> str:
    """What the model reads for an edit: the SDK cannot run changed arguments, so it is asked to call again."""
    args = json.dumps(verdict.args, ensure_ascii=False, sort_keys=True)
    note = f" Reviewer's note: {verdict.reason}" if verdict.reason else ""
    return (
        f"The reviewer approved {call.name} only with changed arguments, so this call did not run. "
        f"Call {call.name} again with exactly these arguments: {args} (that call runs without another review).{note}"
    )


def _call_of(item: ToolApprovalItem, seen: Any) -> ToolCall:
    args = json.loads(item.arguments or "{}")
    return ToolCall(name=item.name or "", args=args if isinstance(args, dict) else {}, call_id=item.call_id, seen=seen)


def _seen(items: Any) -> Any:
    """What the agent saw, from the SDK's input items (messages with text; tool traffic left out)."""
    turns: list[tuple[str, str]] = []
    if isinstance(items, str):
        return seen_from_turns([("user", items)])
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and "role" in item:
            turns.append((str(item["role"]), _text(item.get("content"))))
    return seen_from_turns(turns)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def _read(path: Path) -> dict[str, Any]:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StateFileError(f"state_file: {path} does not exist; start the run with its input") from None
    except ValueError as exc:
        raise StateFileError(f"state_file: {path} is not valid JSON ({exc}); it was not written by handoff") from None
    if not isinstance(saved, dict) or saved.get("handoff") != STATE_VERSION or "run_state" not in saved:
        raise StateFileError(f"state_file: {path} is not a handoff run state (version {STATE_VERSION})")
    return saved
