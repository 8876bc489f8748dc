"""The Slack stand-in's state: one workspace's messages, views, triggers, users and the call log.

Every read and write holds one re-entrant condition, and every write wakes its waiters, so tests wait on
state changes instead of sleeping.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.slack_records import ApiError, Fault, RecordedCall, Rejection

TRIGGER_TTL = 3.0
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")  # a name is lower-case, or starts with #


@dataclass
class Trigger:
    """A trigger_id handed to a (simulated) person's interaction: single use, valid 3 seconds."""

    user: str
    issued_at: float
    used: bool = False


class Workspace:
    """State of one sandbox workspace, guarded by `cond`; mutate only while holding it."""

    def __init__(self, *, token: str, bot_user_id: str, team_id: str, clock: Callable[[], float]) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.token, self.bot_user_id, self.team_id, self.clock = token, bot_user_id, team_id, clock
        self.bot_id = "B" + bot_user_id[1:]
        self.app_id = "A" + bot_user_id[1:]
        self.calls: list[RecordedCall] = []
        self.rejections: list[Rejection] = []
        self.warnings: list[str] = []
        self.faults: dict[str, list[Fault]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.homes: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, dict[str, str]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.conversations: dict[frozenset[str], str] = {}
        self.app_token: str | None = None
        self.socket_url: Callable[[], str] | None = None
        self.channel_ids: dict[str, str] = {}  # channel name (without #) -> the id Slack answers with
        self.holds: set[str] = set()
        self.waiting: dict[str, int] = {}
        self.version = 0
        self._last_us = 0
        self._serial = 0

    def changed(self) -> None:
        """Wake everyone waiting in `wait_for`; call after each write, holding `cond`."""
        self.version += 1
        self.cond.notify_all()

    def pass_hold(self, method: str) -> None:
        """Keep a call of a held method waiting (lock released meanwhile) until its hold is lifted."""
        if method not in self.holds:
            return
        self.waiting[method] = self.waiting.get(method, 0) + 1
        self.changed()
        self.cond.wait_for(lambda: method not in self.holds)
        self.waiting[method] -= 1
        self.changed()

    def next_ts(self) -> str:
        """A message timestamp like Slack's, "1700000000.000100": wall-clock based, strictly increasing."""
        self._last_us = max(self._last_us + 1, int(time.time() * 1_000_000))
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def next_serial(self) -> int:
        """A counter for ids (views, conversations, response urls) unique within this workspace."""
        self._serial += 1
        return self._serial

    def issue_trigger(self, user: str) -> str:
        """Hand out a trigger_id shaped like Slack's, bound to `user`, valid for three seconds."""
        trigger_id = f"{1_000_000_000 + self.next_serial()}.{self.team_number()}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user=user, issued_at=self.clock())
        return trigger_id

    def use_trigger(self, trigger_id: Any) -> Trigger:
        """Spend a trigger_id: unknown, already spent, or older than 3 s answers as Slack does."""
        trigger = self.triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None:
            raise ApiError("invalid_trigger_id", [f"unknown trigger_id {trigger_id!r}"])
        if trigger.used:
            raise ApiError("exchanged_trigger_id", ["this trigger_id was already used"])
        trigger.used = True
        age = self.clock() - trigger.issued_at
        if age > TRIGGER_TTL:
            raise ApiError("expired_trigger_id", [f"trigger_id is {age:.1f}s old; it expires after 3s"])
        return trigger

    def team_number(self) -> int:
        """A stable numeric stand-in for the team, as trigger ids carry one."""
        return zlib.crc32(self.team_id.encode())

    def take_fault(self, method: str) -> Fault | None:
        """The injected fault for this call of `method`, if any, counting it down."""
        queue = self.faults.get(method, [])
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by id or by name (`#handoff-reviews`): a stable `C…` per name, as Slack has."""
        if CHANNEL_ID.fullmatch(channel):
            return channel
        name = channel.removeprefix("#")
        return self.channel_ids.setdefault(name, f"C{zlib.crc32(name.encode()):08X}")

    def channel_name(self, channel_id: str) -> str:
        """`#name` for a channel first named in a call, else the id itself."""
        names = [name for name, known in self.channel_ids.items() if known == channel_id]
        return f"#{names[0]}" if names else channel_id

    def message(self, channel: Any, ts: Any) -> dict[str, Any]:
        """The stored message at (channel id, ts); a channel name is `channel_not_found`, as in chat.update."""
        if isinstance(channel, str) and not CHANNEL_ID.fullmatch(channel):
            detail = f"{channel!r} is a name; use the channel id chat.postMessage answered with"
            raise ApiError("channel_not_found", [detail])
        found = self.messages.get((str(channel), str(ts)))
        if found is None or found.get("deleted"):
            raise ApiError("message_not_found", [f"no message {ts!r} in channel {channel!r}"])
        return found

    def store_message(self, channel: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Post a new bot message to `channel` (an id, or a name resolved to its id); returns the stored record."""
        channel = self.channel_id(channel)
        ts = self.next_ts()
        record = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": fields.get("text") or "",
            "blocks": fields.get("blocks") or [],
            "thread_ts": fields.get("thread_ts"),
            "history": [],
        }
        self.messages[(channel, ts)] = record
        return record

    def revise_message(self, record: dict[str, Any], fields: dict[str, Any]) -> None:
        """Apply chat.update semantics: omitted `text` or `blocks` keep their previous value."""
        record["history"].append({"text": record["text"], "blocks": record["blocks"]})
        if "text" in fields:
            record["text"] = fields["text"] or ""
        if "blocks" in fields:
            record["blocks"] = fields["blocks"] or []

    def user_info(self, user_id: Any) -> dict[str, Any]:
        """A users.info `user` object: configured fields over a generated profile; unknown ids fail."""
        if not isinstance(user_id, str) or user_id[:1] not in ("U", "W") or not user_id[1:].isalnum():
            raise ApiError("user_not_found", [f"no user {user_id!r}"])
        name = user_id.lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": f"Sandbox {user_id}",
            "tz": "UTC",
            "tz_offset": 0,
            "profile": {"real_name": f"Sandbox {user_id}", "display_name": name, "team": self.team_id},
            "is_admin": False,
            "is_owner": False,
            "is_bot": user_id == self.bot_user_id,
            "is_app_user": False,
            "updated": 1700000000,
        }
        user.update(copy.deepcopy(self.users.get(user_id, {})))
        return user

    def record(self, method: str, params: dict[str, Any], error: str | None) -> None:
        """Append a call to the log and wake waiters."""
        self.calls.append(RecordedCall(method, copy.deepcopy(params), error is not None, error))
        self.changed()

    def reject(self, method: str, params: dict[str, Any], exc: ApiError) -> None:
        """Remember a refusal so a test can assert that none happened."""
        self.rejections.append(Rejection(method, exc.error, list(exc.details), copy.deepcopy(params)))
