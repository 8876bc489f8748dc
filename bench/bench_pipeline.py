"""Benchmark: a full assessment (3-way ensemble + critique) against one LLM call, and LLM cost of a demo mix.

Both measured in the same run against the Anthropic stand-in with a fixed latency per call, so the
figure is a ratio, not an absolute time. Run: `python bench/bench_pipeline.py [--latency 0.2]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic

from bot.llm.soft_signals import CRITIQUE, SYSTEM, Critique, SoftSignals, untrusted_block
from bot.review.assess import assess_proposal
from bot.review.policy_file import load_checks
from bot.sandbox.anthropic_api import AnthropicStandIn
from scoring.models import ContextItem, Proposal
from scoring.policy import Policy, parse_policy

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.5


def demo_mix(n: int = 100) -> list[Proposal]:
    """A demo-like spread over the five example categories: mostly routine, some doubtful or risky."""
    templates: list[dict[str, Any]] = [
        _row("tag_ticket", "tag", {"ticket_id": "T-{i}", "tag": "billing"}, "Tag ticket {i} as billing"),
        _row("tag_ticket", "tag", {"ticket_id": "T-{i}", "tag": "bug"}, "Tag ticket {i} as a bug"),
        _row("customer_email", "send_email", _email("Your order shipped"), "Tell customer {i} the order shipped"),
        _row("customer_email", "send_email", _email("An offer"), "Offer customer {i} a 40% discount to stay"),
        _row("customer_email", "send_email", _email("Stock"), "Maybe tell customer {i} it is back in stock"),
        _row("update_crm_record", "update_record", _crm("plan", "pro"), "Upgrade account {i} to pro as asked"),
        _row("update_crm_record", "update_record", _crm("status", "active"), "Reactivate churned account {i}"),
        _row(
            "issue_refund", "refund", {"order_id": "O-{i}", "amount": 25, "currency": "EUR"}, "Refund 25 EUR, order {i}"
        ),
        _row(
            "legal_reply", "reply", {"to": "counsel@example.com", "body": "We confirm receipt."}, "Confirm notice {i}"
        ),
        _row("customer_email", "send_email", _email("Tracking"), "Send customer {i} the tracking link"),
    ]
    return [_fill(templates[i % len(templates)], i) for i in range(n)]


def one_call(client: anthropic.Anthropic, proposal: Proposal, model: str) -> None:
    """The baseline: a single structured-output call through the SDK."""
    client.messages.create(
        model=model,
        max_tokens=1024,
        system=SYSTEM,
        messages=[{"role": "user", "content": f"{CRITIQUE}\n\n{untrusted_block(proposal)}"}],
        output_config={"format": {"type": "json_schema", "schema": anthropic.transform_schema(Critique)}},
    )


def time_ratio(policy: Policy, latency: float, rounds: int) -> tuple[float, float, int]:
    """Median wall time of one call and of a full assessment, measured alternately in this run."""
    proposal = _fill(_row("legal_reply", "reply", {"to": "c@example.com", "body": "Received."}, "Confirm {i}"), 0)
    checks = load_checks(policy)
    with AnthropicStandIn(latency=latency) as standin:
        client = anthropic.Anthropic(api_key="bench", base_url=standin.url)
        llm = SoftSignals(client)
        singles, fulls, calls = [], [], 0
        for _ in range(rounds):
            start = time.perf_counter()
            one_call(client, proposal, policy.llm.model)
            singles.append(time.perf_counter() - start)
            start = time.perf_counter()
            assessment = assess_proposal(proposal, "bench", policy=policy, now=_now(), llm=llm, checks=checks)
            fulls.append(time.perf_counter() - start)
            calls = assessment.llm_calls
    return statistics.median(singles), statistics.median(fulls), calls


def mix_cost(policy: Policy, proposals: list[Proposal], *, latency: float) -> tuple[AnthropicStandIn, list[str], float]:
    """Calls, tokens, the route of each proposal and dollars for a mix, against a stand-in that caches as
    the API does for the policy's model (a short latency, so a cache written by one call can be read)."""
    checks = load_checks(policy)
    with AnthropicStandIn(latency=latency) as standin:
        llm = SoftSignals(anthropic.Anthropic(api_key="bench", base_url=standin.url))
        routes, cost = [], 0.0
        for i, proposal in enumerate(proposals):
            assessment = assess_proposal(proposal, f"mix-{i}", policy=policy, now=_now(), llm=llm, checks=checks)
            routes.append(assessment.route.value)
            cost += assessment.cost_usd
    return standin, routes, cost


def with_context(proposals: list[Proposal], words: int) -> list[Proposal]:
    """The same proposals, each with a long retrieved document in its input (what a real agent passes on)."""
    document = " ".join(f"clause-{i % 97} of the account history applies to this request." for i in range(words // 8))
    item = ContextItem(source="crm:account-history", text=document)
    return [p.model_copy(update={"input": p.input.model_copy(update={"context": [item]})}) for p in proposals]


def before(policy: Policy) -> Policy:
    """The policy as handoff ran it before: every category measured, no prompt caching."""
    llm = policy.llm.model_copy(update={"measure_always_asked": True, "cache_min_tokens": 10**9})
    return policy.model_copy(update={"llm": llm})


def print_costs(label: str, policy: Policy, proposals: list[Proposal]) -> None:
    """Per 100 proposals: calls, input (uncached, cache writes, cache reads), output tokens and dollars."""
    scale = 100 / len(proposals)
    results = {}
    for name, rules in (("before", before(policy)), ("after", policy)):
        standin, routes, cost = mix_cost(rules, proposals, latency=0.01)
        results[name] = routes
        print(
            f"{label:<12} {name:<6} per 100 proposals: {standin.calls * scale:5.0f} calls, input"
            f" {standin.input_tokens * scale:9,.0f} + cache write {standin.cache_write_tokens * scale:8,.0f}"
            f" + cache read {standin.cache_read_tokens * scale:8,.0f}, output {standin.output_tokens * scale:7,.0f}"
            f" tokens, ${cost * scale:.4f}"
        )
    changed = sum(a != b for a, b in zip(results["before"], results["after"], strict=True))
    routes = dict(sorted(Counter(results["after"]).items()))
    print(f"{label:<12} routes {routes}; routes changed by skipping and caching: {changed}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the stand-in takes per call")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--proposals", type=int, default=100)
    parser.add_argument("--context-words", type=int, default=6000, help="retrieved words per long-input proposal")
    args = parser.parse_args()
    policy = parse_policy((REPO / "policy.yaml").read_text(), source="policy.yaml")
    single, full, calls = time_ratio(before(policy), args.latency, args.rounds)  # legal_reply, measured
    ratio = full / single
    verdict = "ok" if ratio <= TARGET else "over target"
    print(f"latency per call (stand-in)      {args.latency * 1000:.0f} ms")
    print(f"one LLM call (baseline)          {single * 1000:.0f} ms (median of {args.rounds})")
    print(f"full assessment, {calls} calls        {full * 1000:.0f} ms (ensemble 3 + critique, in parallel)")
    print(f"ratio full / one call            {ratio:.2f}x (target <= {TARGET}x: {verdict})")
    mix = demo_mix(args.proposals)
    print_costs("demo mix", policy, mix)
    # A deployment whose agents pass long documents raises max_input_chars (20,000 by default), or every
    # such proposal escalates on its size before any call; caching needs a prefix of cache_min_tokens.
    roomy = policy.model_copy(update={"max_input_chars": 200_000})
    print_costs("long inputs", roomy, with_context(mix, args.context_words))
    return 0


def _row(category: str, name: str, args: dict[str, Any], summary: str) -> dict[str, Any]:
    return {"category": category, "action": {"name": name, "args": args}, "summary": summary, "input": summary}


def _email(subject: str) -> dict[str, Any]:
    return {"to": "customer{i}@example.com", "subject": subject, "body": "Hello, here is an update on your request."}


def _crm(field: str, value: str) -> dict[str, Any]:
    return {"record_id": "ACC-{i}", "field": field, "value": value}


def _fill(template: Any, i: int) -> Any:
    if isinstance(template, dict):
        filled = {k: _fill(v, i) for k, v in template.items()}
        return Proposal.model_validate(filled) if "category" in filled else filled
    return template.replace("{i}", str(i)) if isinstance(template, str) else template


def _now() -> datetime:
    return datetime.now(UTC)


if __name__ == "__main__":
    raise SystemExit(main())
