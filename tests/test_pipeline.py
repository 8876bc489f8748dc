"""The pure pipeline: combination, routing by level, audit sampling, planning, policy validation, purity."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.review.policy_file import load_checks, resolve_checks
from scoring.models import Action, Proposal, Route, Signal, SignalKind
from scoring.pipeline import (
    Derivation,
    SoftPlan,
    action_agreement,
    assess,
    combine,
    ensemble_signal,
    failed_signal,
    is_sampled,
    plan_soft,
    retrieval_consistency,
    route_for,
    unavailable_signals,
)
from scoring.policy import Level, Policy, PolicyError, parse_policy

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SCORING = Path(__file__).resolve().parents[1] / "scoring"
POLICY_YAML = """
categories:
  tag_ticket: {level: review_after, impact: low, required_args: [ticket_id, tag]}
  customer_email: {level: on_uncertainty, threshold: 0.85, required_args: [to, subject, body]}
  autopilot: {level: autonomous}
  issue_refund:
    level: approve_before
    never_graduate: true
    impact: high
    required_args: [order_id, amount]
    checks: ["scoring.signals:amount_above_limit"]
    params: {max_amount: 500}
"""
POLICY = parse_policy(POLICY_YAML)
LEVELS = list(Level)


def make_proposal(category: str = "customer_email", **fields: Any) -> Proposal:
    args = {"to": "ana@example.com", "subject": "Your order", "body": "Hi", "ticket_id": "T1", "tag": "billing"}
    args |= {"order_id": "O1", "amount": 40}
    base: dict[str, Any] = {"category": category, "action": {"name": "act", "args": args}, "summary": "Do the thing"}
    return Proposal.model_validate(base | fields)


def soft(name: str, value: float, *, fired: bool = False) -> Signal:
    return Signal(name=name, kind=SignalKind.SOFT, value=value, weight=0.0, reason="measured", fired=fired)


def hard(fired: bool) -> Signal:
    return Signal(name="h", kind=SignalKind.HARD, value=0.0 if fired else 1.0, weight=1.0, reason="r", fired=fired)


@pytest.mark.parametrize(
    ("category", "soft_signals", "fields", "route"),
    [
        ("customer_email", [soft("ensemble", 0.9), soft("critique", 0.9)], {}, Route.AUTO),
        ("customer_email", [soft("ensemble", 0.5), soft("critique", 0.9)], {}, Route.ESCALATE),
        ("customer_email", [soft("ensemble", 1.0), failed_signal("critique", "timed out")], {}, Route.ESCALATE),
        ("customer_email", [], {"agent_confidence": 1.0}, Route.ESCALATE),
        (
            "customer_email",
            [soft("ensemble", 1.0)],
            {"entities": [{"reference": "Ana", "matches": []}]},
            Route.ESCALATE,
        ),
        ("tag_ticket", [], {}, Route.REVIEW_AFTER),
        ("tag_ticket", [failed_signal("ensemble", "down")], {}, Route.REVIEW_AFTER),
        ("tag_ticket", [], {"action": {"name": "tag", "args": {"tag": "x"}}}, Route.ESCALATE),
        ("autopilot", [soft("ensemble", 0.0)], {}, Route.AUTO),
        ("issue_refund", [soft("ensemble", 1.0), soft("critique", 1.0)], {}, Route.ESCALATE),
        ("no_such_category", [soft("ensemble", 1.0)], {}, Route.ESCALATE),
    ],
)
def test_routing_follows_the_level(
    category: str, soft_signals: list[Signal], fields: dict[str, Any], route: Route
) -> None:
    """Autonomous and review_after act, on_uncertainty acts above threshold with nothing fired, the rest ask."""
    assessment = assess(make_proposal(category, **fields), POLICY, proposal_id="p1", now=NOW, soft=soft_signals)
    assert assessment.route is route, [s for s in assessment.signals if s.fired]


def test_assessment_records_every_signal_weight_and_policy_version() -> None:
    """Signals carry the policy's weights; the assessment names the policy version and level."""
    assessment = assess(make_proposal(), POLICY, proposal_id="p1", now=NOW, soft=[soft("ensemble", 0.5)])
    weights = {s.name: s.weight for s in assessment.signals}
    assert weights["ensemble"] == POLICY.weights["ensemble"]
    assert {"entity_not_found", "ambiguous_entity", "required_arg_missing", "stale_context"} <= set(weights)
    assert (assessment.policy_version, assessment.level, assessment.threshold) == (
        POLICY.version,
        "on_uncertainty",
        0.85,
    )
    assert assessment.score == pytest.approx(0.5)


def test_unknown_category_escalates_with_a_reason() -> None:
    """A category the policy does not know is a hard signal, never a default."""
    assessment = assess(make_proposal("launch_rockets"), POLICY, proposal_id="p1", now=NOW)
    fired = assessment.fired()
    assert assessment.route is Route.ESCALATE
    assert fired[0].name == "unknown_category"
    assert "customer_email" in fired[0].reason


def test_custom_check_from_policy_escalates_with_its_reason() -> None:
    """The refund limit check, loaded by import path, fires with a reviewer-readable reason."""
    proposal = make_proposal("issue_refund", action={"name": "refund", "args": {"order_id": "O1", "amount": 900}})
    assessment = assess(proposal, POLICY, proposal_id="p1", now=NOW, checks=load_checks(POLICY))
    assert [s.reason for s in assessment.fired()] == ["amount 900 is above the issue_refund limit of 500"]


def test_custom_check_not_loaded_fails_closed() -> None:
    """A check the shell could not import escalates rather than being skipped."""
    proposal = make_proposal("issue_refund")
    assessment = assess(proposal, POLICY, proposal_id="p1", now=NOW, checks={})
    assert "not loaded" in assessment.fired()[0].reason


@pytest.mark.parametrize(
    ("values", "hard_fired", "score"),
    [
        ([("ensemble", 1.0), ("critique", 0.0)], False, 0.4 / 0.75),
        ([("ensemble", 0.5)], False, 0.5),
        ([], False, 1.0),
        ([("ensemble", 1.0), ("unknown", 0.0)], False, 1.0),
        ([("ensemble", 1.0)], True, 0.0),
    ],
)
def test_score_is_the_weighted_mean_vetoed_by_hard_signals(
    values: list[tuple[str, float]], hard_fired: bool, score: float
) -> None:
    """Weights renormalise over the signals measured; a fired hard signal zeroes the score."""
    signals = [soft(n, v).model_copy(update={"weight": POLICY.weights.get(n, 0.0)}) for n, v in values]
    assert combine([*signals, hard(hard_fired)]) == pytest.approx(score)


signal_values = st.lists(
    st.tuples(st.sampled_from(["ensemble", "critique", "retrieval_consistency", "x"]), st.floats(0, 1)), max_size=5
)


@given(signal_values, st.booleans(), st.sampled_from(LEVELS), st.floats(0, 1))
def test_score_stays_in_unit_interval_and_hard_signals_always_escalate(
    values: list[tuple[str, float]], hard_fired: bool, level: Level, agent: float
) -> None:
    """Whatever is measured, the score is in [0, 1]; any fired hard signal escalates at every level."""
    policy = _with_level(level)
    fields = {"agent_confidence": agent} | ({"entities": [{"reference": "x"}]} if hard_fired else {})
    assessment = assess(make_proposal(**fields), policy, proposal_id="p", now=NOW, soft=[soft(n, v) for n, v in values])
    assert 0.0 <= assessment.score <= 1.0
    if hard_fired:
        assert assessment.route is Route.ESCALATE


@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.booleans())
def test_raising_the_threshold_never_lets_more_run_unreviewed(
    low: float, high: float, score: float, failed: bool
) -> None:
    """Routing is monotone in the threshold."""
    low, high = min(low, high), max(low, high)
    signals = [soft("ensemble", score, fired=failed)]
    strict = route_for(Level.ON_UNCERTAINTY, score=score, threshold=high, signals=signals)
    loose = route_for(Level.ON_UNCERTAINTY, score=score, threshold=low, signals=signals)
    assert strict is not Route.AUTO or loose is Route.AUTO


@given(st.sampled_from(LEVELS), st.sampled_from(LEVELS), st.floats(0, 1), st.booleans(), st.booleans())
def test_a_stricter_level_never_asks_less(a: Level, b: Level, score: float, hard_fired: bool, failed: bool) -> None:
    """If a level escalates a proposal, every stricter level escalates it too."""
    lenient, strict = sorted([a, b], key=lambda level: level.strictness)
    signals = [hard(hard_fired), soft("ensemble", score, fired=failed)]
    if route_for(lenient, score=score, threshold=0.8, signals=signals) is Route.ESCALATE:
        assert route_for(strict, score=score, threshold=0.8, signals=signals) is Route.ESCALATE


@given(st.text(min_size=1, max_size=30))
def test_audit_sampling_is_deterministic_and_only_for_unreviewed_actions(proposal_id: str) -> None:
    """The same id under the same policy is always sampled the same way; only auto routes are audited."""
    policy = Policy.model_validate({"categories": {"customer_email": {"level": "autonomous"}}, "audit_rate": 0.5})
    first = assess(make_proposal(), policy, proposal_id=proposal_id, now=NOW)
    again = assess(make_proposal(), policy, proposal_id=proposal_id, now=NOW)
    assert first.audit == again.audit == is_sampled(proposal_id, policy.version, 0.5)
    review = Policy.model_validate({"categories": {"customer_email": {"level": "review_after"}}, "audit_rate": 1.0})
    assert not assess(make_proposal(), review, proposal_id=proposal_id, now=NOW).audit


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.3, 1.0])
def test_audit_share_matches_the_configured_rate(rate: float) -> None:
    """About `audit_rate` of ids are drawn."""
    drawn = sum(is_sampled(f"p-{i}", "v1", rate) for i in range(4000)) / 4000
    assert drawn == pytest.approx(rate, abs=0.02)


@pytest.mark.parametrize(
    ("category", "fields", "plan"),
    [
        ("customer_email", {}, SoftPlan(ensemble=3, critique=False)),
        ("tag_ticket", {}, SoftPlan()),
        ("issue_refund", {}, SoftPlan()),  # approve_before and never_graduate: it always asks
        ("autopilot", {}, SoftPlan()),
        ("customer_email", {"entities": [{"reference": "Ana"}]}, SoftPlan()),
        ("no_such_category", {}, SoftPlan()),
    ],
)
def test_plan_pays_for_llm_calls_only_where_they_matter(category: str, fields: dict[str, Any], plan: SoftPlan) -> None:
    """Ensemble where the score routes or stakes are high, critique from the impact level, none after a hard hit."""
    proposal = make_proposal(category, **fields)
    hard_found = assess(proposal, POLICY, proposal_id="p", now=NOW, checks=load_checks(POLICY)).signals
    assert plan_soft(proposal, POLICY, [s for s in hard_found if s.kind is SignalKind.HARD]) == plan


def test_a_category_that_always_asks_is_measured_when_the_policy_says_so() -> None:
    """`llm.measure_always_asked` brings back the ensemble and critique of a high-impact approve_before category."""
    policy = POLICY.model_copy(update={"llm": POLICY.llm.model_copy(update={"measure_always_asked": True})})
    proposal = make_proposal("issue_refund")
    hard_found = assess(proposal, policy, proposal_id="p", now=NOW, checks=load_checks(policy)).signals
    assert plan_soft(proposal, policy, [s for s in hard_found if s.kind is SignalKind.HARD]) == SoftPlan(3, True)


def test_unavailable_signals_fail_closed() -> None:
    """Planned signals without a client come back fired, valued 0, with the reason."""
    signals = unavailable_signals(SoftPlan(ensemble=2, critique=True), "no key")
    assert [(s.name, s.fired, s.value, s.reason) for s in signals] == [
        ("ensemble", True, 0.0, "unavailable: no key"),
        ("critique", True, 0.0, "unavailable: no key"),
    ]


@pytest.mark.parametrize(
    ("derived", "agreement"),
    [
        (Action(name="refund", args={"order_id": "o-1", "amount": "40.00", "note": "x" * 100}), 1.0),
        (Action(name="Refund", args={"order_id": " O-1 ", "amount": "$40"}), 1.0),
        (Action(name="refund", args={"order_id": "o-2", "amount": "40"}), 0.5),
        (Action(name="refund", args={"order_id": "o-1"}), 0.5),
        (Action(name="refund", args={"order_id": "o-1", "amount": "400"}), 0.5),
        (Action(name="escalate", args={"order_id": "o-1", "amount": "40"}), 0.0),
        (None, 0.0),
    ],
)
def test_action_agreement_compares_name_and_equivalent_arguments(derived: Action | None, agreement: float) -> None:
    """Same tool with equivalent arguments agrees; long free text is not compared."""
    proposed = Action(name="refund", args={"order_id": "O-1", "amount": 40, "note": "y" * 100})
    assert action_agreement(proposed, derived) == agreement


def test_ensemble_disagreement_lowers_the_signal_and_names_the_dissent() -> None:
    """One dissenting variant out of three lowers the value and its reason reaches the reviewer."""
    proposal = make_proposal(action={"name": "refund", "args": {"order_id": "O1"}})
    same = Action(name="refund", args={"order_id": "O1"})
    derivations = [
        Derivation("direct", same),
        Derivation("facts_first", same),
        Derivation("skeptic", None, "the customer churned"),
    ]
    signal = ensemble_signal(proposal, derivations)
    assert signal.value == pytest.approx(2 / 3)
    assert (
        signal.reason
        == "2 of 3 prompt variants re-derived the same action; skeptic chose no action: the customer churned"
    )


@pytest.mark.parametrize(
    ("results", "value"),
    [
        ([["a", "b"], ["b", "a"]], 1.0),
        ([["a", "b"], ["a", "c"]], 1 / 3),
        ([["a"], ["b"], ["a"]], 1 / 3),
        ([[], []], 0.0),
        ([["a"], []], 0.0),
    ],
)
def test_retrieval_consistency_is_the_overlap_of_varied_queries(results: list[list[str]], value: float) -> None:
    """Queries for the same question that return different things lower confidence."""
    proposal = make_proposal(retrievals=[{"query": f"q{i}", "results": r} for i, r in enumerate(results)])
    signal = retrieval_consistency(proposal)
    assert signal is not None
    assert signal.value == pytest.approx(value)


def test_retrieval_consistency_needs_two_queries() -> None:
    """A single query has nothing to agree with."""
    assert retrieval_consistency(make_proposal(retrievals=[{"query": "q", "results": ["a"]}])) is None


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("categories: {a: {level: on_uncertainty, threshold: 1.4}}", "categories.a.threshold: input should be less"),
        (
            "categories: {a: {level: review_after}}\nweights: {ensemble: 0.5, critique: 0.2}",
            "policy.yaml: weights: weights sum to 0.7; expected them to sum to 1",
        ),
        (
            "categories: {a: {level: review_after}}\nweights: {ensemble: 1.5, critique: -0.5}",
            "critique is -0.5; expected a weight of 0 or more",
        ),
        (
            "categories: {a: {level: review_after, weights: {critque: 1}}}",
            "categories.a.weights: unknown signal 'critque'; expected one of critique, ensemble",
        ),
        ("categories: {a: {level: review_after, checks: [not a path]}}", "categories.a.checks.0: string should match"),
        ("categories: {a: {level: review_after, impact: huge}}", "categories.a.impact: input should be"),
        ("categories: {a: {level: review_after}}\nllm: {ensemble_size: 7}", "llm.ensemble_size: input should be less"),
        ("categories: {a: {level: review_after}}\naudit_rate: 2", "audit_rate: input should be less"),
    ],
)
def test_policy_that_makes_no_sense_is_refused_with_the_key_path(yaml_text: str, message: str) -> None:
    """Thresholds outside 0..1, weights that do not sum to 1, unknown signals and bad paths are refused."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(yaml_text, source="policy.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("policy.yaml: ")


def test_the_shipped_policy_parses_and_its_checks_import() -> None:
    """policy.yaml at the repository root is valid and every custom check it names imports."""
    path = SCORING.parent / "policy.yaml"
    policy = parse_policy(path.read_text(), source="policy.yaml")
    assert set(load_checks(policy)) == {c for cat in policy.categories.values() for c in cat.checks}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:check", "categories.a.checks[0]: cannot import 'no_such_module_xyz'"),
        ("scoring.signals:no_such_check", "module 'scoring.signals' has no 'no_such_check'"),
        ("scoring.signals:HARD_SIGNALS", "must be a function of (proposal, category, ctx)"),
        ("scoring.signals:hard", "must be a function of (proposal, category, ctx)"),
    ],
)
def test_custom_check_that_cannot_be_imported_is_refused_at_load(path: str, message: str) -> None:
    """Loading names the check's key path and what is wrong with it."""
    policy = parse_policy(f"categories: {{a: {{level: review_after, checks: ['{path}']}}}}")
    with pytest.raises(PolicyError) as caught:
        load_checks(policy, source="policy.yaml")
    assert str(caught.value).startswith("policy.yaml: categories.a.checks[0]: ")
    assert message in str(caught.value)
    assert resolve_checks(policy) == {}


FORBIDDEN_MODULES = {"slack_sdk", "slack_bolt", "redis", "rq", "anthropic", "sqlite_utils", "httpx", "httpx2"}
FORBIDDEN_MODULES |= {"requests", "subprocess", "socket", "urllib.request", "http.client"}
FORBIDDEN_ATTRIBUTES = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}
FORBIDDEN_ATTRIBUTES |= {("time", "monotonic"), ("time", "perf_counter"), ("os", "environ"), ("os", "getenv")}


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]


@pytest.mark.parametrize("path", sorted(SCORING.glob("*.py")), ids=lambda p: p.name)
def test_scoring_is_pure(path: Path) -> None:
    """No module in scoring/ imports I/O libraries or reads the environment or the clock."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node):
                parts = name.split(".")
                prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
                assert not prefixes & FORBIDDEN_MODULES, ast.unparse(node)
                assert name not in {"os.environ", "os.getenv", "time.time", "time.monotonic"}, ast.unparse(node)
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
            assert (owner, node.attr) not in FORBIDDEN_ATTRIBUTES, ast.unparse(node)


def _with_level(level: Level) -> Policy:
    never = {"never_graduate": False}
    return Policy.model_validate({"categories": {"customer_email": {"level": level.value, **never}}})
