"""The HTTP API's request and response bodies; `/openapi.json` is generated from these and scoring's models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scoring.models import Decision, Route

REPORT_DETAIL_MAX = 4000


class Accepted(BaseModel):
    """A proposal taken in (202), or the same proposal submitted again (200)."""

    id: str
    status: Literal["pending"] = "pending"


class Pending(BaseModel):
    """No decision yet. Pending is never an approval."""

    status: Literal["pending"] = "pending"


class ProposalStatus(BaseModel):
    """Where a proposal stands: its route and score once assessed, its decision once decided."""

    id: str
    status: Literal["pending", "decided", "executed"]
    route: Route | None = None
    score: float | None = None
    decision: Decision | None = None


class ExecutionReport(BaseModel):
    """How the agent's run of the decided action went."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    detail: str = Field(default="", max_length=REPORT_DETAIL_MAX)


class ExecutionAccepted(BaseModel):
    """The report is recorded (once: a repeat is a no-op)."""

    id: str
    status: Literal["accepted"] = "accepted"


class FieldError(BaseModel):
    """One bad field of a request, by its path (`action.name`, `alternatives.0.summary`)."""

    path: str
    message: str


class Error(BaseModel):
    """Every error: what is wrong and what to do; bad fields by path; the known categories for an unknown one."""

    error: str
    fields: list[FieldError] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
