"""Who reviews a category, how many must approve, and the reminder/escalation/expiry chain: pure rules.

The policy models for `reviewers`, `timeouts`, `agents` live here (the Category and Policy models in
`scoring.policy` use them); so do the pure decisions built on them. No Slack, no clock: callers pass
`now` and the user-group memberships they could read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scoring.models import Strict
from scoring.rotation import Duration, UserId, next_on_call, on_call

if TYPE_CHECKING:
    from scoring.policy import Category, Policy

USERGROUP_ID_PATTERN = r"^S[A-Z0-9]{2,}$"
UsergroupId = Annotated[str, Field(pattern=USERGROUP_ID_PATTERN)]
STEPS = ("remind", "escalate", "expire")


class Reviewers(Strict):
    """Who may decide a category: user ids, Slack user groups, and the members of one rotation.

    All empty means anyone who can see the card. A plain list of ids is accepted too: `U…`/`W…` are
    users, `S…` user groups.
    """

    users: list[UserId] = Field(default_factory=list)
    usergroups: list[UsergroupId] = Field(default_factory=list)
    rotation: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        users, groups = [], []
        for item in value:
            text = str(item)
            if text[:1] in ("U", "W"):
                users.append(text)
            elif text[:1] == "S":
                groups.append(text)
            else:
                raise PydanticCustomError(
                    "reviewers",
                    "{item} is neither a user id (U…) nor a user group id (S…); name a rotation with `rotation:`",
                    {"item": repr(text)},
                )
        return {"users": users, "usergroups": groups}

    @property
    def anyone(self) -> bool:
        """True when the category names no reviewers: anyone who can see the card decides."""
        return not (self.users or self.usergroups or self.rotation)


class Timeouts(Strict):
    """The chain after a card is posted: remind, escalate, expire, each measured from the card's posting."""

    remind_after: Duration | None = None
    escalate_after: Duration | None = None
    expire_after: Duration | None = None
    outcome: Literal["reject", "hold"] = "reject"
    escalate_to: str | None = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _never_approve(cls, value: Any) -> Any:
        if value not in ("reject", "hold"):
            raise PydanticCustomError(
                "outcome", "is {value}; expected reject or hold (a timeout never approves)", {"value": repr(value)}
            )
        return value

    @model_validator(mode="after")
    def _in_order(self) -> Timeouts:
        named = [(s, getattr(self, f"{s}_after")) for s in ("remind", "escalate", "expire")]
        given = [(name, value) for name, value in named if value is not None]
        for (first, a), (second, b) in pairwise(given):
            if b <= a:
                raise ValueError(f"{second}_after ({b:g}s) must be longer than {first}_after ({a:g}s)")
        return self

    def due(self) -> dict[str, float]:
        """Seconds after posting at which each configured step fires, in order."""
        values = {"remind": self.remind_after, "escalate": self.escalate_after, "expire": self.expire_after}
        return {step: seconds for step, seconds in values.items() if seconds is not None}


class AgentPolicy(Strict):
    """An agent handoff knows: who owns it (and so may be barred from approving its proposals)."""

    owner: UserId


def check_references(policy: Policy) -> None:
    """Refuse rotation names and escalation targets that point nowhere; the message names the key path."""
    for name, category in policy.categories.items():
        path = f"categories.{name}"
        rotation = category.reviewers.rotation
        if rotation is not None and rotation not in policy.rotations:
            _refuse(f"{path}.reviewers.rotation is {rotation!r}; expected one of rotations: {_known(policy)}")
        timeouts = category.timeouts
        if timeouts is None or timeouts.escalate_after is None:
            continue
        target = timeouts.escalate_to or "next"
        if target == "next" and rotation is None:
            _refuse(
                f"{path}.timeouts.escalate_to is 'next' but the category has no reviewers.rotation; "
                "name a user, a channel or a rotation in escalate_to"
            )
        if target != "next" and escalation_kind(target) == "rotation" and target not in policy.rotations:
            _refuse(
                f"{path}.timeouts.escalate_to is {target!r}; expected next, a user id (U…), a channel (#name or C…) "
                f"or a rotation ({_known(policy)})"
            )


def _known(policy: Policy) -> str:
    return ", ".join(sorted(policy.rotations)) or "(none defined)"


def _refuse(message: str) -> None:
    raise PydanticCustomError("policy", message.replace("{", "{{").replace("}", "}}"))


def escalation_kind(target: str) -> Literal["next", "user", "channel", "rotation"]:
    """What an `escalate_to` value names."""
    if target == "next":
        return "next"
    if target[:1] in ("U", "W") and target[1:].isalnum() and target.isupper():
        return "user"
    if target.startswith("#") or (target[:1] in ("C", "G") and target[1:].isalnum() and target.isupper()):
        return "channel"
    return "rotation"


def eligible(policy: Policy, category: Category, groups: Mapping[str, frozenset[str] | None]) -> frozenset[str] | None:
    """Everyone who may decide the category (None: anyone). A group mapped to None could not be read
    and adds nobody: its category then relies on its users and rotation."""
    reviewers = category.reviewers
    if reviewers.anyone:
        return None
    allowed = set(reviewers.users)
    for group in reviewers.usergroups:
        allowed |= groups.get(group) or frozenset()
    if reviewers.rotation is not None:
        allowed |= set(policy.rotations[reviewers.rotation].members)
    target = category.timeouts.escalate_to if category.timeouts else None
    if target and escalation_kind(target) == "user":
        allowed.add(target)
    elif target and escalation_kind(target) == "rotation":
        allowed |= set(policy.rotations[target].members)
    return frozenset(allowed)


def owner_of(policy: Policy, agent: str) -> str | None:
    """The Slack user who owns `agent`, if the policy names one."""
    known = policy.agents.get(agent)
    return known.owner if known else None


@dataclass(frozen=True)
class Assignee:
    """Whom a review is routed to: a user (`user`), or only a mention (`mention`, a group or nobody).

    `fallback` is True when a user group could not be listed and the review went to the rotation or channel.
    """

    user: str | None
    mention: str
    why: str
    fallback: bool = False


def assignee(policy: Policy, category: Category, now: datetime, *, groups_ok: bool) -> Assignee:
    """Who is asked at `now`: the rotation's on-call, else the only listed user, else the group(s)."""
    reviewers = category.reviewers
    if reviewers.rotation is not None:
        shift = on_call(policy.rotations[reviewers.rotation], now)
        why = f"on call for {reviewers.rotation} until {shift.shift_end.isoformat(timespec='minutes')}"
        if reviewers.usergroups and not groups_ok:
            why += " (user group unavailable: falling back to the rotation)"
        return Assignee(shift.user, f"<@{shift.user}>", why, fallback=bool(reviewers.usergroups) and not groups_ok)
    if reviewers.usergroups:
        mention = " ".join(f"<!subteam^{g}>" for g in reviewers.usergroups)
        why = "user group" if groups_ok else "user group membership unavailable: asking the channel"
        return Assignee(None, mention if groups_ok else "<!here>", why, fallback=not groups_ok)
    if len(reviewers.users) == 1:
        return Assignee(reviewers.users[0], f"<@{reviewers.users[0]}>", "the category's reviewer")
    if reviewers.users:
        return Assignee(None, " ".join(f"<@{u}>" for u in reviewers.users), "the category's reviewers")
    return Assignee(None, "", "anyone in the channel")


def escalation_target(policy: Policy, category: Category, now: datetime) -> str | None:
    """Where the escalate step goes at `now`: a user id, or a channel (`#name`/`C…`); None if nobody."""
    timeouts = category.timeouts
    target = (timeouts.escalate_to if timeouts else None) or "next"
    kind = escalation_kind(target)
    if kind == "next":
        rotation = category.reviewers.rotation
        return next_on_call(policy.rotations[rotation], now) if rotation else None
    if kind == "rotation":
        return on_call(policy.rotations[target], now).user
    return target


def schedule(timeouts: Timeouts | None, started: datetime) -> dict[str, datetime]:
    """When each step of the chain is due for a review asked at `started`."""
    if timeouts is None:
        return {}
    return {step: started + timedelta(seconds=seconds) for step, seconds in timeouts.due().items()}
