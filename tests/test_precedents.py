"""Precedents on the card: how the category's similar past proposals went, the three most similar in a
modal, the match score that decides "similar", and the index that keeps the lookup off the ledger's size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.client import Client
from bot.review.assignment import update_card
from bot.review.decide import decide, make_decision
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_checks import check_blocks, check_view
from bot.slack.surfaces import blocks, cards, similar_cases
from bot.store import precedents as store
from bot.store import standing
from bot.store.ledger import Ledger
from bot.store.migrations import MIGRATIONS
from scoring.models import Action, Decision, Outcome
from scoring.precedents import (
    ENTITIES,
    SIMILAR_AT,
    PastCase,
    Precedent,
    Precedents,
    features,
    field_match,
    match_score,
    normalize,
)
from tests.conftest import wait_until, work
from tests.factories import EMAIL, INJECTION, assessment, proposal
from tests.ledger_backends import rewind_schema, uses_index_without_sort

ALICE, BOB = "U0ALICE", "U0BOB"


def refund(n: int, *, amount: float = 120.0, currency: str = "USD", customer: str = "CUS-1") -> dict[str, Any]:
    """An email-category proposal shaped like a refund note: the customer resolved as an entity."""
    return {
        **EMAIL,
        "id": f"p-{n}",
        "action": {"name": "send_refund_note", "args": {"customer": customer, "amount": amount, "currency": currency}},
        "summary": f"Tell {customer} about a refund of {amount} {currency}",
        "entities": [{"reference": "the customer", "matches": [customer]}],
        "alternatives": [],
    }


def submit(runtime: Runtime, data: dict[str, Any]) -> str:
    pid = Client(runtime.redis, policy=runtime.policy).submit(data)
    work(runtime)
    return pid


def decide_as(runtime: Runtime, pid: str, outcome: Outcome, *, action: Action | None = None, comment: str = "") -> None:
    """Decide through the shared exactly-once path, as reviewer Bob."""
    original = runtime.ledger.proposal(pid)
    assert original is not None
    chosen = action if action is not None else (original.action if outcome is not Outcome.REJECT else None)
    decided = decide(runtime, make_decision(runtime, pid, outcome, reviewer=BOB, action=chosen, comment=comment))
    assert decided.won
    work(runtime)


def card_of(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    return slack.wait_for(
        lambda s: next((m for m in s.messages() if f"review:{pid}:" in json.dumps(m["blocks"])), None), timeout=5
    )


def precedent_text(card: dict[str, Any]) -> str:
    return next(b["text"]["text"] for b in card["blocks"] if str(b.get("block_id", "")).startswith("prec:"))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (120.0, 120.0, 1.0),
        (120.0, 100.0, 1 - 20 / 120),
        (10.0, -10.0, 0.0),
        ("usd", "usd", 1.0),
        ("usd", "eur", 0.0),
        ("hi jane " * 10, "hi jane " * 10 + "today", 2 / 3),
        (["cus-1"], ["cus-1", "cus-2"], 0.5),
        ([], [], 1.0),
        (None, None, 1.0),
        (None, "x", 0.0),
        ("120", 120.0, 0.0),
    ],
)
def test_field_match_compares_numbers_by_distance_short_text_exactly_and_long_text_by_words(
    a: Any, b: Any, expected: float
) -> None:
    """Each kind of value agrees by its own rule (docs/precedents.md)."""
    assert field_match(a, b) == pytest.approx(expected)


def test_features_leave_arguments_that_name_a_resolved_entity_to_the_entities_field() -> None:
    """A customer given both as an entity and as an argument counts once, under the entities."""
    found = features(proposal(refund(1, customer="CUS-9")))
    assert found == {"amount": 120.0, "currency": "usd", ENTITIES: ["cus-9"]}


values = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(-1e9, 1e9), st.text(max_size=80))
feature_maps = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values.map(normalize), max_size=4)


@given(feature_maps, feature_maps)
def test_match_score_is_a_symmetric_share_in_zero_to_one_and_one_for_itself(a: Any, b: Any) -> None:
    """Whatever the values: 0 ≤ score ≤ 1, the same both ways, and a proposal matches itself fully."""
    score = match_score(a, b)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(match_score(b, a))
    assert match_score(a, a) == 1.0


def test_a_card_says_how_similar_past_proposals_went_and_the_modal_shows_the_three_most_similar(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Four similar refunds decided (two approved, one edited 120 → 100, one rejected with a hostile reason) and
    one unlike them: the next card counts the four, says the edit and the reason escaped, and "Similar cases"
    opens a modal with the three most similar."""
    approved = [submit(runtime, refund(n)) for n in (1, 2)]
    edited, rejected = submit(runtime, refund(3)), submit(runtime, refund(4, customer="CUS-2"))
    unlike = submit(runtime, refund(5, amount=9000.0, currency="JPY", customer="CUS-7"))
    for pid in [*approved, unlike]:
        decide_as(runtime, pid, Outcome.APPROVE)
    smaller = Action(name="send_refund_note", args={"customer": "CUS-1", "amount": 100, "currency": "USD"})
    decide_as(runtime, edited, Outcome.EDIT, action=smaller)
    decide_as(runtime, rejected, Outcome.REJECT, comment=f"wrong customer {INJECTION}")

    pid = submit(runtime, refund(6))
    line = precedent_text(card_of(slack, pid))
    assert line.startswith(":books: *Precedents:* 4 similar (of 5 decided `send_refund_note`): ")
    assert "2 approved, 1 edited (`amount` 120.0 → 100), 1 rejected — 'wrong customer &lt;!channel&gt;" in line
    assert "<!channel>" not in line
    assert "<@U0BOSS>" not in line
    assert check_blocks(card_of(slack, pid)["blocks"]) == []

    seen = len(slack.views())
    assert reviewer.click(card_of(slack, pid), blocks.PRECEDENTS, user=ALICE).status == 200
    modal = slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)[
        "view"
    ]  # checked by views.open
    cases = [b["text"]["text"] for b in modal["blocks"] if b["type"] == "section"]
    assert len(cases) == 3
    assert {case.split("`")[1] for case in cases} == {*approved, edited}, "the identical ones rank first"
    assert unlike not in json.dumps(modal)


def test_policy_and_standing_rule_decisions_are_no_precedents(runtime: Runtime) -> None:
    """Only a person's judgement counts: a decision by policy or by a standing rule is not listed."""
    pids = [submit(runtime, refund(n)) for n in (1, 2, 3)]
    now = datetime.now(UTC)
    rule, _ = standing.create(  # a standing rule that exists: decide refuses one the ledger does not hold
        runtime.ledger,
        source_proposal_id=pids[0],
        scope=("customer_email", "support-bot", "send_refund_note"),
        fields={},
        author=BOB,
        expires_at=(now + timedelta(hours=1)).isoformat(timespec="milliseconds"),
        max_active=50,
        now=now.isoformat(timespec="milliseconds"),
    )
    assert rule is not None
    for pid, reviewer_id in zip(pids, ["policy:timeout", f"standing:{rule.id}", BOB], strict=True):
        original = runtime.ledger.proposal(pid)
        assert original is not None
        outcome = Outcome.TIMEOUT if reviewer_id.startswith("policy") else Outcome.APPROVE
        decision = make_decision(runtime, pid, outcome, reviewer=reviewer_id, action=original.action)
        assert decide(runtime, decision).won
    cases = store.recent_cases(runtime.ledger, category="customer_email", action="send_refund_note")
    assert [(c.proposal_id, c.reviewer) for c in cases] == [(pids[2], BOB)]


def test_the_migration_lists_the_decisions_a_ledger_already_held(ledger_target: str) -> None:
    """A ledger from before precedents gets its people's decisions listed when it is opened again."""
    path = ledger_target
    ledger = Ledger(path)
    for n, reviewer_id in ((1, BOB), (2, "policy:auto")):
        pid = f"p-{n}"
        ledger.record_proposal(pid, proposal(refund(n)), submitted_at="2026-11-24T10:00:00+00:00")
        ledger.record_assessment(assessment(pid))
        outcome = Outcome.APPROVE if reviewer_id == BOB else Outcome.AUTO
        ledger.record_decision(
            Decision(proposal_id=pid, outcome=outcome, action=None, reviewer=reviewer_id, decided_at="2026-11-24T10:01")
        )
    ledger.db.execute("DROP TABLE precedents")
    before = [step.__name__ for step in MIGRATIONS].index("_precedent_table")  # the version before precedents
    rewind_schema(ledger, to=before)
    ledger.close()
    reopened = Ledger(path)
    try:
        cases = store.recent_cases(reopened, category="customer_email", action="send_refund_note")
        assert [c.proposal_id for c in cases] == ["p-1"]
        assert cases[0].features[ENTITIES] == ["cus-1"]
    finally:
        reopened.close()


def test_the_lookup_reads_the_newest_window_through_the_index(runtime: Runtime) -> None:
    """The card's query walks the (category, action, decided_at) index: its cost does not grow with the ledger."""
    indexed, plan = uses_index_without_sort(
        runtime.ledger,
        "SELECT proposal_id FROM precedents WHERE category = ? AND action = ? ORDER BY decided_at DESC LIMIT ?",
        ["customer_email", "send_email", store.WINDOW],
        "precedents_by_action",
    )
    assert indexed, plan


def hostile_precedents(count: int) -> Precedents:
    """Precedents whose every text came from agents or reviewers and is as long and hostile as allowed."""
    big = INJECTION * 20
    case = PastCase(
        proposal_id="p-" + "x" * 60,
        outcome="reject",
        reviewer="U0BOB",
        decided_at="2026-11-24T10:00:00+00:00",
        features={f"{INJECTION}{n}": normalize(big) for n in range(30)} | {ENTITIES: [big[:100]] * 20},
        changes=[(big[:100], big[:100], big[:100])] * 3,
        reason=big[:200],
    )
    top = [Precedent(case, 0.9)] * min(count, 3)
    outcomes = {"approve": count, "edit": count, "reject": count, "redirect": count, "alternative": count}
    return Precedents(count, 300, True, outcomes, case.changes[0], {"reject": big, "redirect": big}, top)


@pytest.mark.parametrize("count", [0, 1, 300])
def test_card_and_modal_stay_within_slack_limits_and_render_no_markup_from_precedents(count: int) -> None:
    """Hostile reasons, argument names and values: the card and the modal pass Slack's checks, no mention leaks."""
    found = hostile_precedents(count)
    card = cards.review_card("p", proposal(EMAIL), assessment("p"), facts=cards.CardFacts(precedents=found))
    modal = similar_cases.similar_cases_modal("p", found, action=INJECTION)
    assert check_blocks(card) == []
    assert check_view(modal) == []
    for surface in (card, modal):
        text = json.dumps(surface)
        assert "<!channel>" not in text
        assert "<@U0BOSS>" not in text
        assert "<https://evil" not in text


def test_similar_means_at_least_half_of_the_fields_agree() -> None:
    """The threshold the docs state is the one the code applies."""
    assert SIMILAR_AT == 0.5
    new = features(proposal(refund(1)))
    assert match_score(new, features(proposal(refund(2, amount=100.0)))) >= SIMILAR_AT
    assert match_score(new, features(proposal(refund(3, amount=9000.0, currency="JPY", customer="CUS-7")))) < SIMILAR_AT


def test_a_card_redraw_keeps_its_precedents(runtime: Runtime, slack: SlackStandIn) -> None:
    """The precedents line is part of the card's facts, so a redraw (quorum, reminder) shows it again."""
    decide_as(runtime, submit(runtime, refund(1)), Outcome.APPROVE)
    pid = submit(runtime, refund(2))
    assert update_card(runtime, pid)
    wait_until(lambda: "1 similar" in precedent_text(card_of(slack, pid)), what="the redrawn card's precedents")
