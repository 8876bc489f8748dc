"""On-call rotations: who is on call at a moment, as a pure function of the rotation and that moment.

Shifts hand over at wall-clock times in the rotation's time zone (a daily 09:00 handover stays at
09:00 across daylight-saving changes, so such a shift lasts 23 or 25 hours). A handover at a time
the clock skips happens when the clock resumes; at a time it repeats, at its first occurrence.
Overrides (leave, swaps) put someone else on call for a window, optionally only over one member.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scoring.models import Strict

USER_ID_PATTERN = r"^[UW][A-Z0-9]{2,}$"
UserId = Annotated[str, Field(pattern=USER_ID_PATTERN)]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: Any) -> Any:
    """Seconds from a number or a string such as "90s", "30m", "4h", "2d", "1w"; other input is refused."""
    if isinstance(value, bool):
        raise PydanticCustomError("duration", "expected seconds or a duration such as 30m, 4h, 2d")
    if isinstance(value, int | float):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("duration", "expected seconds or a duration such as 30m, 4h, 2d")
    return float(match.group(1)) * _UNITS[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class Override(Strict):
    """`user` is on call from `start` until `end`; with `replaces`, only over that member's shifts (leave)."""

    user: UserId
    start: datetime
    end: datetime
    replaces: UserId | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Override:
        if _naive(self.end) <= _naive(self.start) and (self.end.tzinfo is None) == (self.start.tzinfo is None):
            raise ValueError("end must be after start")
        return self


class Rotation(Strict):
    """Members taking shifts of `shift` seconds in turn from `start` (local time in `timezone`)."""

    members: list[UserId] = Field(min_length=1)
    shift: Duration
    start: datetime
    timezone: str = "UTC"
    overrides: list[Override] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", "unknown time zone {zone}; use an IANA name such as Europe/Berlin", {"zone": repr(value)}
            ) from None
        return value

    @field_validator("shift")
    @classmethod
    def _at_least_an_hour(cls, value: float) -> float:
        if value < 3600:
            raise PydanticCustomError("shift", "a shift shorter than 1h is not a rotation; use at least 1h")
        return value


@dataclass(frozen=True)
class OnCall:
    """Who is on call, whose shift it is by the schedule, and when that shift started and ends."""

    user: str
    scheduled: str
    shift_start: datetime
    shift_end: datetime
    override: bool


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _local(rotation: Rotation, moment: datetime) -> datetime:
    """An aware moment from a policy datetime: naive ones are wall-clock times in the rotation's zone."""
    zone = ZoneInfo(rotation.timezone)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def _boundary(rotation: Rotation, index: int) -> datetime:
    """The instant shift `index` starts (shift 0 starts at `start`), in UTC."""
    wall = _naive(_local(rotation, rotation.start)) + timedelta(seconds=rotation.shift * index)
    return wall.replace(tzinfo=ZoneInfo(rotation.timezone), fold=0).astimezone(UTC)


def shift_index(rotation: Rotation, now: datetime) -> int:
    """The number of the shift running at `now` (negative before `start`)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    wall_now = _naive(now.astimezone(ZoneInfo(rotation.timezone)))
    elapsed = (wall_now - _naive(_local(rotation, rotation.start))).total_seconds()
    index = math.floor(elapsed / rotation.shift)
    while _boundary(rotation, index + 1) <= now:
        index += 1
    while _boundary(rotation, index) > now:
        index -= 1
    return index


def _override_for(rotation: Rotation, scheduled: str, now: datetime) -> str | None:
    """The last override covering `now` (and `scheduled`, when it replaces one member)."""
    chosen = None
    for item in rotation.overrides:
        if _covers(rotation, item, now) and item.replaces in (None, scheduled):
            chosen = item.user
    return chosen


def on_call(rotation: Rotation, now: datetime) -> OnCall:
    """Who is on call at `now` (timezone-aware), overrides applied."""
    index = shift_index(rotation, now)
    scheduled = rotation.members[index % len(rotation.members)]
    covering = _override_for(rotation, scheduled, now)
    return OnCall(
        user=covering or scheduled,
        scheduled=scheduled,
        shift_start=_boundary(rotation, index),
        shift_end=_boundary(rotation, index + 1),
        override=covering is not None,
    )


def on_leave(rotation: Rotation, member: str, now: datetime) -> bool:
    """True when an override at `now` replaces `member` (they are on leave or swapped out)."""
    return any(
        item.replaces == member and item.user != member and _covers(rotation, item, now) for item in rotation.overrides
    )


def _covers(rotation: Rotation, item: Override, now: datetime) -> bool:
    return _local(rotation, item.start) <= now < _local(rotation, item.end)


def next_on_call(rotation: Rotation, now: datetime) -> str | None:
    """Whom to escalate to at `now`: the next member after the current shift's, skipping those on leave
    and whoever is on call now; None when nobody else is available."""
    current = on_call(rotation, now)
    start = rotation.members.index(current.scheduled)
    count = len(rotation.members)
    for step in range(1, count + 1):
        member = rotation.members[(start + step) % count]
        if member != current.user and not on_leave(rotation, member, now):
            return member
    return None
