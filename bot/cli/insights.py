"""`handoff report`, `export`, `replay`, `tune` and `graduate`: what the ledger has learned, for people.

Bad input exits with status 2 and one line naming the option and what to pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.insights.export import DATASETS, ExportError, export_records, parse_moment
from bot.review.policy_file import load_policy
from bot.settings import Settings, SettingsError
from bot.store.ledger import Ledger
from scoring.policy import Policy, PolicyError

EXIT_BAD_INPUT = 2


def add_arguments(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report`, `export`, `replay`, `tune` and `graduate` on the `handoff` command."""
    report = subparsers.add_parser("report", help="per-category figures, graduation state and the status line")
    report.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    report.set_defaults(func=run_report)
    export = subparsers.add_parser("export", help="a JSONL dataset on stdout (see docs/datasets.md)")
    export.add_argument("--dataset", choices=DATASETS, default="raw", help="raw (default), eval, sft or preference")
    export.add_argument("--category", help="only this category")
    export.add_argument("--since", help="only proposals stored from this date or ISO datetime on")
    export.add_argument("--until", help="only proposals stored before this datetime (a date includes the day)")
    export.set_defaults(func=run_export)
    replay = subparsers.add_parser("replay", help="re-route history under another policy (no LLM calls)")
    replay.add_argument("--policy", type=Path, required=True, help="the policy file to replay under")
    replay.add_argument("--since", help="only proposals stored from this date or ISO datetime on")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=run_replay)
    tune = subparsers.add_parser("tune", help="the loosest threshold the logged labels certify")
    tune.add_argument("category")
    tune.add_argument("--target-escape", type=float, default=0.01, help="highest escape rate among bad actions")
    tune.add_argument("--confidence", type=float, default=0.95, help="probability the guarantee holds")
    tune.add_argument("--json", action="store_true")
    tune.set_defaults(func=run_tune)
    graduate = subparsers.add_parser("graduate", help="evaluate graduation now: demote, propose or apply promotions")
    graduate.add_argument("--apply", action="store_true", help="apply recommended promotions without a card")
    graduate.add_argument("--json", action="store_true")
    graduate.set_defaults(func=run_graduate)


def run_report(args: argparse.Namespace) -> int:
    """Print the report as text or JSON."""
    from bot.insights.report import build_report, format_report

    try:
        ledger, policy = _ledger_and_policy()
    except (PolicyError, SettingsError) as exc:
        return _refuse("report", exc)
    report = build_report(ledger, policy, now=datetime.now(UTC))
    sys.stdout.write((json.dumps(report, indent=2) if args.json else format_report(report)) + "\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Print one dataset as JSONL."""
    try:
        ledger, policy = _ledger_and_policy()
        since = parse_moment(args.since, option="--since") if args.since else None
        until = parse_moment(args.until, option="--until", end=True) if args.until else None
        records = export_records(ledger, policy, dataset=args.dataset, category=args.category, since=since, until=until)
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    except (ExportError, PolicyError, SettingsError) as exc:
        return _refuse("export", exc)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Print how history would have been routed under `--policy`."""
    from bot.insights.replay import format_replay, replay

    try:
        ledger, _ = _ledger_and_policy()
        policy = load_policy(args.policy)
        since = parse_moment(args.since, option="--since") if args.since else None
    except (ExportError, PolicyError, SettingsError) as exc:
        return _refuse("replay", exc)
    result = replay(ledger, policy, since=since)
    sys.stdout.write((json.dumps(result, indent=2) if args.json else format_replay(result)) + "\n")
    return 0


def run_tune(args: argparse.Namespace) -> int:
    """Print the certified threshold, or how many more labelled reviews would certify one."""
    from bot.insights.replay import tune

    for option, value in (("--target-escape", args.target_escape), ("--confidence", args.confidence)):
        if not 0 < value < 1:
            return _refuse("tune", ValueError(f"{option} is {value}; expected a number between 0 and 1"))
    try:
        ledger, policy = _ledger_and_policy()
    except (PolicyError, SettingsError) as exc:
        return _refuse("tune", exc)
    if policy.category(args.category) is None:
        known = ", ".join(sorted(policy.categories))
        return _refuse("tune", ValueError(f"{args.category!r} is not a category of the policy ({known})"))
    result = tune(ledger, args.category, target=args.target_escape, confidence=args.confidence)
    current = policy.categories[args.category].threshold
    data = {"category": args.category, "current_threshold": current, **result.as_dict()}
    sys.stdout.write((json.dumps(data, indent=2) if args.json else f"{args.category}: {result.reason}") + "\n")
    return 0


def run_graduate(args: argparse.Namespace) -> int:
    """Evaluate every category now; post a card for each new proposal when Slack is configured."""
    from bot.app.listeners.promotions import post_promotion_card
    from bot.app.wiring import slack_client
    from bot.review.graduation import graduate

    try:
        settings = Settings.from_env()
        ledger, policy = _ledger_and_policy(settings)
    except (PolicyError, SettingsError) as exc:
        return _refuse("graduate", exc)
    steps = graduate(ledger, policy, now=datetime.now(UTC), apply=args.apply, actor="cli:graduate")
    slack = slack_client(settings) if settings.slack_bot_token.get_secret_value() else None
    for step in steps:
        if step.action == "proposed" and step.seq is not None and slack is not None:
            post_promotion_card(slack, ledger, policy, step.seq)
    rows = [{"action": s.action, "event": s.seq, **s.verdict.as_dict()} for s in steps]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for row in rows:
        move = f" → {row['target']}" if row["action"] != "none" else ""
        sys.stdout.write(f"{row['category']:<20} {row['level']}{move}: {row['action']} ({row['reason']})\n")
    if slack is None and any(s.action == "proposed" for s in steps):
        sys.stdout.write("SLACK_BOT_TOKEN is not set: no cards posted; apply with `handoff graduate --apply`\n")
    return 0


def _ledger_and_policy(settings: Settings | None = None) -> tuple[Ledger, Policy]:
    settings = settings or Settings.from_env()
    policy = load_policy(settings.policy_path, explicit=settings.policy_path != Path("policy.yaml"))
    return Ledger(settings.ledger_path), policy


def _refuse(command: str, exc: Exception) -> int:
    sys.stderr.write(f"handoff {command}: {exc}\n")
    return EXIT_BAD_INPUT
