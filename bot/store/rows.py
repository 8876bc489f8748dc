"""Typed rows the store returns, so callers read fields by name instead of tuples by index."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from scoring.models import Assessment, Proposal


@dataclass(frozen=True)
class Submission:
    """A proposal as an agent submitted it, held in Redis until phase one records it in the ledger."""

    proposal: Proposal
    submitted_at: str

    def to_json(self) -> str:
        """The stored form: `{"proposal": {...}, "submitted_at": "..."}`."""
        return json.dumps({"proposal": self.proposal.model_dump(mode="json"), "submitted_at": self.submitted_at})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Submission:
        """A submission read back from its stored form."""
        data = json.loads(raw)
        return cls(Proposal.model_validate(data["proposal"]), str(data["submitted_at"]))


class MessageRef(NamedTuple):
    """A Slack message the ledger points at: a review card, a review-after message, a promotion card."""

    channel: str
    ts: str


class TimerRow(NamedTuple):
    """One step of a review's escalation chain as the ledger keeps it."""

    generation: int
    step: str
    due_at: str
    assignee: str
    state: str


class ScheduledTimer(NamedTuple):
    """A step still to fire on an undecided review."""

    proposal_id: str
    generation: int
    step: str
    due_at: str


class Flag(NamedTuple):
    """Who flagged an action that ran unreviewed, and when."""

    flagger: str
    flagged_at: str


class EscalationStep(NamedTuple):
    """One entry of a review's escalation path: asked, reminded, escalated, held, expired."""

    kind: str
    target: str
    detail: str
    at: str


@dataclass(frozen=True)
class PolicyEvent:
    """A promotion or demotion: proposed, applied or declined, and the card that proposed it."""

    seq: int
    category: str
    from_level: str
    to_level: str
    reason: str
    status: str
    decided_by: str | None
    card: MessageRef | None


class AppliedLevel(NamedTuple):
    """The level the latest applied promotion or demotion of a category set, and when it was decided."""

    to_level: str
    decided_at: str


class LabelCounts(NamedTuple):
    """A category's labelled reviews, overrides and days with labelled reviews since a moment, and the
    actions that ran before review that nobody answered."""

    samples: int
    overrides: int
    active_days: int
    unreviewed: int


class DayCount(NamedTuple):
    """One day's labelled reviews (of actions that ran before review) and how many were overrides."""

    day: str
    reviews: int
    overrides: int


class SizeHistogram(NamedTuple):
    """Proposal sizes per bucket, in a reference window and in the recent one."""

    reference: dict[str, int]
    recent: dict[str, int]


@dataclass(frozen=True)
class CategoryCounts:
    """The report's per-category counts (zero for a category with no proposals yet)."""

    volume: int = 0
    escalated: int = 0
    auto: int = 0
    review_after: int = 0
    unseen: int = 0
    audited: int = 0
    pending: int = 0
    labelled: int = 0
    ran_before_review: int = 0
    unreviewed: int = 0
    overrides: int = 0
    flags: int = 0
    llm_calls: int = 0
    cost_usd: float = 0.0

    def counts(self) -> dict[str, int]:
        """Every integer count by name (cost aside)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cost_usd"}


class CategoryTotals(NamedTuple):
    """The metrics' per-category counters since the ledger began."""

    category: str
    escalations: int
    overrides: int
    flags: int
    llm_calls: int
    llm_tokens: int
    llm_cost_usd: float


class WaitBuckets(NamedTuple):
    """Escalated decisions of a category by time to decide: how many took at most each bucket's seconds."""

    category: str
    at_most: tuple[int, ...]
    decided: int
    total_seconds: float


class PendingFacts(NamedTuple):
    """What a reconcile pass checks about one pending review: its stored body, whether it has a card and
    whether its escalation chain was started."""

    body: str
    carded: bool
    chained: bool


class ReplayRow(NamedTuple):
    """A stored assessment and whether a person overrode it."""

    category: str
    assessment: Assessment
    overridden: bool


class TuneAction(NamedTuple):
    """An action `tune` weighs: its score, whether a person labelled it (and said bad), whether a hard
    signal fired, and its route."""

    score: float
    labelled: bool
    bad: bool
    hard: bool
    route: str


@dataclass(frozen=True)
class ExportRow:
    """Everything the ledger holds about one proposal, for the export datasets (JSON bodies parsed)."""

    id: str
    category: str
    stored_at: str
    proposal: dict[str, Any]
    assessment: dict[str, Any] | None
    decision: dict[str, Any] | None
    execution_status: str | None
    execution_detail: str | None
    executed_at: str | None
    flagger: str | None
    flag_reason: str | None
    flagged_at: str | None
    card_posted_at: str | None
    confirmer: str | None = None
    confirm_source: str | None = None
    confirmed_at: str | None = None


class Agent(NamedTuple):
    """An agent of the HTTP API: its name, owner, the hash of its token and its webhook, if any."""

    name: str
    owner: str | None
    key_id: str
    token_hash: str
    webhook_url: str | None
    webhook_secret: str | None
    created_at: str
    revoked_at: str | None


class WebhookDelivery(NamedTuple):
    """One attempt to deliver a decision to an agent's webhook, and how it went."""

    delivery_id: str
    proposal_id: str
    agent: str
    attempt: int
    status_code: int | None
    outcome: str
    detail: str
    at: str


@dataclass(frozen=True)
class StandingRule:
    """One standing approval as stored; `fields` maps each argument name to the exact value it allows."""

    id: int
    category: str
    agent: str
    action: str
    fields: dict[str, Any]
    author: str
    source_proposal_id: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None

    def allows(self, args: dict[str, Any]) -> bool:
        """Whether every field of the rule has exactly its value in `args` (types included: 1 is not 1.0)."""
        return all(name in args and canonical(args[name]) == canonical(value) for name, value in self.fields.items())


def canonical(value: Any) -> str:
    """A value as compared: JSON with sorted keys, so equal values compare equal and 1 differs from "1"."""
    return json.dumps(value, sort_keys=True, default=str)


class Digest(NamedTuple):
    """A digest message of actions that ran before review: where it is and how far it is drawn."""

    id: int
    channel: str
    category: str
    opened_at: str
    closes_at: str
    ts: str | None
    rendered: int
    looked_by: str | None
    looked_at: str | None
    posted_channel: str | None = None  # the channel id Slack answered the first post with


class DigestItem(NamedTuple):
    """One action listed in a digest, with the answer a person gave it, if any."""

    proposal_id: str
    position: int
    agent: str
    summary: str
    action_name: str
    flagger: str | None
    confirmed_by: str | None
    confirm_source: str | None
    decided_by: str | None = None  # `standing:<id>` when a standing approval allowed it
