"""The policy: which categories exist, how much autonomy each has, and who reviews them.

`parse_policy` turns YAML text into a validated `Policy`; every mistake is reported with the
key's path and what is expected, so a typo never silently loosens review.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, NoReturn, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scoring.guarantees import GraduationPolicy as GraduationPolicy  # re-exported: the policy holds it
from scoring.models import Strict
from scoring.rotation import Rotation
from scoring.routing import AgentPolicy, Reviewers, Timeouts, check_references


class Level(StrEnum):
    """How much autonomy a category has, from most to least."""

    AUTONOMOUS = "autonomous"
    REVIEW_AFTER = "review_after"
    ON_UNCERTAINTY = "on_uncertainty"
    APPROVE_BEFORE = "approve_before"

    @property
    def strictness(self) -> int:
        """0 for autonomous up to 3 for approve_before."""
        return list(Level).index(self)


class Impact(StrEnum):
    """How much damage a wrong action of a category can do; gates the costlier soft signals."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical."""
        return list(Impact).index(self)


# The soft signals a policy can weigh; the score is their weighted mean (renormalised over those measured).
SOFT_SIGNALS = ("critique", "ensemble", "retrieval_consistency", "agent_confidence")
DEFAULT_WEIGHTS = {"critique": 0.35, "ensemble": 0.4, "retrieval_consistency": 0.15, "agent_confidence": 0.1}
CHECK_PATH_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
CheckPath = Annotated[str, Field(pattern=CHECK_PATH_PATTERN)]


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    """Refuse unknown signal names, negative weights and weights that do not sum to 1."""
    unknown = sorted(set(weights) - set(SOFT_SIGNALS))
    if unknown:
        _refuse(f"unknown signal {unknown[0]!r}; expected one of {', '.join(SOFT_SIGNALS)}")
    negative = [name for name, weight in weights.items() if weight < 0 or not math.isfinite(weight)]
    if negative:
        _refuse(f"{negative[0]} is {weights[negative[0]]}; expected a weight of 0 or more")
    total = sum(weights.values())
    if abs(total - 1) > 1e-6:
        _refuse(f"weights sum to {total:g}; expected them to sum to 1 (they are renormalised over those measured)")
    return weights


def _refuse(message: str) -> NoReturn:
    raise PydanticCustomError("policy", message.replace("{", "{{").replace("}", "}}"))


class LLMPolicy(Strict):
    """How the soft signals call Claude: model, ensemble size, which impact pays for what, the deadline."""

    model: str = Field(default="claude-haiku-4-5", min_length=1)
    ensemble_size: int = Field(default=3, ge=0, le=3)
    ensemble_min_impact: Impact = Impact.HIGH
    critique_min_impact: Impact = Impact.HIGH
    deadline_s: float = Field(default=20.0, gt=0, le=600)
    max_tokens: int = Field(default=1024, ge=64, le=32_000)
    input_usd_per_mtok: float = Field(default=1.0, ge=0)
    output_usd_per_mtok: float = Field(default=5.0, ge=0)
    measure_always_asked: bool = False  # soft signals for never_graduate approve_before categories too
    cache_min_tokens: int = Field(default=4096, ge=0)  # the model's shortest cacheable prefix (Haiku 4.5)


class InputRange(Strict):
    """When the learned input-size bound replaces the static one, and how far out is "far"."""

    min_samples: int = Field(default=50, ge=5)
    robust_k: float = Field(default=5.0, gt=0)


class ExportPolicy(Strict):
    """What `handoff export` removes from datasets besides the built-in secret patterns."""

    redact_fields: list[str] = Field(default_factory=list)


class ArgKind(StrEnum):
    """How the Edit modal asks for an argument: one line, several lines, a number, a choice, a date, JSON."""

    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    CHOICE = "choice"
    DATE = "date"
    JSON = "json"


class ArgSpec(Strict):
    """How reviewers edit one argument of a category's action (unset `kind`: inferred from the value)."""

    kind: ArgKind | None = None
    choices: list[str | int | float] = Field(default_factory=list)  # the allowed values; implies kind `choice`

    @model_validator(mode="after")
    def _choices_fit_kind(self) -> ArgSpec:
        if self.kind is ArgKind.CHOICE and not self.choices:
            raise ValueError("kind is choice but no choices are given; list the allowed values under `choices`")
        if self.choices and self.kind not in (None, ArgKind.CHOICE):
            raise ValueError(f"choices are given but kind is {self.kind}; drop `kind` or set it to choice")
        return self


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the key and the fix."""


class DigestRule(Strict):
    """How actions that ran before review are gathered into one message per channel and category: a
    window closes after `minutes` or `max_items` items, whichever comes first (past 40 items a digest's
    message shows the first 40 and its "See all" pages show every one)."""

    minutes: int = Field(default=30, ge=1, le=1440)
    max_items: int = Field(default=20, ge=1, le=200)


class StandingApprovals(Strict):
    """Whether a reviewer who approves may also allow the same action from the same agent for a while
    ("Approve and remember…"), and for at most how many hours (see docs/routing.md, "Standing approvals")."""

    max_hours: int = Field(ge=1, le=168)


class Category(Strict):
    """One kind of action and the rules for reviewing it."""

    level: Level
    description: str = ""
    threshold: float = Field(default=0.8, ge=0, le=1)
    required_args: list[str] = Field(default_factory=list)
    channel: str | None = None
    reviewers: Reviewers = Field(default_factory=Reviewers)  # users, usergroups, rotation: see docs/routing.md
    approvals: int = Field(default=1, ge=1, le=10)  # distinct reviewers who must approve
    owner_may_approve: bool = True  # False: the owner of the proposing agent (policy `agents`) may not approve
    timeouts: Timeouts | None = None  # remind, escalate, expire
    never_graduate: bool = False
    impact: Impact = Impact.MEDIUM
    weights: dict[str, float] | None = None
    max_age_hours: float | None = Field(default=None, gt=0)
    max_input_chars: int | None = Field(default=None, gt=0)
    max_input_items: int | None = Field(default=None, gt=0)
    checks: list[CheckPath] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    audit_rate: float | None = Field(default=None, ge=0, le=1)
    irreversible: bool = False  # Approve asks the reviewer to confirm first: the action cannot be undone
    args: dict[str, ArgSpec] = Field(default_factory=dict)  # how the Edit modal asks for each argument
    reject_reasons: list[str] | None = None  # canned reasons offered on Reject; None: the top-level list
    graduation: GraduationPolicy | None = None
    digest: DigestRule | Literal[False] = Field(default_factory=DigestRule)  # False: one message per action
    standing_approvals: StandingApprovals | None = None  # None: off, no reviewer may remember a decision

    @field_validator("weights")
    @classmethod
    def _weights_make_sense(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else check_weights(value)

    @model_validator(mode="after")
    def _never_graduate_stays_strict(self) -> Category:
        if self.never_graduate and self.level != Level.APPROVE_BEFORE:
            raise ValueError(
                f"level is {self.level.value} but never_graduate is set; "
                "never_graduate categories must stay at approve_before"
            )
        if self.standing_approvals is not None and self.never_graduate:
            raise ValueError(
                "standing_approvals is set but never_graduate is too; every action of a never_graduate "
                "category waits for a person, so remove standing_approvals"
            )
        if self.standing_approvals is not None and self.approvals > 1:
            raise ValueError(
                f"standing_approvals is set but approvals is {self.approvals}; a standing approval is one "
                "reviewer's decision and cannot stand in for a quorum, so remove standing_approvals or set approvals: 1"
            )
        return self


class Policy(Strict):
    """The whole policy file."""

    channel: str = Field(default="#handoff-reviews", min_length=1)
    categories: dict[str, Category] = Field(min_length=1)
    version: str = ""
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    audit_rate: float = Field(default=0.05, ge=0, le=1)
    knowledge_cutoff: date | None = None
    max_input_chars: int = Field(default=20_000, gt=0)
    max_input_items: int = Field(default=50, gt=0)
    input_range: InputRange = Field(default_factory=InputRange)
    llm: LLMPolicy = Field(default_factory=LLMPolicy)
    reject_reasons: list[str] = Field(default_factory=list)  # canned reasons offered on every Reject modal
    owners: list[str] = Field(default_factory=list)
    graduation: GraduationPolicy = Field(default_factory=GraduationPolicy)
    export: ExportPolicy = Field(default_factory=ExportPolicy)
    rotations: dict[str, Rotation] = Field(default_factory=dict)  # on-call rotations, by name
    agents: dict[str, AgentPolicy] = Field(default_factory=dict)  # agents by name, with their owners

    @field_validator("weights")
    @classmethod
    def _weights_make_sense(cls, value: dict[str, float]) -> dict[str, float]:
        return check_weights(value)

    @model_validator(mode="after")
    def _routing_references_exist(self) -> Policy:
        check_references(self)
        return self

    def category(self, name: str) -> Category | None:
        """The category's rules, or None when the policy does not know it."""
        return self.categories.get(name)

    def channel_for(self, name: str) -> str:
        """The Slack channel a category's escalations are posted to."""
        category = self.categories.get(name)
        return (category.channel if category and category.channel else None) or self.channel

    def approvals_needed(self, name: str) -> int:
        """How many distinct reviewers must approve a category's action (1 for a category the policy lacks)."""
        category = self.categories.get(name)
        return category.approvals if category else 1

    def weights_for(self, name: str) -> dict[str, float]:
        """The soft-signal weights of a category: its own, or the policy's."""
        category = self.categories.get(name)
        return category.weights if category and category.weights is not None else self.weights

    def digest_for(self, name: str) -> DigestRule | None:
        """The digest window of a category's review-after messages, or None for one message per action."""
        category = self.categories.get(name)
        rule = category.digest if category else DigestRule()
        return rule or None

    def standing_for(self, name: str) -> StandingApprovals | None:
        """A category's standing approvals, or None when they are off (the default, and any unknown category)."""
        category = self.categories.get(name)
        return category.standing_approvals if category else None

    def audit_rate_for(self, name: str) -> float:
        """The share of a category's unreviewed actions sampled for an audit review."""
        category = self.categories.get(name)
        rate = category.audit_rate if category else None
        return self.audit_rate if rate is None else rate

    def reject_reasons_for(self, name: str) -> list[str]:
        """The canned reasons a category's Reject modal offers: its own list, or the top-level one."""
        category = self.categories.get(name)
        own = category.reject_reasons if category else None
        return self.reject_reasons if own is None else own

    def graduation_for(self, name: str) -> GraduationPolicy:
        """A category's graduation rules: the top-level `graduation`, with the category's own keys on top."""
        category = self.categories.get(name)
        own = category.graduation if category else None
        if own is None:
            return self.graduation
        return self.graduation.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})


def parse_policy(text: str, *, source: str = "policy.yaml") -> Policy:
    """Parse and validate policy YAML; raises PolicyError naming the key and what to do."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{source}: not valid YAML{where}: fix the syntax") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: expected a mapping with a top-level 'categories:' key")
    raw.pop("version", None)
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_explain(source, exc, text)) from exc
    return policy.model_copy(update={"version": policy_version(raw)})


def policy_notes(text: str, policy: Policy) -> list[str]:
    """What a policy leaves to defaults that its author may not expect, one line each."""
    raw = yaml.safe_load(text) or {}
    categories = raw.get("categories") or {}
    notes = []
    for name, category in policy.categories.items():
        written = categories.get(name) or {}
        if category.level is Level.ON_UNCERTAINTY and "threshold" not in written:
            notes.append(
                f"categories.{name}: on_uncertainty without a threshold; the default {category.threshold:g} applies"
            )
    return notes


def _explain(source: str, error: ValidationError, text: str) -> str:
    """The validation error in one line, with the line number, the nearest key for a typo, or the choices."""
    parts = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        line = _line_of(text, loc)
        parts.append(f"{'.'.join(loc) or '(top level)'}: {_message(item)}" + (f" (line {line})" if line else ""))
    return f"{source}: " + "; ".join(parts)


def _message(item: Any) -> str:
    loc, kind, message = item["loc"], item["type"], str(item["msg"])
    message = message[:1].lower() + message[1:] if message[:1].isupper() else message
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        nearest = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean `{nearest[0]}`?" if nearest else f"expected one of {', '.join(sorted(known))}"
        return f"{message}; {hint}"
    if kind == "missing" and str(loc[-1]) == "level":
        return f"{message}; choose one of {', '.join(level.value for level in Level)}"
    return message


def _fields_at(loc: Any) -> list[str]:
    """The keys allowed at a path of the policy (`categories.<name>` is a Category)."""
    model: type[BaseModel] | None = Policy
    parts = [str(part) for part in loc]
    while parts and model is not None:
        part = parts.pop(0)
        if model is Policy and part == "categories" and parts:
            parts.pop(0)
            model = Category
            continue
        field = model.model_fields.get(part)
        model = _model_in(getattr(field, "annotation", None))
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, also when it may be None or False (`StandingApprovals | None`)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _line_of(text: str, loc: list[str]) -> int | None:
    """The 1-based line of the key at `loc` in the YAML text (the deepest one found)."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
        if match is None:
            break
        line = match[0].start_mark.line + 1
        node = match[1]
    return line


def policy_version(raw: dict[str, Any]) -> str:
    """A short content hash: two policies with the same rules have the same version."""
    canonical = json.dumps(raw, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:12]
