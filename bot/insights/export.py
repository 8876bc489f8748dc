"""`handoff export`: the ledger given back as JSONL datasets (raw, eval, sft, preference); see docs/datasets.md.

Each record is built from one proposal's row (proposal, assessment, decision, execution, flag, card),
then redacted: configured `export.redact_fields` plus built-in secret patterns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.store import queries
from bot.store.ledger import Ledger
from bot.store.rows import ExportRow
from scoring.diff import action_diff
from scoring.labels import is_human_decision, judge
from scoring.models import Action
from scoring.policy import Policy
from scoring.redact import redact

DATASETS = ("raw", "eval", "sft", "preference")


class ExportError(ValueError):
    """An export request that cannot be served; the message says which option and what to pass."""


def parse_moment(text: str, *, option: str, end: bool = False) -> datetime:
    """A `--since`/`--until` value: a date (an `--until` date includes that whole day) or an ISO datetime."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1 if end else 0)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ExportError(f"{option} is {text!r}; expected a date like 2025-01-31 or an ISO-8601 datetime") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def export_records(
    ledger: Ledger,
    policy: Policy,
    *,
    dataset: str = "raw",
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The records of one dataset, oldest first, redacted."""
    if dataset not in BUILDERS:
        raise ExportError(f"--dataset is {dataset!r}; expected one of {', '.join(DATASETS)}")
    build = BUILDERS[dataset]
    start = (since or datetime.min.replace(tzinfo=UTC)).isoformat(timespec="milliseconds")
    end = (until or datetime(9999, 1, 1, tzinfo=UTC)).isoformat(timespec="milliseconds")
    for row in queries.export_rows(ledger, category=category, since=start, until=end):
        record = build(ledger, row)
        if record is not None:
            yield redact(record, policy.export.redact_fields)


def label(row: ExportRow) -> tuple[str, str] | None:
    """(`ok`/`bad`, where the label came from) for a proposal someone judged, else None (see `scoring.labels`)."""
    decision, assessment = row.decision or {}, row.assessment or {}
    judged = judge(
        outcome=decision.get("outcome"),
        reviewer=decision.get("reviewer"),
        route=assessment.get("route"),
        audit=bool(assessment.get("audit")),
        flagged=row.flagger is not None,
        confirmed=row.confirm_source,
    )
    return (judged.label, judged.source) if judged else None


def raw_record(ledger: Ledger, row: ExportRow) -> dict[str, Any]:
    """Everything the ledger knows about one proposal, with the diff and time to decision."""
    proposal, assessment, decision = row.proposal, row.assessment, row.decision
    steps = queries.escalation_path(ledger, row.id)
    return {
        "proposal_id": row.id,
        "category": row.category,
        "stored_at": row.stored_at,
        "proposal": proposal,
        "assessment": assessment,
        "route": assessment["route"] if assessment else None,
        "policy_version": assessment["policy_version"] if assessment else None,
        "card_posted_at": row.card_posted_at,
        "escalation_path": [step._asdict() for step in steps],
        "decision": decision,
        "diff": _diff(proposal, decision),
        "time_to_decision_s": _wait(row),
        "execution": {"status": row.execution_status, "detail": row.execution_detail, "at": row.executed_at}
        if row.execution_status
        else None,
        "flag": {"flagger": row.flagger, "reason": row.flag_reason, "at": row.flagged_at} if row.flagger else None,
        "confirmation": {"reviewer": row.confirmer, "source": row.confirm_source, "at": row.confirmed_at}
        if row.confirmer
        else None,
        "label": (label(row) or (None, None))[0],
    }


def eval_record(ledger: Ledger, row: ExportRow) -> dict[str, Any] | None:
    """An eval example: input, proposed action, the human label (ok/bad) and where it came from."""
    judged = label(row)
    if judged is None:
        return None
    decision, assessment = row.decision or {}, row.assessment or {}
    return {
        **_base(row),
        "proposed_action": row.proposal["action"],
        "label": judged[0],
        "label_source": judged[1],
        "reason": row.flag_reason if row.flagger else decision.get("comment", ""),
        "score": assessment.get("score"),
        "policy_version": assessment.get("policy_version"),
    }


def sft_record(ledger: Ledger, row: ExportRow) -> dict[str, Any] | None:
    """A supervised pair: input → the action a human finally approved (proposed, edited or chosen)."""
    decision = row.decision or {}
    if not is_human_decision(decision.get("outcome"), decision.get("reviewer")) or row.flagger:
        return None
    if decision.get("outcome") not in ("approve", "edit", "alternative") or decision.get("action") is None:
        return None
    return {**_base(row), "action": decision["action"], "outcome": decision["outcome"]}


def preference_record(ledger: Ledger, row: ExportRow) -> dict[str, Any] | None:
    """A preference pair: the action the reviewer chose over the one proposed (edit or alternative)."""
    decision = row.decision or {}
    if decision.get("outcome") not in ("edit", "alternative") or decision.get("action") is None:
        return None
    return {
        **_base(row),
        "chosen": decision["action"],
        "rejected": row.proposal["action"],
        "outcome": decision["outcome"],
        "diff": _diff(row.proposal, decision),
        "reason": decision.get("comment", ""),
    }


BUILDERS: dict[str, Callable[[Ledger, ExportRow], dict[str, Any] | None]] = {
    "raw": raw_record,
    "eval": eval_record,
    "sft": sft_record,
    "preference": preference_record,
}


def _base(row: ExportRow) -> dict[str, Any]:
    proposal = row.proposal
    return {
        "id": row.id,
        "category": row.category,
        "input": proposal.get("input", {}),
        "summary": proposal.get("summary", ""),
    }


def _diff(proposal: dict[str, Any], decision: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not decision or decision.get("outcome") not in ("approve", "edit", "alternative", "auto"):
        return None
    final = Action.model_validate(decision["action"]) if decision.get("action") else None
    return [c.as_dict() for c in action_diff(Action.model_validate(proposal["action"]), final)]


def _wait(row: ExportRow) -> float | None:
    decided = (row.decision or {}).get("decided_at")
    start = row.card_posted_at or row.stored_at
    if not decided or not start:
        return None
    return round((datetime.fromisoformat(decided) - datetime.fromisoformat(start)).total_seconds(), 3)
