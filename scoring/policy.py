"""The policy: which categories exist, how much autonomy each has, and who reviews them.

`parse_policy` turns YAML text into a validated `Policy`; every mistake is reported with the
key's path and what is expected, so a typo never silently loosens review.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from scoring.models import Strict, describe_validation_error


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


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the key and the fix."""


class Category(Strict):
    """One kind of action and the rules for reviewing it."""

    level: Level
    description: str = ""
    threshold: float = Field(default=0.8, ge=0, le=1)
    required_args: list[str] = Field(default_factory=list)
    channel: str | None = None
    reviewers: list[str] = Field(default_factory=list)
    never_graduate: bool = False

    @model_validator(mode="after")
    def _never_graduate_stays_strict(self) -> Category:
        if self.never_graduate and self.level != Level.APPROVE_BEFORE:
            raise ValueError(
                f"level is {self.level.value} but never_graduate is set; "
                "never_graduate categories must stay at approve_before"
            )
        return self


class Policy(Strict):
    """The whole policy file."""

    channel: str = Field(default="#handoff-reviews", min_length=1)
    categories: dict[str, Category] = Field(min_length=1)
    version: str = ""

    def category(self, name: str) -> Category | None:
        """The category's rules, or None when the policy does not know it."""
        return self.categories.get(name)

    def channel_for(self, name: str) -> str:
        """The Slack channel a category's escalations are posted to."""
        category = self.categories.get(name)
        return (category.channel if category and category.channel else None) or self.channel


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
        raise PolicyError(describe_validation_error(source, exc)) from exc
    return policy.model_copy(update={"version": policy_version(raw)})


def policy_version(raw: dict[str, Any]) -> str:
    """A short content hash: two policies with the same rules have the same version."""
    canonical = json.dumps(raw, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:12]
