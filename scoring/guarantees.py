"""The graduation part of the policy: the guarantees a team states, and the settings derived from them.

`scoring.graduation` turns these into a sequential test for promotion and a change detector for
demotion; docs/graduation.md explains each key.
"""

from __future__ import annotations

from typing import Any, NoReturn

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from scoring.models import Strict


def _refuse(message: str) -> NoReturn:
    raise PydanticCustomError("policy", message.replace("{", "{{").replace("}", "}}"))


# Graduation keys of earlier versions: renamed ones keep working, ones whose meaning changed are refused.
RENAMED_GRADUATION_KEYS = {"alternative_rate": "good_rate", "min_days": "min_active_days"}
REPLACED_GRADUATION_KEYS = {
    "target_override_rate": "set bad_rate instead (the override rate that must not graduate, e.g. 0.02) and, "
    "if you need it, tolerated_rate (the rate a graduated category may keep without being demoted); "
    "see docs/graduation.md",
    "demote_window_days": "demotion is a change detector now; remove it and set false_demotion and "
    "false_demotion_days if the defaults (5% in 120 days) do not suit you",
}


class GraduationPolicy(Strict):
    """When a category earns (or loses) a level of autonomy, stated as the guarantees it must keep.

    A category whose override rate is `bad_rate` or worse graduates with chance at most
    `false_graduation`; one at `tolerated_rate` or better is demoted with chance at most
    `false_demotion` within `false_demotion_days`. See docs/graduation.md.
    """

    enabled: bool = True
    bad_rate: float = Field(default=0.02, gt=0, lt=0.5)
    false_graduation: float = Field(default=0.05, gt=0, le=0.5)
    good_rate: float | None = Field(default=None, gt=0, lt=0.5)
    min_samples: int = Field(default=200, ge=1)
    min_active_days: int = Field(default=7, ge=0)
    review_after_samples: int = Field(default=400, ge=0)
    tolerated_rate: float | None = Field(default=None, gt=0, lt=0.5)
    false_demotion: float = Field(default=0.05, gt=0, le=0.5)
    false_demotion_days: int = Field(default=120, ge=1, le=3650)
    audits_per_day: float = Field(default=20.0, ge=0)
    reference_days: int = Field(default=30, ge=1)
    drift_days: int = Field(default=7, ge=1)
    max_drift: float = Field(default=0.25, gt=0)
    drift_min_samples: int = Field(default=30, ge=1)
    auto_apply: bool = False

    @model_validator(mode="before")
    @classmethod
    def _migrate_old_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, advice in REPLACED_GRADUATION_KEYS.items():
            if old in data:
                _refuse(f"{old} is no longer a graduation key: {advice}")
        for old, new in RENAMED_GRADUATION_KEYS.items():
            if old in data:
                if new in data:
                    _refuse(f"{old} and {new} are both set; {old} is the old name of {new}: keep only {new}")
                data[new] = data.pop(old)
        if "confidence" in data:
            if "false_graduation" in data:
                _refuse("confidence and false_graduation are both set; keep only false_graduation (1 - confidence)")
            confidence = data.pop("confidence")
            if not isinstance(confidence, int | float) or not 0.5 <= confidence < 1:
                _refuse(
                    f"confidence is {confidence!r}; expected a number from 0.5 to below 1 (or use false_graduation)"
                )
            data["false_graduation"] = round(1 - confidence, 12)
        return data

    @model_validator(mode="after")
    def _rates_in_order(self) -> GraduationPolicy:
        if self.good_rate is not None and self.good_rate >= self.bad_rate:
            raise ValueError(f"good_rate is {self.good_rate}; expected it below bad_rate ({self.bad_rate})")
        if self.tolerated_rate is not None and self.tolerated_rate >= self.bad_rate:
            raise ValueError(f"tolerated_rate is {self.tolerated_rate}; expected it below bad_rate ({self.bad_rate})")
        return self

    @property
    def good(self) -> float:
        """The override rate the promotion test is quickest for: `good_rate`, or a fifth of `bad_rate`."""
        return self.good_rate if self.good_rate is not None else self.bad_rate / 5

    @property
    def tolerated(self) -> float:
        """The rate a graduated category may keep without being demoted: `tolerated_rate`, or half of `bad_rate`."""
        return self.tolerated_rate if self.tolerated_rate is not None else self.bad_rate / 2

    @property
    def alarm(self) -> float:
        """The rate the demotion detector notices fastest: three times `bad_rate` (at most 0.5)."""
        return min(0.5, 3 * self.bad_rate)
