"""`handoff demo`: the whole review loop on this machine, with nothing to configure.

It starts an embedded Redis-compatible server, the local Slack and Claude stand-ins, the web app
(signatures verified) and a worker; agents submit the seed scenarios; escalations are rendered
as the cards Slack would show; simulated reviewers (or you, with --interactive) click them
through signed requests; each agent prints the decision it receives; the ledger is summarised.
Output goes through rich: bold and colour in a terminal, plain text when piped.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console

from bot.app.demo_reviewers import DECISION_WAIT, DEMO_USERGROUPS, YOU, Keyboard, Say, review_card
from bot.app.terminal import render_card, styled
from bot.app.web import LocalServer, wsgi_app
from bot.app.wiring import build_runtime
from bot.client import Client
from bot.insights.report import build_report, format_report
from bot.runtime import Runtime, activate
from bot.sandbox.anthropic_api import AnthropicStandIn
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.store.embedded_redis import EmbeddedServer
from bot.store.queues import QUEUES
from scoring.models import Assessment, Decision, Proposal, Route

REPORT_LEGEND = (
    "escal. = share escalated to a person; unrev. = share that ran without a review first; "
    "override = share of reviews where a person changed or refused the action; "
    "≤95% = the override rate's upper 95% confidence bound; "
    "evidence = the sequential test's likelihood ratio for a low override rate (it must reach the 'needs' "
    "figure before a category can graduate)."
)


def scenarios() -> list[dict[str, Any]]:
    """The seed scenarios shipped with handoff, as proposal dicts."""
    text = resources.files("bot.data").joinpath("scenarios.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_demo(*, interactive: bool = False, verbose: bool = False, console: Console | None = None) -> int:
    """Run the demo end to end; returns the exit status (0 when every proposal reached its agent)."""
    console = console or Console(highlight=False)

    def say(line: str) -> None:
        console.print(styled(line), soft_wrap=True)

    if interactive and not sys.stdin.isatty():
        say("(--interactive needs a terminal; the simulated reviewers decide instead)")
        interactive = False
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handoff-demo-")))
        with console.status("Starting the embedded Redis, the Slack and Claude stand-ins and the web app…"):
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
            say(f"You review as @{YOU}, a member of the reviewer groups {groups}: you may decide every card.\n")
        received = _run_scenarios(runtime, slack, reviewer, say=say, interactive=interactive, verbose=verbose)
        _summary(runtime, say, claude=claude)
        say(f"\nEverything ran locally; the ledger was {settings.ledger_path} (removed on exit).")
        if not verbose:
            say("Run `handoff demo --verbose` for the full cards and modals, `--interactive` to decide them yourself.")
        return 0 if received == len(scenarios()) else 1


def _settings(workdir: Path, *, url: str, slack: SlackStandIn, claude: AnthropicStandIn, secret: str) -> Settings:
    return Settings(
        slack_bot_token=SecretStr(slack.token),
        slack_signing_secret=SecretStr(secret),
        slack_api_url=slack.url,
        anthropic_api_key=SecretStr("sk-ant-demo-not-a-real-key"),
        anthropic_base_url=claude.url,
        redis_url=url,
        data_dir=workdir / "data",
        db_path=workdir / "ledger.db",
        policy_path=Path("policy.yaml"),  # absent: the packaged example policy
    )


def _intro(say: Say, *, url: str, slack: SlackStandIn, claude: AnthropicStandIn, web: str) -> None:
    say(f"  *Redis*   embedded server at {url}")
    say(f"  *Slack*   local stand-in of the Web API at {slack.url}")
    say(f"  *Claude*  local stand-in of the Messages API at {claude.url}")
    say(f"  *web*     {web}/slack/events (every request signed and verified)\n")


def _run_scenarios(
    runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, *, say: Say, interactive: bool, verbose: bool
) -> int:
    client = Client(runtime.redis, policy=runtime.policy)
    keyboard = Keyboard() if interactive else None
    ids = []
    for data in scenarios():
        ids.append(client.submit(data))
        say(f"→ {data['agent']} submits [{data['category']}] {data['summary']}")
    say(
        "\nThe worker assesses every proposal: hard checks first (any hit escalates); Claude's critique and "
        "ensemble only for proposals no hard check stopped, at the impact their category sets.\n"
    )
    work(runtime)
    received = 0
    for number, pid in enumerate(ids, start=1):
        proposal = runtime.ledger.proposal(pid)
        assert proposal is not None
        say(f"*[{number}/{len(ids)}] {proposal.summary}*")
        assessment = runtime.ledger.assessment(pid)
        assert assessment is not None
        for line in route_lines(assessment, verbose=verbose):
            say("    " + line)
        if runtime.ledger.card(pid) is not None:
            review_card(runtime, slack, reviewer, pid, say=say, keyboard=keyboard, verbose=verbose)
        decision = client.wait(pid, timeout=DECISION_WAIT if runtime.ledger.card(pid) is not None else 15)
        if decision is not None:
            received += 1
            say("    " + _agent_line(proposal, decision))
        else:
            say("    agent: no decision yet (still pending, not an approval)")
        work(runtime)
        if assessment.route is Route.REVIEW_AFTER:
            _show_review_after(slack, pid, say, verbose=verbose)
        say("")
    return received


def work(runtime: Runtime) -> None:
    """Run every queued job in this process, as a worker would."""
    from bot.app.worker import InProcessWorker

    queues = [runtime.queue(name) for name in QUEUES]
    InProcessWorker(queues, connection=runtime.redis, serializer=queues[0].serializer).work(
        burst=True, logging_level="ERROR"
    )


def route_lines(assessment: Assessment, *, verbose: bool = True) -> list[str]:
    """The route in words that fit the level, then the signals that fired (unless verbose, hard ones first)."""
    score, level = f"{assessment.score:.2f}", assessment.level
    if level == "approve_before":
        head = f"route ESCALATE: {level} always asks a person first (score {score})"
    elif level == "review_after":
        head = f"route REVIEW_AFTER: it runs now and a person reviews it afterwards (score {score})"
    elif assessment.route is Route.ESCALATE and any(s.kind == "hard" for s in assessment.fired()):
        head = f"route ESCALATE: a hard check fired, so a person decides whatever the score ({level})"
    elif assessment.threshold is not None and assessment.route is Route.ESCALATE:
        head = f"route ESCALATE: score {score} is under the {assessment.threshold:.2f} it needs to act alone ({level})"
    elif assessment.threshold is not None:
        head = f"route {assessment.route.value.upper()}: score {score} clears the {assessment.threshold:.2f} it needs"
    else:
        head = f"route {assessment.route.value.upper()}: score {score} ({level})"
    fired = assessment.fired()
    hard = [s for s in fired if s.kind == "hard"]
    shown = fired if verbose or not hard else hard
    return [head, *(f"  • {s.name} ({s.kind.value}): {s.reason}" for s in shown)]


def _show_review_after(slack: SlackStandIn, pid: str, say: Say, *, verbose: bool) -> None:
    """The after-the-fact review a review_after action gets: a message people can flag it from."""
    notices = [m for m in slack.messages() if pid in json.dumps(m) and m["text"].startswith("Ran without review")]
    if notices and verbose:
        for line in render_card(notices[-1], channel=slack.channel_name(notices[-1]["channel"])):
            say("    " + line)
    elif notices:
        where = slack.channel_name(notices[-1]["channel"])
        say(f"    Reviewed afterwards: {where} shows “Ran without review” with a [ Flag as wrong ] button")


def _agent_line(proposal: Proposal, decision: Decision) -> str:
    who = decision.reviewer
    if decision.executes and decision.action is not None:
        args = json.dumps(decision.action.args, ensure_ascii=False)
        return f"{proposal.agent} received {decision.outcome.value} from {who} → runs {decision.action.name}({args})"
    reason = f": “{decision.comment}”" if decision.comment else ""
    return f"{proposal.agent} received {decision.outcome.value} from {who}{reason} → does not run it"


def _summary(runtime: Runtime, say: Say, *, claude: AnthropicStandIn) -> None:
    say("*Ledger summary*")
    for line in format_report(build_report(runtime.ledger)).splitlines():
        say("  " + line)
    say("  " + REPORT_LEGEND)
    mix = ", ".join(f"{n} {o}" for o, n in sorted(runtime.ledger.outcome_counts().items()))
    say(f"  decisions: {mix}")
    say(f"  Claude calls: {claude.calls} ({claude.input_tokens + claude.output_tokens} tokens)")
