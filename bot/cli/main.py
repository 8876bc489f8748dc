"""The `handoff` command: web, worker, demo, submit, score, eval, report, export, replay, tune, graduate,
verify, migrate-ledger, mcp, policy check.

Bad input exits non-zero with one line on stderr that names what is wrong and what to do. Each command
imports what it needs when it runs, so `handoff --help` or `handoff policy check` never loads Slack, RQ
or the Anthropic SDK (tests/test_startup.py keeps it so).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli import agents, exit_status, insights, ledger_tools, score_eval
from bot.cli.exit_status import UsageError
from bot.store.queues import QUEUES

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.settings import Settings

log = logging.getLogger("bot.cli")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `handoff` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from bot.settings import Settings

        _configure_logging(Settings.from_env(), default="WARNING" if args.command == "demo" else "INFO")
        return int(args.func(args))
    except KeyboardInterrupt:
        return exit_status.INTERRUPTED
    except BrokenPipeError:  # `handoff export | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_status.OK
    except Exception as exc:
        status = exit_status.status_of(exc)
        if status is None:
            raise
        print(f"handoff {args.command}: {exc}", file=sys.stderr)
        return status


def _configure_logging(settings: Settings, *, default: str) -> None:
    logging.basicConfig(
        level=settings.log_level or default,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("httpx", "httpx2", "anthropic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # slack_sdk logs each failed request and retry itself; handoff logs one line per failure (and a
        # traceback only for a bug), so its own lines would only repeat that.
        logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)


WEB_HELP = (
    "Serve Slack's requests over HTTP on $PORT (default 3000): POST /slack/events for interactivity, events "
    "and /handoff, GET /healthz and GET /metrics. Needs SLACK_BOT_TOKEN (xoxb-...) and SLACK_SIGNING_SECRET; "
    "with SLACK_APP_TOKEN (xapp-...) set it connects to Slack in Socket Mode instead, and $PORT serves only "
    "/healthz and /metrics. Without ANTHROPIC_API_KEY every on_uncertainty proposal escalates."
)


MCP_HELP = (
    "Serve MCP tools on stdin/stdout: with request_review an MCP client (Claude Desktop, an IDE, an agent) "
    "asks handoff to review an action and gets the decision; report_execution says how running it went. "
    "Reaches the deployment through HANDOFF_URL and HANDOFF_TOKEN, else REDIS_URL, else this machine's "
    "embedded server; waits HANDOFF_WAIT seconds (120) unless --wait or the call says otherwise. Needs the "
    "mcp extra: pip install 'handoff[mcp]'."
)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, and leaves out `(default: None)` for options that have none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff", description="Human review for AI agents, in Slack.", formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action=_VersionAction, help="print handoff's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("web", help="serve Slack's requests on $PORT", description=WEB_HELP).set_defaults(func=run_web)
    worker = sub.add_parser("worker", help="run assess and execute jobs")
    worker.add_argument("--queue", action="append", choices=QUEUES, help="listen on this queue only (repeatable)")
    worker.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    worker.set_defaults(func=run_worker)
    demo = sub.add_parser("demo", help="run the whole loop locally against simulated Slack and Claude")
    demo.add_argument("--interactive", action="store_true", help="decide each escalation yourself")
    demo.add_argument("--verbose", action="store_true", help="show the full cards and modals")
    demo.set_defaults(func=run_demo)
    submit = sub.add_parser("submit", help="submit a proposal (JSON file, or - for stdin)")
    submit.add_argument("file", help="a JSON file holding one proposal, or - to read it from stdin")
    submit.add_argument("--wait", action="store_true", help="wait for the decision and print it as JSON")
    submit.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits for a decision")
    submit.set_defaults(func=run_submit)
    score_eval.add_arguments(sub)
    insights.add_arguments(sub)
    agents.add_arguments(sub)
    ledger_tools.add_arguments(sub)
    verify = sub.add_parser("verify", help="check the ledger's hash chain and every record sealed into it")
    verify.add_argument("--head", metavar="SEQ:HASH", help="a chain head saved earlier (report, /metrics, Redis)")
    verify.set_defaults(func=run_verify)
    mcp = sub.add_parser("mcp", help="serve request_review to MCP clients over stdio", description=MCP_HELP)
    mcp.add_argument("--wait", type=float, help="seconds a review waits for a person when the call gives none")
    mcp.set_defaults(func=run_mcp)
    policy = sub.add_parser("policy", help="policy tools")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument("file", type=Path, help="the policy YAML file")
    check.set_defaults(func=run_policy_check)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand a description (its one-line help, unless it has more) and the same formatter."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                subparser.formatter_class = _HelpFormatter
                if subparser.description is None and helps.get(name):
                    subparser.description = str(helps[name])[:1].upper() + str(helps[name])[1:] + "."
                _describe(subparser)


class _VersionAction(argparse.Action):
    """`--version`: looks the installed version up only when asked (start-up stays free of metadata scans)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        try:
            version = metadata.version("handoff")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        print(f"handoff {version}")
        parser.exit()


def _runtime(stack: ExitStack, settings: Settings) -> Runtime:
    from bot.app.wiring import build_runtime
    from bot.store.embedded_redis import redis_url_for

    url = stack.enter_context(redis_url_for(settings.redis_url, settings.data_dir))
    runtime = build_runtime(settings, redis_url=url)
    stack.callback(runtime.close)
    if runtime.llm is None:
        log.warning("ANTHROPIC_API_KEY is not set: no soft signals, so every on_uncertainty proposal escalates")
    return runtime


def run_web(args: argparse.Namespace) -> int:
    from bot.app.web import serve
    from bot.settings import Settings

    settings = Settings.from_env()
    with ExitStack() as stack:
        serve(_runtime(stack, settings), port=settings.port)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from bot.app.worker import run_worker as work
    from bot.settings import Settings, SettingsError

    settings = Settings.from_env()
    if not settings.slack_bot_token.get_secret_value():
        raise SettingsError("SLACK_BOT_TOKEN is not set; the worker posts review cards with it")
    queues = tuple(args.queue) if args.queue else QUEUES
    with ExitStack() as stack:
        work(_runtime(stack, settings), queues=queues, burst=args.burst)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    print("handoff demo: agents propose, the pipeline scores, people decide in Slack, agents resume.\n", flush=True)
    from bot.app.demo import run_demo as demo  # heavy imports: after the first line

    return int(demo(interactive=args.interactive, verbose=args.verbose))


def read_json_input(name: str) -> Any:
    """Read one JSON document from a file or stdin ('-'), with errors that say what to fix."""
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read ({exc.strerror}); pass a JSON file or - for stdin") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: byte {exc.start} is not valid UTF-8; send UTF-8 JSON") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc


def run_submit(args: argparse.Namespace) -> int:
    from bot.client import Client, parse_proposal
    from bot.review.policy_file import configured_policy
    from bot.settings import Settings
    from bot.store.embedded_redis import redis_url_for

    settings = Settings.from_env()
    data = read_json_input(args.file)
    if not isinstance(data, dict):
        raise UsageError(f"{args.file}: expected one JSON object (a proposal)")
    policy = configured_policy(settings)
    parse_proposal(data, policy=policy)
    with redis_url_for(settings.redis_url, settings.data_dir) as url:
        client = Client.from_url(url, policy=policy)
        pid = client.submit(data)
        if not args.wait:
            print(json.dumps({"proposal_id": pid, "status": "submitted"}))
            return 0
        decision = client.wait(pid, args.timeout)
    if decision is None:
        print(json.dumps({"proposal_id": pid, "outcome": None, "status": "pending"}))
        print(f"handoff submit: no decision for {pid} within {args.timeout:g}s; it is still pending", file=sys.stderr)
        return exit_status.PENDING
    print(decision.model_dump_json())
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from bot.store.ledger import Ledger

    settings = Settings.from_env()
    path = settings.ledger_path
    if not settings.ledger_on_postgres and not path.exists():
        raise UsageError(f"{path}: no ledger there; set HANDOFF_DB to the ledger file")
    ledger = Ledger(settings.ledger_target, read_only=True)
    try:
        verdict, where = ledger.verify(args.head), ledger.describe()
    finally:
        ledger.close()
    if not verdict.ok:
        print(f"handoff verify: {where}: {verdict.problem}", file=sys.stderr)
        return exit_status.TAMPERED
    print(f"{where}: intact, {verdict.events} events, head {verdict.head}")
    return 0


def run_mcp(args: argparse.Namespace) -> int:
    from bot.adapters.core import open_client
    from bot.settings import Settings

    try:
        from bot.adapters.mcp import serve_stdio
    except ImportError as exc:
        raise UsageError(f"the MCP server needs the mcp package ({exc}); pip install 'handoff[mcp]'") from None
    settings = Settings.from_env()
    client = open_client(settings)
    try:
        serve_stdio(client, default_wait=settings.wait if args.wait is None else args.wait)
    finally:
        client.close()
    return 0


def run_policy_check(args: argparse.Namespace) -> int:
    from bot.review.policy_file import load_policy
    from scoring.policy import policy_notes

    policy = load_policy(args.file)
    print(f"{args.file}: ok, {len(policy.categories)} categories, version {policy.version}")
    for note in policy_notes(args.file.read_text(encoding="utf-8"), policy):
        print(f"{args.file}: note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
