"""`handoff demo`: the whole review loop on this machine, with nothing to configure.

It starts an embedded Redis-compatible server, the local Slack and Claude stand-ins, the web app
(signatures verified) and a worker; agents submit the seed scenarios; escalations are rendered
as the cards Slack would show; simulated reviewers (or you, with --interactive) click them
through signed requests; each agent prints the decision it receives; the ledger is summarised.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.app.terminal import render_card, render_view
from bot.app.web import LocalServer, wsgi_app
from bot.app.wiring import build_runtime
from bot.client import Client
from bot.insights.report import build_report, format_report
from bot.runtime import Runtime, activate
from bot.sandbox.anthropic_api import AnthropicStandIn
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces import blocks
from bot.store.embedded_redis import EmbeddedServer
from bot.store.queues import QUEUES
from scoring.models import Decision, Proposal
from scoring.policy import Category


@dataclass(frozen=True)
class Review:
    """What a simulated reviewer does with an escalated scenario."""

    user: str
    outcome: str  # approve, reject, edit, alternative or redirect (back to the agent)
    text: str = ""  # the reason, or the instruction to the agent
    edits: dict[str, str] = field(default_factory=dict)  # argument -> value typed into the Edit modal
    pick: int = 0  # which alternative
    also: tuple[str, ...] = ()  # further approvers, for categories that need several approvals


REVIEWS: dict[str, Review] = {
    "demo-winback-email": Review("U0DANA", "reject", "40% is over the 25% retention limit; offer the 20% alternative"),
    "demo-crm-status": Review(
        "U0LEE", "redirect", "Two Acme deals match (ACME-77, ACME-78): ask the account owner which one closed"
    ),
    "demo-legal-reply": Review("U0COUNSEL", "approve", also=("U0COUNSEL2",)),
    "demo-refund": Review("U0FINANCE", "approve", also=("U0FINANCE2",)),
    "demo-crm-missing": Review("U0LEE", "edit", edits={"record_id": "GLOBEX-3"}),
    "demo-delay-email": Review("U0DANA", "alternative", pick=0),
}
DEFAULT_REVIEW = Review("U0DANA", "approve")

# The Slack user groups the example policy names, as the demo's workspace has them.
DEMO_USERGROUPS = {
    "S0FINANCE": ["U0FINANCE", "U0FINANCE2"],
    "S0LEGAL": ["U0COUNSEL", "U0COUNSEL2"],
}
YOU = "U0YOU"  # the person at the keyboard with --interactive: a member of every reviewer group

Say = Callable[[str], None]


def scenarios() -> list[dict[str, Any]]:
    """The seed scenarios shipped with handoff, as proposal dicts."""
    text = resources.files("bot.data").joinpath("scenarios.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_demo(*, interactive: bool = False, say: Say = print) -> int:
    """Run the demo end to end; returns the exit status (0 when every proposal reached its agent)."""
    if interactive and not sys.stdin.isatty():
        say("(--interactive needs a terminal; the simulated reviewers decide instead)")
        interactive = False
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handoff-demo-")))
        redis = EmbeddedServer(workdir / "data")
        stack.callback(redis.stop)
        url = redis.join_or_start()
        slack = stack.enter_context(SlackStandIn())
        for group, members in DEMO_USERGROUPS.items():
            slack.set_usergroup(group, [YOU, *members] if interactive else members)
        claude = stack.enter_context(AnthropicStandIn())
        secret = secrets.token_hex(16)
        settings = _settings(workdir, url=url, slack=slack, claude=claude, secret=secret)
        runtime = build_runtime(settings, redis_url=url)
        stack.callback(runtime.close)
        activate(runtime)
        web = LocalServer(wsgi_app(runtime))
        stack.callback(web.stop)
        reviewer = Reviewer(web.url + "/slack/events", secret, slack)
        _intro(say, url=url, slack=slack, claude=claude, web=web.url)
        if interactive:
            groups = ", ".join(DEMO_USERGROUPS)
            say(f"You review as <@{YOU}>, a member of the reviewer groups {groups}: you may decide every card.\n")
        received = _run_scenarios(runtime, slack, reviewer, say=say, interactive=interactive)
        _summary(runtime, say, claude=claude)
        say(f"\nEverything ran locally; the ledger was {settings.ledger_path} (removed on exit).")
        return 0 if received == len(scenarios()) else 1


def _settings(workdir: Path, *, url: str, slack: SlackStandIn, claude: AnthropicStandIn, secret: str) -> Settings:
    policy = Path("policy.yaml")
    return Settings(
        slack_bot_token=SecretStr(slack.token),
        slack_signing_secret=SecretStr(secret),
        slack_api_url=slack.url,
        anthropic_api_key=SecretStr("sk-ant-demo-not-a-real-key"),
        anthropic_base_url=claude.url,
        redis_url=url,
        data_dir=workdir / "data",
        db_path=workdir / "ledger.db",
        policy_path=policy if policy.exists() else Path("policy.yaml"),
    )


def _intro(say: Say, *, url: str, slack: SlackStandIn, claude: AnthropicStandIn, web: str) -> None:
    say("handoff demo: agents propose, the pipeline scores, people decide in Slack, agents resume.\n")
    say(f"  Redis   embedded server at {url}")
    say(f"  Slack   local stand-in of the Web API at {slack.url}")
    say(f"  Claude  local stand-in of the Messages API at {claude.url}")
    say(f"  web     {web}/slack/events (every request signed and verified)\n")


def _run_scenarios(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, *, say: Say, interactive: bool) -> int:
    client = Client(runtime.redis, policy=runtime.policy)
    keyboard = Keyboard() if interactive else None
    ids = []
    for data in scenarios():
        ids.append(client.submit(data))
        say(f"→ {data['agent']} submits [{data['category']}] {data['summary']}")
    say("\nThe worker assesses every proposal (hard checks, then Claude's critique and ensemble):\n")
    _work(runtime)
    received = 0
    for number, pid in enumerate(ids, start=1):
        proposal = runtime.ledger.proposal(pid)
        assert proposal is not None
        say(f"[{number}/{len(ids)}] {proposal.summary}")
        _show_assessment(runtime, pid, say)
        if runtime.ledger.card(pid) is not None:
            _review(runtime, slack, reviewer, pid, say=say, keyboard=keyboard)
        decision = client.wait(pid, timeout=15)
        if decision is not None:
            received += 1
            say("    " + _agent_line(proposal, decision))
        else:
            say("    agent: no decision yet (still pending, not an approval)")
        _work(runtime)
        say("")
    return received


def _work(runtime: Runtime) -> None:
    from rq import SimpleWorker

    queues = [runtime.queue(name) for name in QUEUES]
    SimpleWorker(queues, connection=runtime.redis, serializer=queues[0].serializer).work(
        burst=True, logging_level="ERROR"
    )


def _show_assessment(runtime: Runtime, pid: str, say: Say) -> None:
    assessment = runtime.ledger.assessment(pid)
    assert assessment is not None
    threshold = f", acts alone at ≥ {assessment.threshold:.2f}" if assessment.threshold is not None else ""
    say(f"    route {assessment.route.value.upper()}: score {assessment.score:.2f}{threshold} ({assessment.level})")
    for signal in assessment.fired():
        say(f"      • {signal.name} ({signal.kind.value}): {signal.reason}")


def _review(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, pid: str, *, say: Say, keyboard: Keyboard | None
) -> None:
    card = slack.wait_for(lambda s: _card(s, pid), timeout=10)
    for line in render_card(card, channel=slack.channel_name(card["channel"])):
        say("    " + line)
    proposal = runtime.ledger.proposal(pid)
    category = runtime.policy.category(proposal.category) if proposal else None
    if proposal is not None and category is not None:
        for line in _who_decides(proposal.category, category):
            say("    " + line)
    review = (keyboard.ask(say) if keyboard else None) or REVIEWS.get(pid, DEFAULT_REVIEW)
    if review.outcome == "approve":
        _approve(slack, reviewer, card, review, needed=category.approvals if category else 1, say=say)
        return
    button, values = _MODALS[review.outcome]
    user = review.user
    say(f"    <@{user}> clicks {_button_text(card, button)}")
    _click(slack, reviewer, card, button, user=user, say=say)
    try:
        opened = slack.wait_for(lambda s: _view_for(s, pid), timeout=10)
    except TimeoutError:
        say("    (no modal opened, so nothing was decided)")
        return
    if review.outcome in ("edit", "alternative"):
        for line in render_view(opened["view"]):
            say("    " + line)
    say(f"    <@{user}> {_doing(review)}")
    reviewer.submit_view(opened, values(opened["view"], review), user=user)
    if review.outcome in ("edit", "alternative"):
        _work(runtime)
        final = slack.wait_for(lambda s: _decided_card(s, pid), timeout=10)
        say("    The card, once decided:")
        for line in render_card(final, channel=slack.channel_name(final["channel"])):
            say("    " + line)


def _who_decides(name: str, category: Category) -> list[str]:
    """Authorization and quorum in words: who may decide this card, and how many must approve."""
    groups = category.reviewers.usergroups
    lines = []
    if groups or category.reviewers.users:
        who = ", ".join([*(f"group {g}" for g in groups), *(f"<@{u}>" for u in category.reviewers.users)])
        lines.append(f"Only {name} reviewers ({who}) may decide this card; anyone else is told so and nothing changes.")
    if category.approvals > 1:
        lines.append(
            f"It runs only after {category.approvals} distinct reviewers approve (four eyes); "
            "one rejection or send-back decides it at once."
        )
    return lines


def _approve(
    slack: SlackStandIn, reviewer: Reviewer, card: dict[str, Any], review: Review, *, needed: int, say: Say
) -> None:
    confirm = " and confirms (this category is irreversible)" if _asks_to_confirm(card) else ""
    approvers = [review.user, *review.also] if review.also or needed == 1 else _quorum(card, review.user, needed)
    for count, approver in enumerate(approvers, start=1):
        say(f"    <@{approver}> clicks Approve{confirm}")
        _click(slack, reviewer, card, blocks.APPROVE, user=approver, say=say)
        if count < needed:
            say(f"    That is approval {count} of {needed}; another reviewer of the group has to approve too.")


def _quorum(card: dict[str, Any], user: str, needed: int) -> list[str]:
    """`user` and enough other members of the card's reviewer group to reach `needed` approvals."""
    text = json.dumps(card)
    members = next((m for g, m in DEMO_USERGROUPS.items() if g in text), [])
    return [user, *[m for m in members if m != user][: needed - 1]]


def _click(
    slack: SlackStandIn, reviewer: Reviewer, card: dict[str, Any], action_id: str, *, user: str, say: Say
) -> None:
    """Click as `user` and say, in words, any note Slack shows only to them (refused, or counted)."""
    seen = len(slack.ephemerals(user))
    reviewer.click(card, action_id, user=user)
    for note in slack.ephemerals(user)[seen:]:
        say(f"    (Slack shows <@{user}> only: {note.get('text', '')})")


def _view_for(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The latest modal opened for `pid` (empty until one is)."""
    opened = [v for v in slack.views() if pid in v["view"].get("private_metadata", "")]
    return opened[-1] if opened else {}


def _asks_to_confirm(card: dict[str, Any]) -> bool:
    return any(e.get("confirm") for b in card["blocks"] if b["type"] == "actions" for e in b["elements"])


def _button_text(card: dict[str, Any], action_id: str) -> str:
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return next(str(e["text"]["text"]) for e in buttons if e.get("action_id") == action_id)


def _doing(review: Review) -> str:
    if review.outcome == "edit":
        return "changes " + ", ".join(f"{k} to “{v}”" for k, v in review.edits.items()) + " and approves the edit"
    if review.outcome == "alternative":
        return f"picks alternative {review.pick + 1}"
    if review.outcome == "redirect":
        return f"sends it back to the agent: “{review.text}”"
    return f"gives a reason: “{review.text}”"


def _edit_values(view: dict[str, Any], review: Review) -> dict[str, dict[str, Any]]:
    inputs = {b["label"]["text"]: b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    return {inputs[name]: {blocks.ARG_INPUT: value} for name, value in review.edits.items()}


_MODALS: dict[str, tuple[str, Callable[[dict[str, Any], Review], dict[str, dict[str, Any]]]]] = {
    "reject": (blocks.REJECT, lambda view, r: {blocks.REASON_BLOCK: {blocks.REASON_INPUT: r.text}}),
    "edit": (blocks.EDIT, _edit_values),
    "alternative": (blocks.ALTERNATIVE, lambda view, r: {blocks.PICK_BLOCK: {blocks.PICK_INPUT: str(r.pick)}}),
    "redirect": (blocks.REDIRECT, lambda view, r: {blocks.INSTRUCTION_BLOCK: {blocks.INSTRUCTION_INPUT: r.text}}),
}


@dataclass
class Keyboard:
    """The person at the terminal with --interactive, until their input ends (Ctrl-D)."""

    open: bool = True

    def ask(self, say: Say) -> Review | None:
        """Their decision; None once input has ended (the simulated reviewers decide from then on)."""
        if not self.open:
            return None
        try:
            return _prompt(say)
        except EOFError:
            self.open = False
            say("\n    (end of input: the simulated reviewers decide this card and the rest)")
            return None


def _prompt(say: Say) -> Review:
    while True:
        answer = input("    Decide: [a]pprove, [r]eject, or [s]end it back to the agent? ").strip().lower()
        if answer in ("a", "approve"):
            return Review(YOU, "approve")
        if answer in ("r", "reject", "s", "send"):
            text = ""
            while not text:
                text = input("    Reason or instruction (sent to the agent): ").strip()
            return Review(YOU, "reject" if answer.startswith("r") else "redirect", text)
        say("    Please type a, r or s.")


def _decided_card(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The message of `pid`'s card once it is in its final state (empty until then)."""
    for message in slack.messages():
        ids = [b.get("block_id", "") for b in message.get("blocks") or []]
        if f"done:{pid}:2" in ids:
            return message
    return {}


def _card(slack: SlackStandIn, pid: str) -> dict[str, Any]:
    """The message whose buttons review `pid` (empty until it is posted)."""
    for message in slack.messages():
        if any(b.get("block_id", "").startswith(f"review:{pid}:") for b in message.get("blocks") or []):
            return message
    return {}


def _agent_line(proposal: Proposal, decision: Decision) -> str:
    who = decision.reviewer
    if decision.executes and decision.action is not None:
        args = json.dumps(decision.action.args, ensure_ascii=False)
        return f"{proposal.agent} received {decision.outcome.value} from {who} → runs {decision.action.name}({args})"
    reason = f": “{decision.comment}”" if decision.comment else ""
    return f"{proposal.agent} received {decision.outcome.value} from {who}{reason} → does not run it"


def _summary(runtime: Runtime, say: Say, *, claude: AnthropicStandIn) -> None:
    say("Ledger summary")
    for line in format_report(build_report(runtime.ledger)).splitlines():
        say("  " + line)
    mix = ", ".join(f"{n} {o}" for o, n in sorted(runtime.ledger.outcome_counts().items()))
    say(f"  decisions: {mix}")
    say(f"  Claude calls: {claude.calls} ({claude.input_tokens + claude.output_tokens} tokens)")
