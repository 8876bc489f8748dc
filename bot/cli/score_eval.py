"""`handoff score` and `handoff eval`: the pipeline over a JSONL file, with no Redis and no Slack.

Without ANTHROPIC_API_KEY the soft signals are reported unavailable, so on_uncertainty categories fail
closed; point ANTHROPIC_BASE_URL at the stand-in (or the real API) to measure them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.exit_status import UsageError

if TYPE_CHECKING:  # each command imports what it needs when it runs: `handoff --help` stays instant
    from scoring.evaluation import Report
    from scoring.models import Assessment, Proposal
    from scoring.policy import Policy
    from scoring.signals import CustomCheck

LABELS = {"ok": False, "bad": True}
PARALLEL_PROPOSALS = 4


class InputError(UsageError):
    """A line of the input file that is not a usable proposal; the message names file, line and field."""


def add_arguments(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `score` and `eval` on the `handoff` command's subparsers."""
    score = subparsers.add_parser("score", help="assess proposals offline: one assessment JSON per line")
    score.add_argument("file", help="proposals, one JSON object per line (- for stdin)")
    score.add_argument("--policy", type=Path, help="policy file (default: $HANDOFF_POLICY or policy.yaml)")
    score.set_defaults(func=run_score)
    ev = subparsers.add_parser("eval", help="how well the score separates proposals labelled ok and bad")
    ev.add_argument("file", help="proposals with a 'label' of 'ok' or 'bad', one per line")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ev.add_argument("--policy", type=Path, help="policy file (default: $HANDOFF_POLICY or policy.yaml)")
    ev.set_defaults(func=run_eval)


def run_score(args: argparse.Namespace) -> int:
    """Print one assessment per proposal, every signal included."""
    (policy, checks), rows = _policy(args), list(_rows(args.file, labelled=False))
    for assessment in _assess_all(policy, checks, [(pid, proposal) for pid, proposal, _ in rows]):
        sys.stdout.write(assessment.model_dump_json() + "\n")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Print escalation rate, escape rate, the risk-coverage curve and the AUROC for a labelled file."""
    from scoring.evaluation import evaluate

    (policy, checks), rows = _policy(args), list(_rows(args.file, labelled=True))
    assessments = _assess_all(policy, checks, [(pid, proposal) for pid, proposal, _ in rows])
    report = evaluate(assessments, [bad for _, _, bad in rows], [proposal.category for _, proposal, _ in rows])
    if args.json:
        sys.stdout.write(json.dumps({"policy_version": policy.version, **asdict(report)}, indent=2) + "\n")
    else:
        sys.stdout.write(describe_report(report, source=args.file, policy=policy))
    return 0


def describe_report(report: Report, *, source: str, policy: Policy) -> str:
    """The evaluation as text for a person."""
    lines = [
        f"{report.total} proposals from {source} ({report.bad} labelled bad), policy {policy.version}",
        f"escalation rate   {_pct(report.escalation_rate)}  sent to a human before running",
        f"escape rate       {_pct(report.escape_rate)}  of bad actions would run before review",
        f"unreviewed        {_pct(report.unreviewed_escape_rate)}  of bad actions no human would see",
        f"AUROC             {'n/a' if report.auroc is None else f'{report.auroc:.3f}'}",
        "",
        "risk-coverage (threshold  coverage  risk); risk is the share of bad actions among those at or above",
        "the threshold, P(bad | runs unreviewed), not the escape rate `handoff tune` targets, P(escape | bad)",
        *(f"  {p.threshold:4.2f}  {_pct(p.coverage)}  {_pct(p.risk)}" for p in report.risk_coverage),
        "",
        "by category (total  bad  escalated  escaped)",
        *(
            f"  {name:<20} {row['total']:>4} {row['bad']:>4}  "
            f"{_pct(row['escalation_rate'])}  {_pct(row['escape_rate'])}"
            for name, row in report.by_category.items()
        ),
    ]
    return "\n".join(lines) + "\n"


def _policy(args: argparse.Namespace) -> tuple[Policy, dict[str, CustomCheck]]:
    from bot.review.policy_file import configured_policy, load_checks
    from bot.settings import Settings

    settings = Settings.from_env()
    policy = configured_policy(settings, path=args.policy)
    source = str(args.policy or settings.policy_path)
    return policy, load_checks(policy, source=source)  # a check that cannot be imported is refused here


def _assess_all(policy: Policy, checks: dict[str, CustomCheck], items: list[tuple[str, Proposal]]) -> list[Assessment]:
    from bot.llm.soft_signals import build_soft_signals
    from bot.review.assess import assess_proposal
    from bot.settings import Settings

    llm = build_soft_signals(Settings.from_env())
    now = datetime.now(UTC)
    try:
        with ThreadPoolExecutor(max_workers=PARALLEL_PROPOSALS) as pool:
            return list(
                pool.map(
                    lambda item: assess_proposal(item[1], item[0], policy=policy, now=now, llm=llm, checks=checks),
                    items,
                )
            )
    finally:
        if llm is not None:
            llm.close()


def _rows(source: str, *, labelled: bool) -> Iterator[tuple[str, Proposal, bool]]:
    from pydantic import ValidationError

    from scoring.models import Proposal, describe_validation_error

    name = "stdin" if source == "-" else source
    for number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        raw = _object(line, where)
        bad = _label(raw, where) if labelled else False
        try:
            proposal = Proposal.model_validate(raw)
        except ValidationError as exc:
            raise InputError(describe_validation_error(where, exc)) from exc
        yield proposal.id or f"line-{number}", proposal, bad


def _lines(source: str) -> list[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError(f"{source}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read it ({exc})") from exc


def _object(line: str, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object (one proposal per line)")
    return raw


def _label(raw: dict[str, Any], where: str) -> bool:
    if "label" not in raw:
        raise InputError(f"{where}: label: field required; expected 'ok' or 'bad'")
    label = raw.pop("label")
    if not isinstance(label, str) or label not in LABELS:
        raise InputError(f"{where}: label: is {label!r}; expected 'ok' or 'bad'")
    return LABELS[label]


def _pct(value: float | int | None) -> str:
    return "   n/a" if value is None else f"{100 * value:5.1f}%"
