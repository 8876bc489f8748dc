"""The adapters' shared core against a real Redis, the real API server and worker jobs, and signed clicks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.adapters.core import Approvals, ToolCall, open_client, proposal_id_for, seen_from_turns, verdict_of
from bot.client import Client, ProposalError
from bot.runtime import Runtime
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from scoring.models import Decision, Outcome
from tests.api_helpers import add_agent
from tests.conftest import SIGNING_SECRET, work
from tests.test_flows import ALICE, card_of, inputs

CALL = ToolCall(
    name="send_email",
    args={"to": "jane@example.com", "subject": "We miss you", "body": "40% off"},
    call_id="call_1",
    seen=seen_from_turns([("user", "Win Jane back; she churned last week."), ("ai", "I will email her.")]),
)
CATEGORY = {"send_email": "customer_email"}
SUMMARY = {"send_email": "Email {to}: {subject}"}


@pytest.fixture
def approvals(runtime: Runtime) -> Iterator[Approvals]:
    """Approvals over handoff's Redis transport."""
    gate = Approvals(
        category=CATEGORY,
        summary=SUMMARY,
        client=Client(runtime.redis, policy=runtime.policy),
        agent="adapter",
        timeout=10,
    )
    yield gate
    gate.close()


def modal(slack: SlackStandIn, reviewer: Reviewer, pid: str, action_id: str) -> dict[str, Any]:
    seen = len(slack.views())
    assert reviewer.click(card_of(slack, pid), action_id, user=ALICE).status == 200
    return slack.wait_for(lambda s: len(s.views()) > seen and s.views()[-1], timeout=5)


def test_an_approval_over_http_runs_the_exact_call(runtime: Runtime, api_url: str, slack: SlackStandIn) -> None:
    """Over the HTTP API (HANDOFF_URL and HANDOFF_TOKEN), the proposal carries the summary and what the agent saw."""
    token, _ = add_agent(runtime, "adapter-bot")
    settings = Settings(handoff_url=api_url, handoff_token=token, wait=10)  # type: ignore[arg-type]
    gate = Approvals(category=CATEGORY, summary=SUMMARY, settings=settings)
    pid = gate.submit(CALL, proposal_id=proposal_id_for("thread-1", "call_1"))
    work(runtime)
    proposal = runtime.ledger.proposal(pid)
    assert proposal is not None
    assert proposal.summary == "Email jane@example.com: We miss you"
    assert proposal.input.request == "Win Jane back; she churned last week."
    assert [t.role for t in proposal.input.conversation] == ["user", "ai"]
    assert proposal.agent == "adapter-bot"
    reviewer = Reviewer(api_url + "/slack/events", SIGNING_SECRET, slack)
    assert reviewer.click(card_of(slack, pid), blocks.APPROVE, user=ALICE).status == 200
    verdict = gate.wait(pid, CALL)
    assert (verdict.outcome, verdict.runs, verdict.args, verdict.reviewer) == ("approve", True, dict(CALL.args), ALICE)
    assert verdict.message == "Approved by the reviewer."
    assert gate.submit(CALL, proposal_id=pid) == pid, "resubmitting the same call is a no-op"
    gate.close()


def test_an_edit_runs_the_edited_args(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, approvals: Approvals
) -> None:
    pid = approvals.submit(CALL)
    work(runtime)
    opened = modal(slack, reviewer, pid, blocks.EDIT)
    ids = inputs(opened)
    reviewer.submit_view(opened, {ids["subject"]: {blocks.ARG_INPUT: "Come back, Jane"}}, user=ALICE)
    verdict = approvals.wait(pid, CALL)
    assert (verdict.outcome, verdict.runs) == ("edit", True)
    assert verdict.args == {**CALL.args, "subject": "Come back, Jane"}
    assert "Come back, Jane" in verdict.message


def test_a_rejection_carries_the_reason_for_the_model(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, approvals: Approvals
) -> None:
    pid = approvals.submit(CALL)
    work(runtime)
    opened = modal(slack, reviewer, pid, blocks.REJECT)
    reason = "A 40% discount needs a manager's sign-off"
    reviewer.submit_view(opened, {blocks.REASON_BLOCK: {blocks.REASON_INPUT: reason}}, user=ALICE)
    verdict = approvals.wait(pid, CALL)
    assert (verdict.outcome, verdict.runs, verdict.args, verdict.reason) == ("reject", False, None, reason)
    assert verdict.message.endswith(f"Reason: {reason}")
    assert "did not run" in verdict.message


def test_no_decision_in_the_wait_is_a_timeout_and_the_review_stays_open(runtime: Runtime, approvals: Approvals) -> None:
    pid = approvals.submit(CALL)
    work(runtime)
    verdict = approvals.wait(pid, CALL, timeout=0.2)
    assert (verdict.outcome, verdict.runs, verdict.args, verdict.decision) == ("timeout", False, None, None)
    assert "neither an approval nor a rejection" in verdict.message
    assert runtime.board.is_pending(pid)


def test_an_alternative_of_another_tool_is_a_new_action_that_does_not_run(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, approvals: Approvals
) -> None:
    """The reviewer picks an alternative naming another tool: nothing runs; the model is told what was chosen."""
    ticket = {"name": "create_ticket", "args": {"title": "Call Jane"}}
    call = ToolCall(name=CALL.name, args=CALL.args, extra={"alternatives": [{"summary": "Call her", "action": ticket}]})
    pid = approvals.submit(call)
    work(runtime)
    opened = modal(slack, reviewer, pid, blocks.ALTERNATIVE)
    reviewer.submit_view(opened, {blocks.PICK_BLOCK: {blocks.PICK_INPUT: "0"}}, user=ALICE)
    verdict = approvals.wait(pid, call)
    assert (verdict.outcome, verdict.runs, verdict.args) == ("alternative", False, None)
    assert (verdict.action_name, verdict.action_args, verdict.switched_tool) == ("create_ticket", ticket["args"], True)
    assert "send_email did not run, and neither did create_ticket" in verdict.message


def test_a_redirect_to_the_agent_is_an_instruction_for_the_model(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, approvals: Approvals
) -> None:
    pid = approvals.submit(CALL)
    work(runtime)
    opened = modal(slack, reviewer, pid, blocks.REDIRECT)
    instruction = "Check with her account manager first"
    reviewer.submit_view(opened, {blocks.INSTRUCTION_BLOCK: {blocks.INSTRUCTION_INPUT: instruction}}, user=ALICE)
    verdict = approvals.wait(pid, CALL)
    assert (verdict.outcome, verdict.runs, verdict.args) == ("redirect", False, None)
    assert verdict.message.endswith(f": {instruction}")


def test_an_expired_review_is_a_timeout_never_a_rejection() -> None:
    """handoff's own timeout decision (the category's expiry) stays a timeout for the framework."""
    expired = Decision(
        proposal_id="p1", outcome=Outcome.TIMEOUT, action=None, reviewer="policy:timeout", decided_at="2026-01-01"
    )
    verdict = verdict_of(expired, CALL)
    assert (verdict.outcome, verdict.runs, verdict.args) == ("timeout", False, None)
    action = {"name": "send_email", "args": dict(CALL.args)}
    auto = Decision.model_validate(
        {"proposal_id": "p2", "outcome": "auto", "action": action, "reviewer": "policy:auto", "decided_at": "2026"}
    )
    assert (verdict_of(auto, CALL).outcome, verdict_of(auto, CALL).message) == ("approve", "Approved by policy.")


def test_summaries_and_categories_come_from_mappings_or_callables(approvals: Approvals) -> None:
    assert approvals.summary_of(ToolCall(name="send_email", args={"to": "a@b.c"})) == "Email a@b.c: {subject}"
    assert approvals.summary_of(ToolCall(name="other", args={"n": 1})) == "Run other(n=1)"
    by_callable = Approvals(
        category=lambda call: "tag_ticket" if call.name == "tag" else "customer_email",
        summary=lambda call: f"{call.name} with {len(call.args)} args",
        client=approvals.client,
    )
    call = ToolCall(name="tag", args={"ticket_id": "T-1"})
    assert (by_callable.category_of(call), by_callable.summary_of(call)) == ("tag_ticket", "tag with 1 args")
    with pytest.raises(ProposalError, match=r"category: tool 'delete_all' has no handoff category"):
        approvals.submit(ToolCall(name="delete_all", args={}))
    broken = Approvals(category=CATEGORY, summary={"send_email": "Email {to"}, client=approvals.client)
    with pytest.raises(ProposalError, match=r"summary: the template 'Email \{to' is malformed"):
        broken.submit(CALL)


def test_settings_name_the_deployment_and_refuse_bad_values(redis_url: str) -> None:
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="HANDOFF_WAIT"):
        Settings.from_env({"HANDOFF_WAIT": "soon"})
    with pytest.raises(SettingsError, match="HANDOFF_URL"):
        Settings.from_env({"HANDOFF_URL": "handoff.example.com"})
    assert Settings.from_env({}).wait == 120
    client = open_client(Settings.from_env({"REDIS_URL": redis_url}))
    assert client.board.redis.ping()
    client.close()


def test_the_readme_framework_table_links_real_examples_and_its_snippets_compile() -> None:
    """Every row of the README's framework table links an example that exists; every snippet below compiles."""
    import ast
    import re

    from tests.test_docs import README, code_blocks

    text = README.read_text(encoding="utf-8")
    part = text[text.index("## Agent frameworks") : text.index("## Command line")]
    examples = re.findall(r"\[examples/(\w+)\.py\]\(examples/\1\.py\)", part)
    assert {"langgraph", "openai_agents"} <= set(examples)
    for name in examples:
        assert (README.parent / "examples" / f"{name}.py").is_file()
    snippets = [b for b in code_blocks(part) if "bot.adapters" in b]
    mcp_configs = [b for b in code_blocks(part) if '"mcpServers"' in b]  # MCP's snippet is a host's config
    assert len(snippets) + len(mcp_configs) >= len(examples) + 1
    for snippet in snippets:
        compile(snippet, "README", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | ast.PyCF_ONLY_AST)
    for config in mcp_configs:
        assert json.loads(config)["mcpServers"]["handoff"]["args"] == ["mcp"]


def test_a_deployment_that_cannot_be_reached_is_one_clear_error() -> None:
    """Nothing listening at HANDOFF_URL (or the Redis URL): an error naming it and saying the tool did not run."""
    from bot.adapters.core import DeploymentUnreachableError
    from tests.conftest import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"
    over_http = Approvals(category=CATEGORY, settings=Settings(handoff_url=nowhere, handoff_token="x", wait=1))  # type: ignore[arg-type]
    with pytest.raises(DeploymentUnreachableError, match=rf"HANDOFF_URL {nowhere} cannot be reached .*did not run"):
        over_http.submit(CALL)
    over_redis = Approvals(category=CATEGORY, client=Client.from_url(f"redis://127.0.0.1:{free_port()}/0"), timeout=1)
    with pytest.raises(DeploymentUnreachableError, match=r"handoff's Redis \(REDIS_URL, or the embedded server\)"):
        over_redis.wait("p1", CALL)
    over_redis.close()
