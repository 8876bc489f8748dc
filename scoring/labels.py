"""What counts as a labelled review and as an override: the one definition graduation, the report,
metrics, replay and export share (the ledger's SQL is derived from these constants and tested against
`judge`).

A person's decision other than a timeout is a label: an approval says "ok", an edit, rejection,
alternative or redirect says "bad" (an override). An action that ran before anyone looked (review_after,
or the audit sample) is labelled only when a person answered: "ok" when they said it looks right (the
confirmation's source, e.g. `looks_right`), "bad" when they flagged it. Silence is no label.

A standing approval (reviewer `standing:<rule id>`) is not a person looking: the action it allowed ran
unreviewed, like a review_after action, and is labelled only by a later flag or confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.models import Outcome, Route, is_policy_reviewer, is_standing_reviewer

OVERRIDE_OUTCOMES = (Outcome.EDIT, Outcome.REJECT, Outcome.ALTERNATIVE, Outcome.REDIRECT)
NOT_A_LABEL = Outcome.TIMEOUT  # nobody decided: never a label, never an override
LOOKED_AT_LATER = Route.REVIEW_AFTER  # with the audit sample: labelled once a person answers


@dataclass(frozen=True)
class Judgement:
    """A label (`ok` or `bad`) and where it came from (`approve`, `edit`, ..., `flag`, `looks_right`)."""

    label: str
    source: str

    @property
    def is_override(self) -> bool:
        """True when a person changed or flagged the action."""
        return self.label == "bad"


def is_human_decision(outcome: str | None, reviewer: str | None) -> bool:
    """A decision a person took (not the policy, not a timer), so it says something about the action."""
    by = reviewer or ""
    automatic = is_policy_reviewer(by) or is_standing_reviewer(by)
    return outcome is not None and outcome != NOT_A_LABEL.value and not automatic


def judge(
    *,
    outcome: str | None,
    reviewer: str | None,
    route: str | None,
    audit: bool,
    flagged: bool,
    confirmed: str | None = None,
) -> Judgement | None:
    """The label one proposal carries, or None when nobody judged it (pending, timed out, unaudited auto,
    or run before review and unanswered). `confirmed` is the source of a "looks right", if one was given."""
    if flagged:
        return Judgement("bad", "flag")
    if is_human_decision(outcome, reviewer):
        assert outcome is not None
        overridden = outcome in {o.value for o in OVERRIDE_OUTCOMES}
        return Judgement("bad" if overridden else "ok", outcome)
    if confirmed and (route == LOOKED_AT_LATER.value or audit or is_standing_reviewer(reviewer or "")):
        return Judgement("ok", confirmed)
    return None
