"""Golden tests of the card, final card, modal and Home JSON; escaping; every id has a listener.

Regenerate the goldens with `HANDOFF_UPDATE_GOLDEN=1 python -m pytest tests/test_cards.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.client import Client
from bot.runtime import Runtime
from bot.sandbox import reviewer_payloads as payloads
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_checks import check_blocks, check_home, check_view
from bot.slack.surfaces import (
    blocks,
    cards,
    digest_card,
    digest_pages,
    edits,
    home,
    modals,
    similar_cases,
    source_material,
)
from bot.store.rows import Digest, DigestItem
from scoring.models import Action, Decision, Outcome
from scoring.policy import parse_policy
from scoring.precedents import PastCase, Precedent, Precedents
from tests.conftest import REPO, work
from tests.factories import CRM, EMAIL, assessment, proposal

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HANDOFF_UPDATE_GOLDEN") == "1"
POLICY = parse_policy((REPO / "policy.yaml").read_text())
DECIDED_AT = "2026-11-24T10:15:30.000+00:00"
POSTED_AT = 1795515210.0  # 2026-11-24T10:13:30Z: two minutes before DECIDED_AT


PAST = PastCase(
    "p-past",
    "edit",
    "U0BOB",
    DECIDED_AT,
    {"to": "jane@example.com", "subject": "we miss you", "amount": 120.0},
    [("amount", "120", "100")],
    "",
)
PRECEDENTS = Precedents(
    14,
    40,
    False,
    {"approve": 12, "edit": 1, "reject": 1},
    ("amount", "120", "100"),
    {"reject": "wrong customer <!here>"},
    [
        Precedent(PAST, 1.0),
        Precedent(PastCase("p-old", "reject", "U0ALICE", DECIDED_AT, {}, [], "wrong *customer*"), 0.5),
    ],
)


def decision(outcome: Outcome, action: Action | None, comment: str = "") -> Decision:
    return Decision(
        proposal_id="p-email",
        outcome=outcome,
        action=action,
        reviewer="U0ALICE",
        comment=comment,
        decided_at=DECIDED_AT,
    )


def _edited() -> Action:
    args = {**EMAIL["action"]["args"], "subject": "We miss you, Jane", "body": "Hi Jane,\n\n20% off a year of Pro."}
    return Action(name="send_email", args=args)


SURFACES: dict[str, Callable[[], Any]] = {
    "card_email": lambda: cards.review_card("p-email", proposal(EMAIL), assessment()),
    "card_refund_irreversible": lambda: cards.review_card(
        "p-refund",
        proposal(EMAIL, category="issue_refund", rationale=[], alternatives=[]),
        assessment("p-refund", level="approve_before", threshold=None, signals=[]),
        facts=cards.CardFacts(irreversible=True, reviewers=("U0FIN", "S0FINANCE"), deadline=DECIDED_AT),
    ),
    "card_precedents": lambda: cards.review_card(
        "p-email", proposal(EMAIL), assessment(), facts=cards.CardFacts(precedents=PRECEDENTS)
    ),
    "modal_similar_cases": lambda: similar_cases.similar_cases_modal("p-email", PRECEDENTS, action="send_email"),
    "final_approve": lambda: cards.final_card(
        "p-email", proposal(EMAIL), decision(Outcome.APPROVE, proposal(EMAIL).action), posted_at=POSTED_AT
    ),
    "final_edit": lambda: cards.final_card(
        "p-email", proposal(EMAIL), decision(Outcome.EDIT, _edited(), "shorter"), posted_at=POSTED_AT
    ),
    "final_alternative": lambda: cards.final_card(
        "p-email",
        proposal(EMAIL),
        decision(Outcome.ALTERNATIVE, proposal(EMAIL).alternatives[0].action, "Offer 20% (within policy) instead"),
    ),
    "final_redirect": lambda: cards.final_card(
        "p-email", proposal(EMAIL), decision(Outcome.REDIRECT, None, "Ask her manager first")
    ),
    "modal_edit_email": lambda: edits.edit_modal(
        "p-email", proposal(EMAIL), POLICY.category("customer_email"), channel="C0REVIEW"
    ),
    "modal_edit_crm": lambda: edits.edit_modal(
        "p-crm", proposal(CRM), POLICY.category("update_crm_record"), channel="C0REVIEW"
    ),
    "modal_reject": lambda: modals.reject_modal(
        "p-email", proposal(EMAIL), reasons=POLICY.reject_reasons_for("customer_email"), channel="C0REVIEW"
    ),
    "modal_alternative": lambda: modals.alternative_modal("p-email", proposal(EMAIL), channel="C0REVIEW"),
    "modal_redirect": lambda: modals.redirect_modal("p-email", proposal(EMAIL), channel="C0REVIEW"),
    "modal_context": lambda: source_material.context_modal("p-email", proposal(EMAIL)),
    "digest": lambda: digest_card.digest_card(
        Digest(7, "C0REVIEW", "tag_ticket", DECIDED_AT, "2026-11-24T10:45:30.000+00:00", "1.1", 3, None, None),
        [
            DigestItem("p-1", 1, "triage-bot", "Tag ticket T-1 as *billing*", "tag", None, None, None),
            DigestItem("p-2", 2, "triage-bot", "Tag ticket T-2 as bug <!channel>", "tag", "U0BOB", None, None),
            DigestItem("p-3", 3, "triage-bot", "Tag ticket T-3 as account", "tag", None, "U0ALICE", "looks_right"),
        ],
    ),
    "modal_digest_last_page": lambda: digest_pages.digest_modal(
        Digest(8, "C0REVIEW", "tag_ticket", DECIDED_AT, "2026-11-24T10:45:30.000+00:00", "1.1", 42, None, None),
        [
            DigestItem(f"p-{n}", n, "triage-bot", f"Tag ticket T-{n} as billing", "tag", None, None, None)
            for n in range(1, 43)
        ],
        page=2,
    ),
    "home": lambda: home.home_view(
        [home.PendingReview("p-email", "customer_email", "retention-bot", "Send Jane 40% off", "C0REVIEW", True)],
        {"categories": [{"category": "customer_email", "volume": 3, "escalated": 2, "pending": 1}]},
        POLICY,
    ),
}


def _errors(name: str, surface: Any) -> list[str]:
    if name == "home":
        return check_home(surface)
    if name.startswith("modal"):
        return check_view(surface)
    return check_blocks(surface)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_matches_its_golden_and_slack_accepts_it(name: str) -> None:
    """Each surface equals its golden JSON exactly and passes Slack's validation (slack_sdk plus limits)."""
    surface = json.loads(json.dumps(SURFACES[name]()))
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_text(json.dumps(surface, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert surface == json.loads(path.read_text(encoding="utf-8")), f"{name} differs from {path.name}"
    assert _errors(name, surface) == []


def test_irreversible_category_asks_to_confirm_approval() -> None:
    """Approve on an irreversible category carries a Block Kit confirm dialog; on others it does not."""
    buttons = {
        name: next(e for b in SURFACES[name]() if b["type"] == "actions" for e in b["elements"])
        for name in ("card_email", "card_refund_irreversible")
    }
    assert "confirm" not in buttons["card_email"]
    assert buttons["card_refund_irreversible"]["confirm"]["confirm"]["text"] == "Approve"


def test_missing_rationale_is_flagged_on_the_card() -> None:
    """A proposal that gives no reasons says so on the card instead of an empty Why."""
    text = json.dumps(SURFACES["card_refund_irreversible"]())
    assert "No rationale" in text


def test_final_card_has_no_buttons_and_shows_who_when_and_how_long() -> None:
    """The decided card has no actions block; it names the reviewer, the time and the time to decide."""
    final = SURFACES["final_edit"]()
    assert not [b for b in final if b["type"] in ("actions", "input")]
    text = json.dumps(final, ensure_ascii=False)
    assert "<@U0ALICE>" in text
    assert "decided in 2m 00s" in text
    assert "<!date^1795515330^" in text
    assert "`subject`: `We miss you` → `We miss you, Jane`" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U0BOSS> hi", "&lt;@U0BOSS&gt; hi"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("@here and @channel", "@\u200bhere and @\u200bchannel"),
        ("a & b", "a &amp; b"),
        ("`code` and ```fence```", "\u02cbcode\u02cb and \u02cb\u02cb\u02cbfence\u02cb\u02cb\u02cb"),
        ("*bold* _it_ ~s~", "\u2217bold\u2217 \u02cdit\u02cd \u223cs\u223c"),
        ("pay \u202eevil\u202c now", "pay [U+202E]evil[U+202C] now"),
        ("hid\u200bden\u2060 \ufeff\u00ad", "hid[U+200B]den[U+2060] [U+FEFF][U+00AD]"),
        ("bell\x07 tab\tline\n", "bell[U+0007] tab\tline\n"),
    ],
)
def test_escape_neutralises_mentions_links_code_formatting_and_hidden_characters(raw: str, expected: str) -> None:
    """Untrusted inline text cannot mention, link, open code spans, format, reorder or hide text."""
    assert blocks.escape(raw) == expected


@pytest.mark.parametrize("raw", ["```", "a```b", "````", "`", "x`"])
def test_code_blocks_cannot_be_closed_from_inside(raw: str) -> None:
    """Inside a code block no run of backticks can end the fence early."""
    rendered = blocks.code(raw)
    inner = rendered[3:-3]
    assert "``" not in inner
    assert not inner.startswith("`")
    assert not inner.endswith("`")


@pytest.mark.parametrize(("text", "limit"), [("x" * 5000, 3000), ("é" * 200, 75), ("😀" * 100, 75), ("ab", 1)])
def test_clip_says_what_it_cut_and_stays_within_the_limit(text: str, limit: int) -> None:
    """Clipped text fits Slack's count (UTF-16 units) and says more was left out."""
    clipped = blocks.clip(text, limit)
    assert blocks.slack_len(clipped) <= limit
    assert "…" in clipped


def test_every_action_and_view_id_has_a_listener(runtime: Runtime, reviewer: Reviewer) -> None:
    """Each action id and modal callback id in the surfaces' blocks is answered by a listener (else Bolt says 404)."""
    pid = Client(runtime.redis, policy=runtime.policy).submit({**EMAIL, "id": "p-listeners"})
    work(runtime)
    actor = reviewer._actor("U0ALICE")
    for callback_id in blocks.VIEW_IDS:
        view = {"id": "V0TEST", "type": "modal", "callback_id": callback_id, "private_metadata": f"{pid}|C0T"}
        submitted = payloads.view_submission(actor, view, {"values": {}}, trigger_id="1.2.3")
        assert reviewer.send(submitted).status == 200, callback_id
    for action_id in blocks.ACTION_IDS:
        button = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": "x"}, "value": pid}
        message = {
            "channel": "C0T",
            "ts": "1.000001",
            "blocks": [{"type": "actions", "block_id": "b", "elements": [button]}],
        }
        assert reviewer.click(message, action_id, user="U0ALICE").status == 200, action_id
    unknown = {
        **message,
        "blocks": [{"type": "actions", "block_id": "b", "elements": [{**button, "action_id": "nope"}]}],
    }
    assert reviewer.click(unknown, "nope", user="U0ALICE").status == 404


DISGUISED = "Refund \u202e001$\u202c to jane\u200b@example.com *urgent* _now_ ~later~"


def test_a_card_shows_disguised_agent_text_as_written_but_never_as_markup(runtime: Runtime, slack: Any) -> None:
    """A right-to-left override, zero-width characters and formatting markers in agent text reach the posted
    card made visible: nothing reorders or hides text, and nothing renders bold, italic or struck."""
    disguised = {
        **EMAIL,
        "id": "p-disguised",
        "summary": DISGUISED,
        "rationale": [DISGUISED],
        "input": {"request": DISGUISED, "context": [{"source": "crm", "text": DISGUISED}]},
    }
    Client(runtime.redis, policy=runtime.policy).submit(disguised)
    work(runtime)
    posted = [m for m in slack.messages() if "p-disguised" in json.dumps(m.get("blocks") or [])]
    assert posted
    text = json.dumps(posted[-1]["blocks"], ensure_ascii=False) + posted[-1]["text"]
    for hidden in ("\u202e", "\u202c", "\u200b@"):
        assert hidden not in text
    assert "[U+202E]001$[U+202C]" in text
    assert "jane[U+200B]@example.com" in text
    assert "*urgent*" not in text
    assert "_now_" not in text
    assert "~later~" not in text
    assert "\u2217urgent\u2217" in text
    assert slack.rejections == []
