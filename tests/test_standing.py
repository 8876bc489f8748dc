"""Standing approvals through the real parts: signed clicks and modal submissions, the ledger, Redis, the
Slack stand-in. Approve and remember, see the next identical proposal decided by the rule, flag it, see
the rule revoked; and the edges: caps, authorization, replays, revocation mid-assessment, expiry, restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import yaml

from bot.client import Client
from bot.insights.metrics import render_metrics
from bot.review import flags, phases
from bot.review import standing as review
from bot.review.admission import admit
from bot.review.assess import assess_proposal
from bot.review.decide import decide, make_decision
from bot.review.reconcile import reconcile
from bot.runtime import Runtime
from bot.sandbox import reviewer_payloads as payloads
from bot.sandbox.reviewer import Reviewer, form_body
from bot.sandbox.slack_api import SlackStandIn
from bot.sandbox.slack_checks import check_home, check_view
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.slack.surfaces import standing as standing_surface
from bot.slack.surfaces.home import home_view
from bot.store import queries
from bot.store import standing as store
from bot.store.ledger import Ledger
from bot.store.review_state import Verdict
from bot.store.rows import StandingRule
from scoring.models import Outcome
from scoring.policy import Policy, parse_policy
from tests.conftest import REPO, activated, wait_until, work
from tests.factories import CRM, INJECTION, proposal
from tests.ledger_backends import writer_holding

ALICE, BOB, OWNER, MALLORY = "U0ALICE", "U0BOB", "U0OWNER", "U0MALLORY"


def policy_with(**crm: Any) -> Policy:
    """The example policy with an owner, named CRM reviewers, and `crm` keys on update_crm_record."""
    raw = yaml.safe_load((REPO / "policy.yaml").read_text())
    raw["owners"] = [OWNER]
    raw["categories"]["update_crm_record"]["reviewers"] = {"users": [ALICE, BOB, OWNER]}
    raw["categories"]["update_crm_record"].update(crm)
    return parse_policy(yaml.safe_dump(raw))


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis) -> Iterator[Runtime]:
    with activated(settings, policy=policy_with()) as rt:
        yield rt


def crm(pid: str, **args: Any) -> dict[str, Any]:
    return {**CRM, "id": pid, "action": {"name": "update_record", "args": {**CRM["action"]["args"], **args}}}


def submit(runtime: Runtime, data: dict[str, Any]) -> str:
    pid = Client(runtime.redis, policy=runtime.policy).submit(data)
    work(runtime)
    return pid


def card(slack: SlackStandIn, pid: str) -> dict[str, Any] | None:
    """The live review card of `pid`, if one was posted."""
    for message in slack.messages():
        if any(str(b.get("block_id", "")).startswith(f"review:{pid}:") for b in message["blocks"]):
            return message
    return None


def open_remember(slack: SlackStandIn, reviewer: Reviewer, pid: str, user: str = ALICE) -> dict[str, Any]:
    seen = len(slack.views())
    live = card(slack, pid)
    assert live is not None, f"{pid} has no card"
    assert reviewer.click(live, blocks.STANDING_OPEN, user=user).status == 200
    return slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)


def remember(slack: SlackStandIn, reviewer: Reviewer, pid: str, *, hours: str, fields: list[str]) -> None:
    opened = open_remember(slack, reviewer, pid)
    values = {
        blocks.HOURS_BLOCK: {blocks.HOURS_INPUT: hours},
        f"{blocks.FIELDS_BLOCK}:0": {blocks.FIELDS_INPUT: fields},
    }
    assert reviewer.submit_view(opened, values, user=ALICE).status == 200


def rules(runtime: Runtime) -> list[tuple[Any, ...]]:
    return runtime.ledger.db.execute("SELECT id, author, revoked_by, fields FROM standing_rules ORDER BY id").fetchall()


def digest_with(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The digest message listing `pid` with a Flag button, in its current revision."""

    def find(s: SlackStandIn) -> dict[str, Any] | None:
        for message in s.messages():
            for block in message["blocks"]:
                accessory = block.get("accessory") or {}
                if accessory.get("action_id") == flags.FLAG and accessory.get("value") == pid:
                    return message
        return None

    return slack.wait_for(find, timeout=5)


@pytest.mark.parametrize("transport", ["http", "socket"])
def test_a_standing_approval_decides_the_next_identical_proposal_and_a_flag_revokes_it(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, transport: str
) -> None:
    """Approve and remember (record_id and field pinned) → the next identical proposal is approved by
    `standing:1` with no card, listed in the digest; one with another record_id gets a card; a flag on the
    allowed action revokes the rule, so the next identical proposal asks a person again."""
    first = submit(runtime, crm("p-crm-1"))
    remember(slack, reviewer, first, hours="4", fields=["0", "1"])
    made = wait_until(lambda: rules(runtime), what="the standing rule")
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in made] == [
        (1, ALICE, None, {"record_id": "ACME-1", "field": "amount"})
    ]
    decided = runtime.ledger.decision(first)
    assert decided is not None
    assert (decided.outcome, decided.reviewer) == (Outcome.APPROVE, ALICE)
    told = slack.wait_for(lambda s: s.ephemerals(ALICE), timeout=5)[-1]["text"]
    assert "Standing approval #1 is on until" in told
    assert "/handoff standing revoke 1" in told

    posts = len([c for c in slack.calls if c.method == "chat.postMessage"])
    second = submit(runtime, crm("p-crm-2", value=120))  # an unpinned field may differ
    allowed = Client(runtime.redis).wait(second, timeout=5)
    assert allowed is not None
    assert (allowed.outcome, allowed.reviewer) == (Outcome.APPROVE, "standing:1")
    assert allowed.action is not None
    assert allowed.action.args["value"] == 120
    assert "standing approval #1 of U0ALICE" in allowed.comment
    assert card(slack, second) is None, "a proposal a rule allows gets no card"
    digest = digest_with(slack, second)
    assert ":repeat: Approved by standing approval #1: nobody looked at it" in json.dumps(digest, ensure_ascii=False)
    assert len([c for c in slack.calls if c.method == "chat.postMessage"]) == posts + 1, "only the digest is posted"
    assert runtime.ledger.execution(second) is not None

    other = submit(runtime, crm("p-crm-3", record_id="ACME-2"))
    assert runtime.ledger.decision(other) is None
    assert card(slack, other) is not None, "a pinned field that differs asks a person"

    assert reviewer.click(digest, flags.FLAG, value=second, user=BOB).status == 200
    revoked = wait_until(lambda: rules(runtime)[0][2], what="the rule revoked by the flag")
    assert revoked == f"flag:{second}"
    assert store.active(runtime.ledger, now=datetime.now(UTC).isoformat()) == []
    third = submit(runtime, crm("p-crm-4"))
    assert runtime.ledger.decision(third) is None
    assert card(slack, third) is not None
    kinds = [row[0] for row in runtime.ledger.db.execute("SELECT kind FROM events WHERE proposal_id = 'standing:1'")]
    assert kinds == ["standing_created", "standing_revoked"]
    assert runtime.ledger.verify_chain()
    assert slack.rejections == []


def test_the_modal_offers_the_policy_cap_and_refuses_forged_hours_and_fields(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Hours up to max_hours (8 in the example policy), a checkbox per argument (ten to a block, all ticked),
    values shown as plain text; a forged 24 hours or an unknown field is refused in the modal."""
    pid = submit(runtime, crm("p-crm-modal", record_id="<!channel> *ACME*"))
    opened = open_remember(slack, reviewer, pid)
    view = opened["view"]
    assert slack.rejections == [], "the stand-in checks the modal against Slack's limits"
    hours = next(b for b in view["blocks"] if b.get("block_id") == blocks.HOURS_BLOCK)["element"]
    assert [o["value"] for o in hours["options"]] == ["1", "2", "4", "8"]
    boxes = next(b for b in view["blocks"] if b.get("block_id") == f"{blocks.FIELDS_BLOCK}:0")["element"]
    assert [o["text"]["text"] for o in boxes["options"]] == list(CRM["action"]["args"])
    assert boxes["initial_options"] == boxes["options"]
    assert boxes["options"][0]["description"]["type"] == "plain_text"
    assert "<!channel>" not in json.dumps([b for b in view["blocks"] if b["type"] != "input"])

    forged_hours = {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "24"}, "value": "24"},
    }
    response = reviewer.submit_view(opened, {blocks.HOURS_BLOCK: {blocks.HOURS_INPUT: forged_hours}}, user=ALICE)
    assert json.loads(response.body)["errors"][blocks.HOURS_BLOCK] == "Pick how long, at most 8 hours."
    forged_field = {"type": "checkboxes", "selected_options": [{"value": "99"}]}
    response = reviewer.submit_view(
        opened, {f"{blocks.FIELDS_BLOCK}:0": {blocks.FIELDS_INPUT: forged_field}}, user=ALICE
    )
    assert json.loads(response.body)["errors"][f"{blocks.FIELDS_BLOCK}:0"] == "Tick only the fields shown."
    assert runtime.ledger.decision(pid) is None
    assert rules(runtime) == []


def test_only_a_reviewer_of_the_category_may_open_or_submit_it(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Someone who may not decide the category gets no modal, and a submission forged in their name
    decides nothing and makes no rule."""
    pid = submit(runtime, crm("p-crm-authz"))
    live = card(slack, pid)
    assert live is not None
    views = len(slack.views())
    assert reviewer.click(live, blocks.STANDING_OPEN, user=MALLORY).status == 200
    note = slack.wait_for(lambda s: s.ephemerals(MALLORY), timeout=5)[-1]["text"]
    assert "not a reviewer for update_crm_record" in note
    assert len(slack.views()) == views
    forged = {"id": "V0FORGED", "type": "modal", "callback_id": blocks.STANDING_MODAL, "private_metadata": f"{pid}|C0T"}
    state = {"values": {blocks.HOURS_BLOCK: {blocks.HOURS_INPUT: {"selected_option": {"value": "8"}}}}}
    actor = reviewer._actor(MALLORY)
    assert reviewer.send(payloads.view_submission(actor, forged, state, trigger_id="1.2.3")).status == 200
    slack.wait_for(lambda s: len(s.ephemerals(MALLORY)) == 2, timeout=5)
    assert runtime.ledger.decision(pid) is None
    assert rules(runtime) == []


def test_categories_without_the_policy_key_offer_no_remember_button(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """Off by default: customer_email's card has Approve but no "Approve and remember…", and a forged click
    on it opens nothing."""
    pid = submit(
        runtime,
        {
            **CRM,
            "id": "p-email-x",
            "category": "customer_email",
            "action": {"name": "send_email", "args": {"to": "a@example.com", "subject": "Hi", "body": "Hello"}},
        },
    )
    live = card(slack, pid)
    assert live is not None
    ids = [e["action_id"] for b in live["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert blocks.APPROVE in ids
    assert blocks.STANDING_OPEN not in ids
    forged = {
        **live,
        "blocks": [
            {
                "type": "actions",
                "block_id": "b",
                "elements": [
                    {
                        "type": "button",
                        "action_id": blocks.STANDING_OPEN,
                        "text": {"type": "plain_text", "text": "x"},
                        "value": pid,
                    }
                ],
            }
        ],
    }
    views = len(slack.views())
    reviewer.click(forged, blocks.STANDING_OPEN, user=ALICE)
    assert "Standing approvals are off for customer_email" in slack.wait_for(lambda s: s.ephemerals(ALICE))[-1]["text"]
    assert len(slack.views()) == views


def test_a_replayed_or_redelivered_submission_makes_one_decision_and_one_rule(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """The same signed body twice is a replay (ignored); the submission delivered again with a new
    signature finds the approval standing and the rule made: still one of each."""
    pid = submit(runtime, crm("p-crm-replay"))
    view = open_remember(slack, reviewer, pid)["view"]
    state = payloads.view_state(view, {blocks.HOURS_BLOCK: {blocks.HOURS_INPUT: "2"}})
    body = form_body(payloads.view_submission(reviewer._actor(ALICE), view, state, trigger_id="1.2.3"))
    now = int(time.time())
    for timestamp in (now, now, now - 1):
        assert reviewer.post(body, timestamp=timestamp).status == 200
    wait_until(lambda: len(slack.ephemerals(ALICE)) == 2, what="both deliveries answered")
    assert [r[0] for r in rules(runtime)] == [1]
    assert json.loads(rules(runtime)[0][3]) == CRM["action"]["args"]
    assert runtime.ledger.db.execute("SELECT COUNT(*) FROM events WHERE kind = 'decided'").fetchone()[0] == 1
    assert runtime.ledger.db.execute("SELECT COUNT(*) FROM events WHERE kind = 'standing_created'").fetchone()[0] == 1


def test_a_rule_revoked_while_a_proposal_is_assessed_does_not_decide_it(runtime: Runtime, slack: SlackStandIn) -> None:
    """The rule matched, then was revoked before the deciding transaction: the ledger's guard refuses, no
    decision is recorded or published, and assessing again posts the card."""
    first = submit(runtime, crm("p-crm-src"))
    rule, created = make_rule(runtime, first, author=ALICE)
    assert created
    pid = Client(runtime.redis, policy=runtime.policy).submit(crm("p-crm-race"))
    work_until_assessed(runtime, pid)
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    assert proposal is not None
    assert assessment is not None
    decision = review.allowed_decision(runtime, pid, proposal, assessment)
    assert decision is not None
    assert decision.reviewer == f"standing:{rule.id}"
    assert store.revoke(runtime.ledger, rule.id, by=OWNER, reason="changed my mind")
    result = decide(runtime, decision)
    assert result.verdict is Verdict.REFUSED
    assert f"standing rule {rule.id} was revoked" in result.note
    assert runtime.ledger.decision(pid) is None
    assert runtime.board.decided(pid) is None
    assert phases.assess(runtime, pid) == "escalate"
    assert card(slack, pid) is not None


def make_rule(runtime: Runtime, source: str, *, author: str, hours: float = 4, **scope: str) -> tuple[Any, bool]:
    now = datetime.now(UTC)
    rule, created = store.create(
        runtime.ledger,
        source_proposal_id=source,
        scope=(scope.get("category", "update_crm_record"), scope.get("agent", "ops-bot"), "update_record"),
        fields={"record_id": "ACME-1"},
        author=author,
        expires_at=(now + timedelta(hours=hours)).isoformat(timespec="milliseconds"),
        max_active=review.MAX_ACTIVE_PER_CATEGORY,
        now=now.isoformat(timespec="milliseconds"),
    )
    assert rule is not None
    return rule, created


def work_until_assessed(runtime: Runtime, pid: str) -> None:
    """Record and assess `pid` without running phase one's routing (as a worker mid-assessment holds it)."""
    proposal = admit(runtime, pid)
    assert proposal is not None
    now = datetime.now(UTC)
    runtime.ledger.record_assessment(assess_proposal(proposal, pid, policy=runtime.policy, now=now, llm=runtime.llm))


def test_an_expired_rule_never_allows(runtime: Runtime, slack: SlackStandIn) -> None:
    """Past its end, or past the policy's current cap from its creation, a rule matches nothing; the
    deciding transaction refuses an expired one too."""
    rule, _ = make_rule(runtime, "p-src-old", author=ALICE, hours=-1)
    scope = ("update_crm_record", "ops-bot", "update_record")
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    assert store.match(runtime.ledger, scope=scope, args=CRM["action"]["args"], now=now) is None
    assert "has expired" in store.guard(rule.id, now=now)(runtime.ledger.db)
    pid = submit(runtime, crm("p-crm-late"))
    assert runtime.ledger.decision(pid) is None
    assert card(slack, pid) is not None
    fresh, _ = make_rule(runtime, "p-src-new", author=ALICE, hours=24)  # the policy's cap has since dropped to 8h
    later = (datetime.now(UTC) + timedelta(hours=9)).isoformat(timespec="milliseconds")
    assert store.match(runtime.ledger, scope=scope, args=CRM["action"]["args"], now=later) == fresh
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    assert proposal is not None
    assert assessment is not None
    assert review.allowed_decision(runtime, pid, proposal, assessment) is not None  # within 8h of its creation


def test_two_reviewers_creating_rules_at_once_each_get_one(runtime: Runtime) -> None:
    """Concurrent creations serialize in the ledger: distinct rules for distinct approvals, one rule for one
    approval however often it is asked, and the category's cap holds."""
    barrier = threading.Barrier(4)
    made: list[tuple[int, bool]] = []

    def create(source: str, author: str) -> None:
        barrier.wait(timeout=10)
        rule, created = make_rule(runtime, source, author=author)
        made.append((rule.id, created))

    threads = [
        threading.Thread(target=create, args=(source, author))
        for source, author in (("p-a", ALICE), ("p-b", BOB), ("p-a", ALICE), ("p-b", BOB))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(made) == [(1, False), (1, True), (2, False), (2, True)]
    assert runtime.ledger.verify_chain()
    runtime.ledger.close()  # the threads' connections
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    full, created = store.create(
        runtime.ledger,
        source_proposal_id="p-c",
        scope=("update_crm_record", "ops-bot", "update_record"),
        fields={},
        author=ALICE,
        expires_at=now,
        max_active=2,
        now=now,
    )
    assert (full, created) == (None, False)


def test_rules_are_listed_and_revoked_by_their_author_or_an_owner_only(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer
) -> None:
    """`/handoff standing` lists active rules; BOB (neither author nor owner) cannot revoke; the Home tab
    shows Revoke to the owner, whose click revokes it and republishes the tab."""
    rule, _ = make_rule(runtime, "p-src-list", author=ALICE)
    assert reviewer.command("standing", user=BOB, channel="C0REVIEW").status == 200
    listed = slack.wait_for(lambda s: s.ephemerals(BOB), timeout=5)[-1]["text"]
    assert '• *#1* update_crm_record · ops-bot · `update_record` where record_id = "ACME-1" · by <@U0ALICE>' in listed
    assert reviewer.command("standing revoke 1", user=BOB, channel="C0REVIEW").status == 200
    refused = slack.wait_for(lambda s: len(s.ephemerals(BOB)) == 2 and s.ephemerals(BOB), timeout=5)[-1]["text"]
    assert "Only its author (<@U0ALICE>) or a policy owner" in refused
    assert store.rule(runtime.ledger, rule.id) == rule

    assert reviewer.open_home(user=BOB).status == 200
    bobs = slack.wait_for(lambda s: s.home(BOB), timeout=5)
    assert "home:standing:1" in json.dumps(bobs)
    assert blocks.STANDING_REVOKE not in json.dumps(bobs), "no Revoke for someone who may not"
    assert reviewer.open_home(user=OWNER).status == 200
    home = slack.wait_for(lambda s: s.home(OWNER), timeout=5)
    assert slack.rejections == [], "the stand-in checks the Home view against Slack's limits"
    assert reviewer.click(home, blocks.STANDING_REVOKE, user=OWNER).status == 200
    republished = slack.wait_for(lambda s: "is revoked" in json.dumps(s.home(OWNER)) and s.home(OWNER), timeout=5)
    assert "home:standing:1" not in json.dumps(republished)
    gone = store.rule(runtime.ledger, rule.id)
    assert gone is not None
    assert gone.revoked_by == OWNER
    assert reviewer.command("standing", user=BOB, channel="C0REVIEW").status == 200
    slack.wait_for(lambda s: "No standing approvals are active." in s.ephemerals(BOB)[-1]["text"], timeout=5)


def test_rules_survive_a_restart_and_a_flag_left_unrevoked_by_a_crash_is_repaired(
    settings: Settings, redis_client: redis.Redis, slack: SlackStandIn
) -> None:
    """A new runtime on the same ledger file and an emptied Redis still applies the rule; a flag recorded
    without its revocation (not through a flag button) is revoked by the reconcile pass; /metrics counts it."""
    policy = policy_with()
    with activated(settings, policy=policy) as first:
        source = submit(first, crm("p-src-restart"))
        rule, _ = make_rule(first, source, author=ALICE)
    redis_client.flushdb()
    with activated(settings, policy=policy) as again:
        pid = submit(again, crm("p-after-restart"))
        decision = again.ledger.decision(pid)
        assert decision is not None
        assert decision.reviewer == f"standing:{rule.id}"
        metrics = render_metrics(again)
        waits = {row.category: row.decided for row in queries.wait_buckets(again.ledger, (60,))}
        assert waits == {}, "a standing decision is no wait for a person: time to decide leaves it out"
        assert 'handoff_standing_decisions_total{category="update_crm_record"} 1' in metrics
        assert 'handoff_standing_rules_active{category="update_crm_record"} 1' in metrics
        assert again.ledger.record_flag(pid, flagger=BOB)
        assert reconcile(again).revoked_rules == [rule.id]
        assert reconcile(again).revoked_rules == []
        assert 'handoff_standing_rules_active{category="update_crm_record"} 0' in render_metrics(again)


@pytest.mark.parametrize(
    ("crm_keys", "message"),
    [
        (
            {"standing_approvals": {"max_hours": 0}},
            "standing_approvals.max_hours: input should be greater than or equal to 1",
        ),
        (
            {"standing_approvals": {"max_hours": 500}},
            "standing_approvals.max_hours: input should be less than or equal to 168",
        ),
        ({"standing_approvals": {"max_hour": 8}}, "did you mean `max_hours`?"),
        ({"standing_approvals": {"max_hours": 8}, "approvals": 2}, "cannot stand in for a quorum"),
        (
            {"standing_approvals": {"max_hours": 8}, "level": "approve_before", "never_graduate": True},
            "never_graduate is too",
        ),
    ],
)
def test_the_policy_key_is_validated_with_clear_errors(crm_keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"categories\.update_crm_record") as caught:
        policy_with(**crm_keys)
    assert message in str(caught.value)


def test_standing_approvals_are_off_unless_the_policy_says_so() -> None:
    policy = policy_with()
    assert [name for name in policy.categories if policy.standing_for(name)] == ["update_crm_record"]
    assert policy.standing_for("no_such_category") is None


def test_the_modal_and_rule_lines_stay_within_limits_and_escape_what_the_agent_sent() -> None:
    """Forty hostile arguments: four checkbox blocks of ten, every value plain text and cut; the rule lines
    of the Home tab and the command escape names and values, and thirty rules still make a valid Home view."""
    args = {f"{INJECTION}{n}": INJECTION * 20 for n in range(45)}
    hostile = proposal(CRM, agent=INJECTION[:100], action={"name": INJECTION, "args": args}, summary=INJECTION)
    fields = review.pickable_fields(hostile)
    assert len(fields) == review.MAX_FIELDS
    view = standing_surface.standing_modal(
        "p-x", hostile, fields=fields, hours=review.hour_choices(24), channel="C0REVIEW"
    )
    assert check_view(view) == []
    boxes = [b for b in view["blocks"] if str(b.get("block_id", "")).startswith(f"{blocks.FIELDS_BLOCK}:")]
    assert [len(b["element"]["options"]) for b in boxes] == [10, 10, 10, 10]
    mrkdwn = json.dumps([b for b in view["blocks"] if b["type"] != "input"])
    assert "<!channel>" not in mrkdwn
    assert "<@U0BOSS>" not in mrkdwn
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    rules_shown = [
        StandingRule(
            n,
            INJECTION,
            INJECTION,
            INJECTION,
            dict(list(args.items())[:3]),
            ALICE,
            f"p{n}",
            now,
            now,
            None,
            None,
            None,
        )
        for n in range(1, 31)
    ]
    line = standing_surface.rule_line(rules_shown[0])
    assert "<!channel>" not in line
    assert "&lt;!channel&gt;" in line
    assert "<@U0BOSS>" not in standing_surface.listing(rules_shown)
    home_blocks = standing_surface.home_blocks(rules_shown, may_revoke=[True] * 30)
    view = home_view(
        [], {"categories": []}, policy_with(), standing=home_blocks, note="Standing approval #1 is revoked"
    )
    assert check_home(view) == []
    assert len([b for b in home_blocks if "accessory" in b]) == standing_surface.LISTED


def test_a_locked_ledger_leaves_the_approval_standing_and_says_the_rule_was_not_made(
    runtime: Runtime, slack: SlackStandIn
) -> None:
    """The approval is recorded; the ledger is locked when the rule is written: the reviewer hears that
    nothing is allowed without asking, and asking again once the ledger is free makes the rule once."""
    pid = submit(runtime, crm("p-crm-locked"))
    original = runtime.ledger.proposal(pid)
    assert original is not None
    approval = make_decision(runtime, pid, Outcome.APPROVE, reviewer=ALICE, action=original.action)
    assert decide(runtime, approval).won
    runtime.ledger.close()
    runtime.ledger = Ledger(runtime.ledger.target, busy_timeout=0.3)
    with writer_holding(runtime.ledger):
        refused = review.remember(runtime, pid, user=ALICE, hours=2, fields=["record_id"])
    assert (refused.rule, refused.message) == (None, review.NOT_RECORDED)
    assert rules(runtime) == []
    made = review.remember(runtime, pid, user=ALICE, hours=2, fields=["record_id"])
    assert made.rule is not None
    assert made.rule.fields == {"record_id": "ACME-1"}
    again = review.remember(runtime, pid, user=ALICE, hours=2, fields=["record_id"])
    assert again.rule == made.rule
    assert review.remember(runtime, pid, user=BOB, hours=2, fields=[]).rule is None, "only the approver's rule"


def test_a_rule_whose_author_may_no_longer_decide_allows_nothing(runtime: Runtime, slack: SlackStandIn) -> None:
    """The deciding path checks the rule's author as it checks a person: one who is not (or no longer) a
    reviewer of the category makes the proposal go to a person instead."""
    rule, _ = make_rule(runtime, "p-src-gone", author=MALLORY)
    pid = submit(runtime, crm("p-crm-author-gone"))
    assert runtime.ledger.decision(pid) is None
    assert card(slack, pid) is not None
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    assert proposal is not None
    assert assessment is not None
    decision = review.allowed_decision(runtime, pid, proposal, assessment)
    assert decision is not None
    assert decision.reviewer == f"standing:{rule.id}"
    result = decide(runtime, decision)
    assert result.verdict is Verdict.REFUSED
    assert "not a reviewer for update_crm_record" in result.note
