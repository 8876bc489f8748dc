"""Who is on call at a moment: shift boundaries, overrides, daylight-saving changes, policy validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scoring.policy import PolicyError, parse_policy
from scoring.rotation import Rotation, next_on_call, on_call, parse_duration

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def rotation(**fields: Any) -> Rotation:
    base: dict[str, Any] = {"members": ["U0A", "U0B", "U0C"], "shift": "1d", "start": "2025-01-06T09:00"}
    return Rotation.model_validate(base | fields)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2025, 1, 6, 9, 0, tzinfo=UTC), "U0A"),
        (datetime(2025, 1, 7, 8, 59, 59, tzinfo=UTC), "U0A"),
        (datetime(2025, 1, 7, 9, 0, tzinfo=UTC), "U0B"),
        (datetime(2025, 1, 8, 12, 0, tzinfo=UTC), "U0C"),
        (datetime(2025, 1, 9, 9, 0, tzinfo=UTC), "U0A"),
        (datetime(2025, 1, 5, 12, 0, tzinfo=UTC), "U0C"),
    ],
)
def test_shifts_hand_over_at_their_boundaries(moment: datetime, expected: str) -> None:
    """Daily shifts in UTC: the handover is at 09:00 exactly, cycling through the members (also before start)."""
    assert on_call(rotation(), moment).user == expected


@pytest.mark.parametrize(
    ("zone", "start", "moment", "expected"),
    [
        # New York springs forward on 2025-03-09: the 09:00 handover stays at 09:00 local (13:00 UTC, not 14:00).
        ("America/New_York", "2025-03-08T09:00", datetime(2025, 3, 9, 8, 59, tzinfo=NY), "U0A"),
        ("America/New_York", "2025-03-08T09:00", datetime(2025, 3, 9, 9, 0, tzinfo=NY), "U0B"),
        ("America/New_York", "2025-03-08T09:00", datetime(2025, 3, 9, 12, 59, tzinfo=UTC), "U0A"),
        ("America/New_York", "2025-03-08T09:00", datetime(2025, 3, 9, 13, 0, tzinfo=UTC), "U0B"),
        # ... and falls back on 2025-11-02: 09:00 local is 14:00 UTC from then on.
        ("America/New_York", "2025-11-01T09:00", datetime(2025, 11, 2, 13, 30, tzinfo=UTC), "U0A"),
        ("America/New_York", "2025-11-01T09:00", datetime(2025, 11, 2, 14, 0, tzinfo=UTC), "U0B"),
        # Berlin springs forward on 2025-03-30 (09:00 is 07:00 UTC) and falls back on 2025-10-26 (08:00 UTC).
        ("Europe/Berlin", "2025-03-29T09:00", datetime(2025, 3, 30, 6, 59, tzinfo=UTC), "U0A"),
        ("Europe/Berlin", "2025-03-29T09:00", datetime(2025, 3, 30, 9, 0, tzinfo=BERLIN), "U0B"),
        ("Europe/Berlin", "2025-10-25T09:00", datetime(2025, 10, 26, 7, 59, tzinfo=UTC), "U0A"),
        ("Europe/Berlin", "2025-10-25T09:00", datetime(2025, 10, 26, 8, 0, tzinfo=UTC), "U0B"),
    ],
)
def test_wall_clock_handover_survives_daylight_saving(zone: str, start: str, moment: datetime, expected: str) -> None:
    """A daily 09:00 handover stays at 09:00 local time across DST changes (the shift lasts 23 or 25 hours)."""
    rot = rotation(members=["U0A", "U0B"], start=start, timezone=zone)
    assert on_call(rot, moment).user == expected


def test_shift_across_the_spring_change_lasts_23_hours() -> None:
    """The reported shift bounds follow the wall clock: 23 hours on the day clocks spring forward."""
    rot = rotation(start="2025-03-08T09:00", timezone="America/New_York")
    shift = on_call(rot, datetime(2025, 3, 8, 20, 0, tzinfo=NY))
    assert (shift.shift_end - shift.shift_start).total_seconds() == 23 * 3600


def test_twelve_hour_shifts_skip_the_missing_hour() -> None:
    """A handover at a wall time the clock skips (02:00 in New York on 2025-03-09) happens when it resumes."""
    rot = rotation(members=["U0A", "U0B"], shift="12h", start="2025-03-08T14:00", timezone="America/New_York")
    assert on_call(rot, datetime(2025, 3, 9, 6, 59, tzinfo=UTC)).user == "U0A"  # 01:59 EST: the evening shift
    assert on_call(rot, datetime(2025, 3, 9, 7, 0, tzinfo=UTC)).user == "U0B"  # 03:00 EDT: the 02:00 handover
    assert on_call(rot, datetime(2025, 3, 9, 17, 59, tzinfo=UTC)).user == "U0B"  # 13:59 EDT
    assert on_call(rot, datetime(2025, 3, 9, 18, 0, tzinfo=UTC)).user == "U0A"  # 14:00 EDT


@pytest.mark.parametrize(
    ("moment", "expected", "override"),
    [
        (datetime(2025, 1, 7, 10, 0, tzinfo=UTC), "U0C", True),  # U0B on leave, U0C covers
        (datetime(2025, 1, 8, 10, 0, tzinfo=UTC), "U0C", False),  # U0C's own shift, inside the leave window
        (datetime(2025, 1, 9, 10, 0, tzinfo=UTC), "U0A", False),  # leave over
        (datetime(2025, 1, 12, 10, 0, tzinfo=UTC), "U0B", True),  # a swap: U0B takes the Sunday
    ],
)
def test_overrides_cover_leave_and_swaps(moment: datetime, expected: str, override: bool) -> None:
    """A leave override replaces one member's shifts only; an override without `replaces` covers anyone."""
    rot = rotation(
        overrides=[
            {"user": "U0C", "replaces": "U0B", "start": "2025-01-07T00:00", "end": "2025-01-09T00:00"},
            {"user": "U0B", "start": "2025-01-12T09:00", "end": "2025-01-13T09:00"},
        ]
    )
    shift = on_call(rot, moment)
    assert (shift.user, shift.override) == (expected, override)


def test_next_on_call_skips_whoever_is_on_leave() -> None:
    """Escalation goes to the next member in order, skipping members an override has replaced."""
    rot = rotation(
        overrides=[{"user": "U0C", "replaces": "U0B", "start": "2025-01-06T00:00", "end": "2025-01-20T00:00"}]
    )
    assert next_on_call(rot, datetime(2025, 1, 6, 10, 0, tzinfo=UTC)) == "U0C"
    assert next_on_call(rotation(members=["U0A"]), datetime(2025, 1, 6, 10, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90), (1.5, 1.5), ("45s", 45), ("30m", 1800), ("4h", 14400), ("2d", 172800), ("1w", 604800)],
)
def test_durations_read_seconds_or_units(value: Any, seconds: float) -> None:
    """Durations are seconds, or a number with s, m, h, d or w."""
    assert parse_duration(value) == seconds


def test_naive_now_is_refused() -> None:
    """`now` must carry its time zone: a naive moment would silently mean different things."""
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(rotation(), datetime(2025, 1, 6, 9, 0))


POLICY = """
rotations:
  oncall: {members: [U0A, U0B], shift: %s, start: 2025-01-06T09:00, timezone: %s}
categories:
  refund:
    level: approve_before
    reviewers: {rotation: %s}
    timeouts: %s
"""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("1d", "Mars/Olympus", "oncall", "null"), "rotations.oncall.timezone: unknown time zone 'Mars/Olympus'"),
        (("soon", "UTC", "oncall", "null"), "rotations.oncall.shift: expected seconds or a duration"),
        (("30m", "UTC", "oncall", "null"), "rotations.oncall.shift: a shift shorter than 1h"),
        (("1d", "UTC", "on-call", "null"), "categories.refund.reviewers.rotation is 'on-call'; expected one of"),
        (("1d", "UTC", "oncall", "{expire_after: 1h, outcome: approve}"), "timeouts.outcome: is 'approve'; expected"),
        (("1d", "UTC", "oncall", "{remind_after: 2h, expire_after: 1h}"), "expire_after (3600s) must be longer"),
        (("1d", "UTC", "oncall", "{escalate_after: 1h, escalate_to: nowhere}"), "escalate_to is 'nowhere'"),
    ],
)
def test_policy_refuses_broken_routing_with_its_path(fields: tuple[str, ...], message: str) -> None:
    """Rotation and timeout mistakes are refused, naming the key path; a timeout never approves."""
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_policy(POLICY % fields)


def test_shipped_policy_routes_refunds_to_four_eyes() -> None:
    """The example policy: refunds and legal replies need two approvals from a group, with a rotation fallback."""
    from tests.conftest import REPO

    policy = parse_policy((REPO / "policy.yaml").read_text(encoding="utf-8"))
    for name in ("issue_refund", "legal_reply"):
        category = policy.categories[name]
        assert category.approvals == 2
        assert category.reviewers.usergroups
        assert category.reviewers.rotation in policy.rotations
        assert category.owner_may_approve is False
    for name in ("customer_email", "update_crm_record"):
        assert policy.categories[name].reviewers.anyone
        assert policy.categories[name].approvals == 1
