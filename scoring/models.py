"""The data handoff passes around: proposals, signals, assessments and decisions.

Pure pydantic models with no I/O. Every model refuses unknown keys so that a typo in an
agent's payload is an error with a path, never a silently ignored field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scoring.bounds import BoundsError, check_bounds

PROPOSAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_PROPOSAL_BYTES = 1_000_000


class Strict(BaseModel):
    """Base for every model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class Action(Strict):
    """What the agent wants to execute: a tool name and its arguments."""

    name: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)


class ContextItem(Strict):
    """One piece of retrieved material the agent saw, with where it came from."""

    source: str = ""
    text: str


class Turn(Strict):
    """One prior turn of the conversation the agent is part of."""

    role: str
    text: str


class AgentInput(Strict):
    """What the agent saw: the original request, retrieved context, prior conversation."""

    request: str = ""
    context: list[ContextItem] = Field(default_factory=list)
    conversation: list[Turn] = Field(default_factory=list)


class Alternative(Strict):
    """An action the agent considered instead, offered to the reviewer."""

    summary: str = Field(min_length=1)
    action: Action


class Entity(Strict):
    """The result of resolving a reference in the request ("Jane", "the Acme account")."""

    reference: str
    matches: list[str] = Field(default_factory=list)
    field: str | None = None


class Retrieval(Strict):
    """One of several varied queries for the same question and what it returned."""

    query: str
    results: list[str] = Field(default_factory=list)


class Proposal(Strict):
    """One action an agent wants to take, with everything a reviewer needs to judge it."""

    id: str | None = Field(default=None, pattern=PROPOSAL_ID_PATTERN)
    category: str = Field(min_length=1, max_length=100)
    agent: str = Field(default="agent", max_length=100)
    action: Action
    summary: str = Field(min_length=1)
    input: AgentInput = Field(default_factory=AgentInput)
    rationale: list[str] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    retrievals: list[Retrieval] = Field(default_factory=list)
    agent_confidence: float | None = Field(default=None, ge=0, le=1)
    state: Any = None
    callback: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

    @model_validator(mode="before")
    @classmethod
    def _within_bounds(cls, value: Any) -> Any:
        try:
            check_bounds(value)
        except BoundsError as exc:
            raise PydanticCustomError("bounds", str(exc).replace("{", "{{").replace("}", "}}")) from exc
        return value

    @field_validator("rationale", mode="before")
    @classmethod
    def _rationale_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("input", mode="before")
    @classmethod
    def _input_as_request(cls, value: Any) -> Any:
        return {"request": value} if isinstance(value, str) else value


class SignalKind(StrEnum):
    HARD = "hard"
    SOFT = "soft"


class Signal(Strict):
    """One piece of evidence about a proposal: its value in [0, 1] (1 = no concern), weight and reason."""

    name: str
    kind: SignalKind
    value: float = Field(ge=0, le=1)
    weight: float = Field(ge=0)
    reason: str
    fired: bool = False


class Route(StrEnum):
    AUTO = "auto"
    REVIEW_AFTER = "review_after"
    ESCALATE = "escalate"


class Assessment(Strict):
    """The pipeline's verdict on a proposal: score, every signal, the route and why."""

    proposal_id: str
    score: float = Field(ge=0, le=1)
    route: Route
    signals: list[Signal] = Field(default_factory=list)
    level: str
    threshold: float | None = None
    policy_version: str
    audit: bool = False
    audit_rate: float | None = Field(default=None, ge=0, le=1)  # the chance it had of being drawn for audit
    model: str | None = None
    llm_calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    def fired(self) -> list[Signal]:
        """The signals that pushed this proposal towards a human."""
        return [s for s in self.signals if s.fired]


class Outcome(StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    ALTERNATIVE = "alternative"
    REDIRECT = "redirect"
    TIMEOUT = "timeout"
    AUTO = "auto"


EXECUTING_OUTCOMES = frozenset({Outcome.APPROVE, Outcome.EDIT, Outcome.ALTERNATIVE, Outcome.AUTO})


class Decision(Strict):
    """What happens to a proposal: the outcome, the action to execute now (or None), and who said so."""

    proposal_id: str
    outcome: Outcome
    action: Action | None
    reviewer: str
    comment: str = ""
    decided_at: str
    state: Any = None
    score: float | None = None
    route: Route | None = None

    @property
    def executes(self) -> bool:
        """True when the agent should run `action` now."""
        return self.outcome in EXECUTING_OUTCOMES and self.action is not None


POLICY_REVIEWER_PREFIX = "policy:"


def policy_reviewer(rule: str) -> str:
    """The reviewer of a decision the policy took by `rule` (`policy:timeout`, `policy:review_after`, ...)."""
    return f"{POLICY_REVIEWER_PREFIX}{rule}"


def is_policy_reviewer(reviewer: str) -> bool:
    """True when a decision was taken by the policy (a rule, a timer), not by a person."""
    return reviewer.startswith(POLICY_REVIEWER_PREFIX)


STANDING_REVIEWER_PREFIX = "standing:"


def standing_reviewer(rule_id: int) -> str:
    """The reviewer of a decision a standing approval took (`standing:7`): a rule a person made, not a person."""
    return f"{STANDING_REVIEWER_PREFIX}{rule_id}"


def is_standing_reviewer(reviewer: str) -> bool:
    """True when a standing approval (a remembered decision) took the decision, not a person looking."""
    return reviewer.startswith(STANDING_REVIEWER_PREFIX)


def standing_rule_id(reviewer: str) -> int | None:
    """The rule id of a `standing:<id>` reviewer, or None for anyone else."""
    rest = reviewer.removeprefix(STANDING_REVIEWER_PREFIX)
    return int(rest) if is_standing_reviewer(reviewer) and rest.isdigit() else None


def describe_validation_error(source: str, error: Any) -> str:
    """One line naming each bad field by its path: `proposal: action.name: field required`."""
    parts = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "bounds":  # the message starts with the path already
            parts.append(message)
            continue
        if item["type"] == "string_pattern_mismatch" and path == "id":
            message = "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit"
        elif item["type"] == "string_pattern_mismatch" and path == "callback":
            message = "must be an importable 'package.module:function'"
        parts.append(f"{path}: {message.lower() if message[:1].isupper() else message}")
    return f"{source}: " + "; ".join(parts)
