"""A stand-in for the Claude Code CLI that the Claude Agent SDK drives, for one turn with one tool call.

It speaks the CLI's side of the SDK's stream-JSON control protocol through the SDK's `Transport` seam:
it answers `initialize`, and on the prompt it has "Claude" call one tool, asking the SDK's `can_use_tool`
callback first (a `control_request` of subtype `can_use_tool`, as the CLI sends when its permission rules
say "ask"). On the SDK's answer it runs the tool with the allowed input, or hands the deny message back as
the tool's error result, and ends the turn with a `result`. `model_saw` is what went back to the model.

    transport = ClaudeCodeStandIn(tool_name="send_email", tool_input={...}, run_tool=send)
    async for message in query(prompt="...", options=ClaudeAgentOptions(can_use_tool=...), transport=transport):
        ...
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from claude_agent_sdk import Transport

MODEL = "claude-stand-in"
PERMISSION_REQUEST_ID = "req_can_use_tool_1"


class ClaudeCodeStandIn(Transport):
    """Plays the CLI for one prompt: one tool call behind `can_use_tool`, then the result."""

    def __init__(
        self,
        *,
        tool_name: str,
        tool_input: dict[str, Any],
        run_tool: Callable[[dict[str, Any]], str],
        title: str | None = None,
        description: str | None = None,
    ) -> None:
        self.tool_name = tool_name
        self.tool_input = tool_input
        self.run_tool = run_tool
        self.title = title
        self.description = description
        self.tool_use_id = "toolu_" + uuid.uuid4().hex[:24]
        self.session_id = str(uuid.uuid4())
        self.permission: dict[str, Any] | None = None
        """The SDK's answer to `can_use_tool`, as it crossed the wire."""
        self.model_saw: str | None = None
        """The tool result handed back to the model (the tool's output, or the deny message)."""
        self._send: MemoryObjectSendStream[dict[str, Any]] | None = None
        self._receive: MemoryObjectReceiveStream[dict[str, Any]] | None = None

    async def connect(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[dict[str, Any]](100)

    def is_ready(self) -> bool:
        return self._send is not None

    async def end_input(self) -> None:
        """The SDK closes the CLI's stdin; nothing more will be written."""

    async def close(self) -> None:
        for stream in (self._send, self._receive):
            if stream is not None:
                stream.close()

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        assert self._receive is not None, "connect() first"
        async with self._receive:
            async for message in self._receive:
                yield message

    async def write(self, data: str) -> None:
        for line in data.splitlines():
            if line.strip():
                await self._on(json.loads(line))

    async def _on(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "control_request" and message["request"].get("subtype") == "initialize":
            await self._emit(_control_response(message["request_id"], {"commands": [], "models": []}))
        elif kind == "user":
            await self._ask_permission()
        elif kind == "control_response" and message["response"].get("request_id") == PERMISSION_REQUEST_ID:
            self.permission = dict(message["response"].get("response") or {})
            await self._finish_turn(self.permission)

    async def _ask_permission(self) -> None:
        tool_use = {"type": "tool_use", "id": self.tool_use_id, "name": self.tool_name, "input": self.tool_input}
        await self._emit(self._assistant([tool_use]))
        request: dict[str, Any] = {
            "subtype": "can_use_tool",
            "tool_name": self.tool_name,
            "input": self.tool_input,
            "tool_use_id": self.tool_use_id,
            "permission_suggestions": [],
            "title": self.title,
            "description": self.description,
        }
        await self._emit({"type": "control_request", "request_id": PERMISSION_REQUEST_ID, "request": request})

    async def _finish_turn(self, permission: dict[str, Any]) -> None:
        allowed = permission.get("behavior") == "allow"
        if allowed:
            self.model_saw = self.run_tool(dict(permission.get("updatedInput") or {}))
        else:
            self.model_saw = str(permission.get("message") or "")
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": self.tool_use_id, "content": self.model_saw}
        if not allowed:
            result["is_error"] = True
        await self._emit({"type": "user", "message": {"role": "user", "content": [result]}, "parent_tool_use_id": None})
        await self._emit(self._assistant([{"type": "text", "text": f"The tool said: {self.model_saw}"}]))
        await self._emit(
            {
                "type": "result",
                "subtype": "success",
                "duration_ms": 1,
                "duration_api_ms": 1,
                "is_error": False,
                "num_turns": 2,
                "session_id": self.session_id,
                "result": f"The tool said: {self.model_saw}",
            }
        )
        assert self._send is not None
        self._send.close()

    def _assistant(self, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "assistant",
            "message": {"role": "assistant", "model": MODEL, "content": content},
            "parent_tool_use_id": None,
            "session_id": self.session_id,
        }

    async def _emit(self, message: dict[str, Any]) -> None:
        assert self._send is not None, "connect() first"
        await self._send.send(message)


def _control_response(request_id: str, response: dict[str, Any]) -> dict[str, Any]:
    answer = {"subtype": "success", "request_id": request_id, "response": response}
    return {"type": "control_response", "response": answer}
