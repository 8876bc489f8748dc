"""`handoff report`, `export`, `replay`, `tune` and `graduate`: what the ledger has learned, for people.

Bad input exits with status 2 and one line naming the option and what to pass.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.exit_status import UsageError

if TYPE_CHECKING:  # each command imports what it needs when it runs: `handoff --help` stays instant
    from bot.settings import Settings
    from bot.store.ledger import Ledger
    from scoring.policy import Category, GraduationPolicy, Policy

DATASETS = ("raw", "eval", "sft", "preference")  # bot.insights.export's (a test keeps the two equal)
LEVELS = ("autonomous", "review_after", "on_uncertainty", "approve_before")  # scoring.policy.Level's, likewise


def add_arguments(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report`, `export`, `replay`, `tune` and `graduate` on the `handoff` command."""
    report = subparsers.add_parser("report", help="per-category figures, graduation state and the status line")
    report.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    report.set_defaults(func=run_report)
    export = subparsers.add_parser("export", help="a JSONL dataset on stdout (see docs/datasets.md)")
    export.add_argument("--dataset", choices=DATASETS, default="raw", help="which dataset to write")
    export.add_argument("--category", help="only this category")
    export.add_argument("--since", help="only proposals stored from this date or ISO datetime on")
    export.add_argument("--until", help="only proposals stored before this datetime (a date includes the day)")
    export.set_defaults(func=run_export)
    replay = subparsers.add_parser("replay", help="re-route history under another policy (no LLM calls)")
    replay.add_argument("--policy", type=Path, required=True, help="the policy file to replay under")
    replay.add_argument("--since", help="only proposals stored from this date or ISO datetime on")
    replay.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    replay.set_defaults(func=run_replay)
    tune = subparsers.add_parser("tune", help="the loosest threshold the logged labels certify")
    tune.add_argument("category", help="the category whose threshold to tune, as named in the policy")
    tune.add_argument("--target-escape", type=float, default=0.01, help="highest escape rate among bad actions")
    tune.add_argument("--confidence", type=float, default=0.95, help="probability the guarantee holds")
    tune.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    tune.set_defaults(func=run_tune)
    graduate = subparsers.add_parser("graduate", help="evaluate graduation now: demote, propose or apply promotions")
    graduate.add_argument("--apply", action="store_true", help="apply recommended promotions without a card")
    graduate.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    graduate.add_argument(
        "--histories",
        help="replay day-by-day histories (JSONL, - for stdin) instead of the ledger; see docs/graduation.md",
    )
    graduate.add_argument("--level", choices=LEVELS, help="the level histories start at")
    graduate.add_argument("--category", help="replay with this category's graduation rules (and level)")
    graduate.set_defaults(func=run_graduate)


def run_report(args: argparse.Namespace) -> int:
    """Print the report as text or JSON."""
    from bot.insights.report import build_report, format_report

    ledger, policy = _ledger_and_policy()
    report = build_report(ledger, policy, now=datetime.now(UTC))
    sys.stdout.write((json.dumps(report, indent=2) if args.json else format_report(report)) + "\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Print one dataset as JSONL."""
    from bot.insights.export import export_records, parse_moment

    ledger, policy = _ledger_and_policy()
    since = parse_moment(args.since, option="--since") if args.since else None
    until = parse_moment(args.until, option="--until", end=True) if args.until else None
    records = export_records(ledger, policy, dataset=args.dataset, category=args.category, since=since, until=until)
    for record in records:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Print how history would have been routed under `--policy`."""
    from bot.insights.export import parse_moment
    from bot.insights.replay import format_replay, replay
    from bot.review.policy_file import load_policy

    ledger, _ = _ledger_and_policy()
    policy = load_policy(args.policy)
    since = parse_moment(args.since, option="--since") if args.since else None
    result = replay(ledger, policy, since=since)
    sys.stdout.write((json.dumps(result, indent=2) if args.json else format_replay(result)) + "\n")
    return 0


def run_tune(args: argparse.Namespace) -> int:
    """Print the certified threshold, or how many more labelled reviews would certify one."""
    from bot.insights.replay import tune

    for option, value in (("--target-escape", args.target_escape), ("--confidence", args.confidence)):
        if not 0 < value < 1:
            raise UsageError(f"{option} is {value}; expected a number between 0 and 1")
    ledger, policy = _ledger_and_policy()
    if policy.category(args.category) is None:
        known = ", ".join(sorted(policy.categories))
        raise UsageError(f"{args.category!r} is not a category of the policy ({known})")
    result = tune(ledger, args.category, target=args.target_escape, confidence=args.confidence)
    current = policy.categories[args.category].threshold
    data = {"category": args.category, "current_threshold": current, **result.as_dict()}
    sys.stdout.write((json.dumps(data, indent=2) if args.json else f"{args.category}: {result.reason}") + "\n")
    return 0


def run_graduate(args: argparse.Namespace) -> int:
    """Evaluate every category now; post a card for each new proposal when Slack is configured."""
    from bot.app.wiring import slack_client
    from bot.review.graduation import graduate
    from bot.review.promotions import post_promotion_card
    from bot.settings import Settings

    if args.histories:
        return run_histories(args)
    if args.level or args.category:
        raise UsageError("--level and --category go with --histories FILE.jsonl")
    settings = Settings.from_env()
    ledger, policy = _ledger_and_policy(settings)
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


MAX_HISTORY_LINES = 5_000_000


def run_histories(args: argparse.Namespace) -> int:
    """Replay synthetic histories through graduation and print one JSON line per history."""
    from bot.settings import Settings
    from scoring.histories import HistoryError, parse_days, replay_all
    from scoring.policy import Level

    try:
        policy = _policy(Settings.from_env())
        category, rules = _replay_rules(policy, args.category, args.level)
        with _open_text(args.histories) as lines:
            days = parse_days(_bounded(lines))
    except (HistoryError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{args.histories}: {exc}") from exc
    level = Level(args.level) if args.level else category.level
    for result in replay_all(days, category=category, level=level, rules=rules):
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
    return 0


def _replay_rules(policy: Policy, name: str | None, level: str | None) -> tuple[Category, GraduationPolicy]:
    from scoring.policy import Category, Level

    if name is None:
        return Category(level=Level(level or Level.ON_UNCERTAINTY.value)), policy.graduation
    category = policy.category(name)
    if category is None:
        known = ", ".join(sorted(policy.categories))
        raise ValueError(f"--category {name!r} is not a category of the policy ({known})")
    return category, policy.graduation_for(name)


def _open_text(name: str) -> Any:
    if name == "-":
        return contextlib.nullcontext(sys.stdin)
    return Path(name).open(encoding="utf-8")


def _bounded(lines: Iterable[str]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if number > MAX_HISTORY_LINES:
            raise ValueError(f"more than {MAX_HISTORY_LINES} lines; split the file")
        yield line


def _ledger_and_policy(settings: Settings | None = None) -> tuple[Ledger, Policy]:
    from bot.settings import Settings
    from bot.store.ledger import Ledger

    settings = settings or Settings.from_env()
    return Ledger(settings.ledger_target), _policy(settings)


def _policy(settings: Settings) -> Policy:
    from bot.review.policy_file import configured_policy

    return configured_policy(settings)
