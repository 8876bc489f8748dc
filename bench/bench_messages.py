"""Benchmark: Slack messages for actions that ran before review, one message each (before: `digest: false`)
against digests (after), with the demo's proposal mix through the real loop.

Each mode runs in its own embedded Redis, Slack and Claude stand-ins, web app and temporary ledger, as
`handoff demo` does: the demo's scenarios are submitted `--rounds` times (fresh ids), a worker runs
every job, and the ledger's count of posted messages (`bot.store.review_load`) is read. Then every
action that ran before review is answered through signed clicks on the messages as Slack holds them:
in each message, one Flag, and "Looks right" on every other item (before) or one "Looked at all — fine"
(after). The run fails unless every such action, and every escalation's card, was within reach in both.
Run: `python bench/bench_messages.py [--rounds 20]`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from bot.app.demo import scenarios, work
from bot.app.demo_reviewers import DEMO_USERGROUPS
from bot.app.web import LocalServer, wsgi_app
from bot.app.wiring import build_runtime
from bot.client import Client
from bot.review.flags import needs_review_after
from bot.review.policy_file import configured_policy
from bot.runtime import Runtime, activate
from bot.sandbox.anthropic_api import AnthropicStandIn
from bot.sandbox.reviewer import Reviewer
from bot.sandbox.slack_api import SlackStandIn
from bot.settings import Settings
from bot.slack.surfaces.blocks import APPROVE
from bot.slack.surfaces.digest_card import LOOKED_AT_ALL
from bot.slack.surfaces.flag_card import FLAG, LOOKS_RIGHT
from bot.store import review_load
from bot.store.embedded_redis import EmbeddedServer
from scoring.policy import Policy

REVIEWER = "U0REVIEWER"


@dataclass(frozen=True)
class Figures:
    """What one mode posted and what a reviewer could reach."""

    proposals: int
    ran_before_review: int
    messages: Counter[str]
    answered: int  # actions that ran before review a person answered through the messages' controls
    cards: int  # escalations with a live card to decide
    escalated: int

    @property
    def review_after_messages(self) -> int:
        return sum(self.messages[kind] for kind in review_load.REVIEW_AFTER_KINDS)

    def per_100(self, count: int) -> float:
        return 100 * count / self.ran_before_review if self.ran_before_review else float("nan")


def per_action(policy: Policy) -> Policy:
    """The policy with one message per action that ran before review (the behaviour before digests)."""
    categories = {name: rules.model_copy(update={"digest": False}) for name, rules in policy.categories.items()}
    return policy.model_copy(update={"categories": categories})


def run(*, digests: bool, rounds: int) -> Figures:
    """Submit the demo mix `rounds` times through the real loop; count messages, answer every action."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handoff-bench-")))
        redis = EmbeddedServer(workdir / "data")
        stack.callback(redis.stop)
        url = redis.join_or_start()
        slack = stack.enter_context(SlackStandIn())
        for group, members in DEMO_USERGROUPS.items():
            slack.set_usergroup(group, members)
        claude = stack.enter_context(AnthropicStandIn())
        secret = secrets.token_hex(16)
        settings = Settings(
            slack_bot_token=SecretStr(slack.token),
            slack_signing_secret=SecretStr(secret),
            slack_api_url=slack.url,
            anthropic_api_key=SecretStr("sk-ant-bench-not-a-real-key"),
            anthropic_base_url=claude.url,
            redis_url=url,
            data_dir=workdir / "data",
            db_path=workdir / "ledger.db",
            policy_path=Path("policy.yaml"),  # absent: the packaged example policy (as `handoff demo`)
            post_rate=0,  # no pacing: it is not what is measured here
        )
        policy = configured_policy(settings)
        runtime = build_runtime(settings, redis_url=url, policy=policy if digests else per_action(policy))
        stack.callback(runtime.close)
        activate(runtime)
        web = LocalServer(wsgi_app(runtime))
        stack.callback(web.stop)
        reviewer = Reviewer(web.url + "/slack/events", secret, slack)
        return _measure(runtime, slack, reviewer, rounds=rounds)


def _measure(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, *, rounds: int) -> Figures:
    client = Client(runtime.redis, policy=runtime.policy)
    ids = [client.submit({**data, "id": f"{data['id']}-{n}"}) for n in range(rounds) for data in scenarios()]
    work(runtime)
    after = [pid for pid in ids if needs_review_after(runtime.ledger.assessment(pid))]
    escalated = [pid for pid in ids if runtime.ledger.card(pid) is not None]
    messages: Counter[str] = Counter()
    for kinds in review_load.posts_by_category(runtime.ledger).values():
        messages.update(kinds)
    cards = sum(1 for pid in escalated if _message_with(slack, APPROVE, pid) is not None)
    _answer_all(runtime, slack, reviewer, after)
    answered = sum(1 for pid in after if _answered(runtime, pid))
    return Figures(len(ids), len(after), messages, answered, cards, len(escalated))


def _message_with(slack: SlackStandIn, action_id: str, value: str) -> dict[str, Any] | None:
    """The message (current revision) holding button `action_id` with `value`, or None."""
    needle = json.dumps({"action_id": action_id})[1:-1]
    for message in slack.messages():
        text = json.dumps(message)
        if needle in text and json.dumps(value) in text:
            return message
    return None


def _answer_all(runtime: Runtime, slack: SlackStandIn, reviewer: Reviewer, pids: list[str]) -> None:
    """Answer every action that ran before review from its message: one Flag per message, the rest as fine."""
    flagged_in: set[str] = set()
    for pid in pids:
        message = _message_with(slack, FLAG, pid)
        if message is None or message["ts"] in flagged_in:
            continue
        flagged_in.add(message["ts"])
        reviewer.click(message, FLAG, value=pid, user=REVIEWER)
        work(runtime)
    for pid in pids:
        if _answered(runtime, pid):
            continue
        looks_right = _message_with(slack, LOOKS_RIGHT, pid)
        if looks_right is not None:
            reviewer.click(looks_right, LOOKS_RIGHT, user=REVIEWER)
        else:
            digest = _message_with(slack, FLAG, pid)
            if digest is not None and LOOKED_AT_ALL in json.dumps(digest):
                reviewer.click(digest, LOOKED_AT_ALL, user=REVIEWER)
        work(runtime)


def _answered(runtime: Runtime, pid: str) -> bool:
    rows = runtime.ledger.db.execute(
        "SELECT (SELECT COUNT(*) FROM flags WHERE proposal_id = ?) + (SELECT COUNT(*) FROM confirmations"
        " WHERE proposal_id = ?)",
        [pid, pid],
    ).fetchone()
    return bool(rows[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="times the demo's scenarios are submitted")
    args = parser.parse_args()
    before, after = run(digests=False, rounds=args.rounds), run(digests=True, rounds=args.rounds)
    for name, figures in (("before (one message per action)", before), ("after (digests)", after)):
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(figures.messages.items()))
        print(f"{name}: {figures.proposals} proposals, {figures.ran_before_review} ran before review")
        print(f"  Slack messages: {sum(figures.messages.values())} ({kinds})")
        print(f"  review-after messages per 100 such actions: {figures.per_100(figures.review_after_messages):6.1f}")
        print(
            f"  answered through the messages: {figures.answered} of {figures.ran_before_review};"
            f" live cards {figures.cards} of {figures.escalated} escalations"
        )
    ratio = before.review_after_messages / max(1, after.review_after_messages)
    print(f"ratio before / after (review-after messages): {ratio:.1f}x fewer  (target ≥ 5x)")
    total = sum(before.messages.values()) / max(1, sum(after.messages.values()))
    print(f"ratio before / after (all messages):          {total:.1f}x fewer")
    reachable = all(f.answered == f.ran_before_review and f.cards == f.escalated for f in (before, after))
    print(
        "nothing out of reach: every action that ran before review answered, every escalation has its card"
        if reachable
        else "OUT OF REACH: see the counts above"
    )
    if not reachable:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
