"""Proposals and assessments for surface tests: ordinary, extreme and hostile."""

from __future__ import annotations

from typing import Any

from scoring.models import Assessment, Proposal, Route, Signal, SignalKind

EMAIL: dict[str, Any] = {
    "id": "p-email",
    "category": "customer_email",
    "agent": "retention-bot",
    "action": {
        "name": "send_email",
        "args": {"to": "jane@example.com", "subject": "We miss you", "body": "Hi Jane,\n\n40% off a year of Pro."},
    },
    "summary": "Send Jane a 40% win-back discount",
    "input": {
        "request": "Jane churned last week over price; win her back.",
        "context": [
            {"source": "crm://accounts/ACME-1042", "text": "Plan: Pro, 4 years, churned 2026-11-17, reason: price"},
            {"source": "wiki://discount-policy", "text": "Retention offers above 25% need a manager's approval."},
        ],
        "conversation": [{"role": "customer", "text": "Cancelling, too expensive."}],
    },
    "rationale": ["She churned over price", "Four-year customer"],
    "alternatives": [
        {
            "summary": "Offer 20% (within policy) instead",
            "action": {"name": "send_email", "args": {"to": "jane@example.com", "subject": "20% off", "body": "Hi"}},
        }
    ],
}
CRM: dict[str, Any] = {
    "id": "p-crm",
    "category": "update_crm_record",
    "agent": "ops-bot",
    "action": {
        "name": "update_record",
        "args": {
            "record_id": "ACME-1",
            "field": "amount",
            "value": 100,
            "close_date": "2026-12-01",
            "meta": {"tags": ["q4"], "weight": 1.5},
            "notify": True,
        },
    },
    "summary": "Set the Acme deal's amount to 100",
    "input": {"request": "Acme signed for 100 seats."},
}
INJECTION = "<!channel> @here <@U0BOSS> <https://evil.example|click me> `tick` ```fence``` *bold* & done"


def proposal(data: dict[str, Any], **changes: Any) -> Proposal:
    return Proposal.model_validate({**data, **changes})


def assessment(pid: str = "p-email", **changes: Any) -> Assessment:
    signals = [
        Signal(
            name="ensemble", kind=SignalKind.SOFT, value=0.4, weight=0.4, reason="2 of 3 variants disagree", fired=True
        ),
        Signal(name="critique", kind=SignalKind.SOFT, value=0.9, weight=0.35, reason="looks fine"),
    ]
    fields: dict[str, Any] = {
        "proposal_id": pid,
        "score": 0.62,
        "route": Route.ESCALATE,
        "signals": signals,
        "level": "on_uncertainty",
        "threshold": 0.85,
        "policy_version": "abc123def456",
    }
    return Assessment.model_validate(fields | changes)


def huge(
    data: dict[str, Any], *, chars: int = 50_000, filler: str = "Lorem ipsum & <dolor> `sit` amet. "
) -> dict[str, Any]:
    """`data` with a context item of `chars` characters (escaping-heavy by default)."""
    text = (filler * (chars // len(filler) + 1))[:chars]
    context = [{"source": "s3://dumps/huge.txt", "text": text}, *data["input"].get("context", [])]
    return {**data, "input": {**data["input"], "context": context}}


def many_args(count: int = 200) -> dict[str, Any]:
    return {f"arg_{n:03d}": (n if n % 3 == 0 else f"value {n}") for n in range(count)}


def nested(depth: int = 50) -> dict[str, Any]:
    value: Any = "bottom"
    for level in range(depth):
        value = {f"level{level}": value, "list": [level, {"x": level}]}
    return {"tree": value}
