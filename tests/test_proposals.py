"""Bad proposals and policies are refused with messages that name the field, and nothing is stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.client import Client, ProposalError
from bot.runtime import Runtime
from scoring.policy import PolicyError, parse_policy
from tests.conftest import REPO, work

GOOD: dict[str, Any] = {
    "category": "customer_email",
    "action": {"name": "send_email", "args": {"to": "a@example.com", "subject": "s", "body": "b"}},
    "summary": "Email a customer",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"summary": None}, "summary: input should be a valid string"),
        ({"action": None}, "action: input should be a valid dictionary"),
        ({"action": {"args": {}}}, "action.name: field required"),
        ({"action": {"name": "x", "args": []}}, "action.args: input should be a valid dictionary"),
        ({"agent_confidence": 1.5}, "agent_confidence: input should be less than or equal to 1"),
        ({"id": "has spaces"}, "id: must be 1-64 letters, digits"),
        ({"callback": "not a path"}, "callback: must be an importable"),
        ({"categroy": "x"}, "categroy: extra inputs are not permitted"),
        ({"category": "refund_everything"}, "category: 'refund_everything' is not in the policy"),
        ({"input": {"request": "x" * 5_000_000}}, "5.0 MB is over the 1 MB limit"),
        ({"entities": [{"matches": []}]}, "entities.0.reference: field required"),
    ],
)
def test_malformed_proposal_is_refused_naming_the_field(runtime: Runtime, change: dict[str, Any], message: str) -> None:
    """Each malformed proposal gets an error naming its field, and no ledger row or queued job."""
    proposal = {**GOOD, **change}
    if change.get("summary", "") is None:
        proposal["summary"] = None
    with pytest.raises(ProposalError, match=r"^proposal: ") as info:
        Client(runtime.redis, policy=runtime.policy).submit(proposal)
    assert message in str(info.value)
    work(runtime)
    assert runtime.ledger.counts()["proposals"] == 0
    assert runtime.board.inbox() == []


def handoff(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, timeout=60, cwd=REPO, env=env
    )


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b'{"category": "customer_email", "summary": "x", "action": {"name": "a"}, \xff}', "is not valid UTF-8"),
        (b"{not json", "not valid JSON at line 1"),
        (b"[1, 2]", "expected one JSON object"),
        (json.dumps({**GOOD, "summary": 3}).encode(), "summary: input should be a valid string"),
    ],
)
def test_submit_cli_refuses_bad_input_with_one_line(stdin: bytes, message: str, tmp_path: Path) -> None:
    """`handoff submit -` exits 2 with a one-line reason before touching Redis."""
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0", "HANDOFF_DATA_DIR": str(tmp_path)}
    result = handoff("submit", "-", stdin=stdin, env=env)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("handoff submit: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "categories:\n  refund:\n    level: approve_before\n    threshhold: 0.5\n",
            "categories.refund.threshhold: extra inputs are not permitted",
        ),
        ("categories:\n  refund:\n    level: sometimes\n", "categories.refund.level: input should be"),
        (
            "categories:\n  refund:\n    level: on_uncertainty\n    threshold: 1.4\n",
            "categories.refund.threshold: input should be less than or equal to 1",
        ),
        (
            "categories:\n  refund:\n    level: review_after\n    never_graduate: true\n",
            "never_graduate categories must stay at approve_before",
        ),
        ("categories: {}\n", "categories: dictionary should have at least 1 item"),
        ("categories: [a\n", "not valid YAML at line"),
        ("- just a list\n", "expected a mapping with a top-level 'categories:' key"),
    ],
)
def test_bad_policy_is_refused_with_the_key_path(text: str, message: str) -> None:
    """Every policy mistake names the file, the key and what is expected."""
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="policy.yaml")
    assert str(info.value).startswith("policy.yaml: ")
    assert message in str(info.value)


def test_policy_check_command(tmp_path: Path) -> None:
    """`handoff policy check` accepts the example policy and refuses a typo with exit status 2."""
    good = handoff("policy", "check", "policy.yaml")
    assert good.returncode == 0, good.stderr
    assert b"5 categories" in good.stdout
    broken = tmp_path / "p.yaml"
    broken.write_text("categories:\n  tag_ticket:\n    level: review_after\n    chanel: '#x'\n")
    bad = handoff("policy", "check", str(broken))
    assert bad.returncode == 2
    assert "categories.tag_ticket.chanel: extra inputs are not permitted" in bad.stderr.decode()


def test_packaged_default_policy_matches_the_example() -> None:
    """The policy shipped inside the package is the repository's example policy."""
    packaged = (REPO / "bot" / "data" / "default_policy.yaml").read_text()
    assert packaged == (REPO / "policy.yaml").read_text()
