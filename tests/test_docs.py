"""The docs stay true: manifests, the README's commands, CLI names, variables and policy fields."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from slack_sdk import WebClient

from bot.cli import build_parser
from bot.client import parse_proposal
from bot.review.policy_file import load_policy
from bot.settings import Settings, SettingsError
from scoring.models import Assessment, Decision
from scoring.policy import Category, Policy, PolicyError, parse_policy, policy_notes

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
POLICY_DOC = REPO / "docs" / "policy.md"
MANIFESTS = {"http": REPO / "slack" / "manifest.http.yaml", "socket": REPO / "slack" / "manifest.socket-mode.yaml"}
# The bot scopes each Web API method handoff calls needs (Slack's method reference, "Required scopes").
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "apps.connections.open": set(),  # Socket Mode: the app-level token's connections:write, not a bot scope
    "chat.postMessage": {"chat:write", "chat:write.public"},  # .public: post in public channels without joining
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.getPermalink": set(),
    "conversations.open": {"im:write"},  # a DM with one reviewer (timers' reminders)
    "usergroups.users.list": {"usergroups:read"},
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "views.publish": set(),
}
FEATURE_SCOPES = {"commands"}  # the manifest's /handoff slash command
FIRST_COMMANDS = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]" && handoff demo',
    "python -m pytest",
]
EVENTS_URL = "https://YOUR-HOST/slack/events"


def manifest(kind: str) -> dict[str, Any]:
    data = yaml.safe_load(MANIFESTS[kind].read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{MANIFESTS[kind].name} is not a YAML mapping"
    return data


def code_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced code blocks, in order."""
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def code_text(markdown: str) -> str:
    """Everything a reader would type or copy: fenced blocks and inline code spans."""
    without_blocks = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", without_blocks)
    return "\n".join([*code_blocks(markdown), *spans])


def section(markdown: str, title: str) -> str:
    """The text under a `## title` heading, up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, flags=re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of `parser`, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_manifest_has_the_keys_slack_needs(kind: str) -> None:
    """Both manifests parse and declare the bot user, Home tab, slash command, scopes and events."""
    data = manifest(kind)
    assert data["display_information"]["name"]
    features = data["features"]
    assert features["bot_user"]["display_name"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert [c["command"] for c in features["slash_commands"]] == ["/handoff"]
    assert sorted(data["oauth_config"]["scopes"]["bot"]) == sorted(needed_scopes())
    app_home = features["app_home"]
    if not app_home["messages_tab_enabled"]:  # Slack's manifest schema refuses a read-only flag without the tab
        assert "messages_tab_read_only_enabled" not in app_home
    settings = data["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["token_rotation_enabled"] is False


def called_methods() -> set[str]:
    """The Web API methods the code under bot/ calls through a WebClient (the sandbox stand-ins excluded)."""
    names = set()
    for path in (REPO / "bot").rglob("*.py"):
        if "sandbox" not in path.parts:
            names |= set(re.findall(r"\.([a-z]+_[a-zA-Z_]+)\(", path.read_text(encoding="utf-8")))
    methods = {name for name in names if callable(getattr(WebClient, name, None)) and name not in WEBCLIENT_PLUMBING}
    return {_api_name(method) for method in methods}


WEBCLIENT_PLUMBING = {"api_call"}


def _api_name(method: str) -> str:
    """`usergroups_users_list` -> `usergroups.users.list`, `chat_postMessage` -> `chat.postMessage`."""
    return method.replace("_", ".")


def needed_scopes() -> set[str]:
    """The scopes the called methods need, plus those of the manifest's features."""
    methods = called_methods()
    unmapped = methods - set(METHOD_SCOPES)
    assert not unmapped, f"add the scopes of {sorted(unmapped)} to METHOD_SCOPES (and the manifests)"
    return FEATURE_SCOPES.union(*(METHOD_SCOPES[m] for m in methods))


def test_the_scan_finds_the_methods_handoff_calls() -> None:
    """The scan sees the calls the review loop cannot work without (a guard against a scan that finds nothing)."""
    assert {"chat.postMessage", "chat.update", "views.open", "usergroups.users.list"} <= called_methods()


def test_http_manifest_sends_everything_to_the_events_url() -> None:
    """The HTTP manifest points interactivity, events and /handoff at POST /slack/events, Socket Mode off."""
    data = manifest("http")
    settings = data["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["interactivity"]["request_url"] == EVENTS_URL
    assert settings["event_subscriptions"]["request_url"] == EVENTS_URL
    assert [c["url"] for c in data["features"]["slash_commands"]] == [EVENTS_URL]


def test_socket_mode_manifest_needs_no_url() -> None:
    """Only the Socket Mode manifest enables Socket Mode, and it names no request URL."""
    data = manifest("socket")
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["interactivity"]
    assert "request_url" not in data["settings"]["event_subscriptions"]
    assert all("url" not in c for c in data["features"]["slash_commands"])


def test_readme_opens_with_the_two_commands() -> None:
    """The README's first code block is the install-and-demo command, then the test command."""
    first = code_blocks(README.read_text(encoding="utf-8"))[0]
    assert [line.strip() for line in first.splitlines() if line.strip()] == FIRST_COMMANDS


def test_every_subcommand_in_the_readme_exists() -> None:
    """Each `handoff <command> [<action>]` the README shows is one build_parser() accepts."""
    commands = subcommands(build_parser())
    shown = re.findall(r"(?<![\w/.-])handoff ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", code_text(README.read_text()))
    assert shown, "the README names no handoff command"
    for name, action in shown:
        assert name in commands, f"README shows `handoff {name}`, which the CLI does not have"
        nested = subcommands(commands[name])
        if nested:
            assert action in nested, f"README shows `handoff {name} {action}`; expected one of {sorted(nested)}"


def test_every_configuration_variable_is_read_by_the_code() -> None:
    """Each variable in the README's configuration table is read somewhere under bot/."""
    table = section(README.read_text(encoding="utf-8"), "Configuration")
    names = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, flags=re.MULTILINE)
    assert {"SLACK_BOT_TOKEN", "REDIS_URL", "HANDOFF_POLICY"} <= set(names)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "bot").rglob("*.py"))
    unread = [n for n in names if not re.search(rf"[\"']{n}[\"']", source)]
    assert not unread, f"README documents variables no code reads: {unread}"


def policy_models() -> list[type[BaseModel]]:
    """Policy, Category, and every model nested directly in Policy's fields (llm, input_range, ...)."""
    nested = [
        f.annotation
        for f in Policy.model_fields.values()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    ]
    return [Policy, Category, *nested]


@pytest.mark.parametrize("model", policy_models(), ids=lambda m: m.__name__)
def test_policy_doc_names_every_field(model: type[BaseModel]) -> None:
    """docs/policy.md documents every field the policy models accept."""
    doc = POLICY_DOC.read_text(encoding="utf-8")
    missing = [name for name in model.model_fields if f"`{name}`" not in doc]
    assert not missing, f"docs/policy.md does not mention {model.__name__} fields {missing}"


def test_packaged_policy_is_the_example_policy() -> None:
    """The policy used when no policy.yaml is found is the repository's example, as docs/policy.md says."""
    packaged = REPO / "bot" / "data" / "default_policy.yaml"
    assert packaged.read_text(encoding="utf-8") == (REPO / "policy.yaml").read_text(encoding="utf-8")


def test_policy_doc_example_is_a_valid_policy() -> None:
    """The example policy in docs/policy.md passes the same validation as `handoff policy check`."""
    doc = POLICY_DOC.read_text(encoding="utf-8")
    examples = [block for block in code_blocks(doc) if block.lstrip().startswith("channel:")]
    assert examples, "docs/policy.md has no example policy (a code block starting with `channel:`)"
    for example in examples:
        parse_policy(example, source="docs/policy.md example")


def test_readme_json_examples_are_valid() -> None:
    """The proposal, decision and assessment examples in the README validate against the models."""
    blocks = [json.loads(block) for block in code_blocks(README.read_text(encoding="utf-8")) if block.startswith("{")]
    policy = load_policy(REPO / "policy.yaml")
    proposals = [b for b in blocks if "summary" in b]
    decisions = [b for b in blocks if "outcome" in b]
    assessments = [b for b in blocks if "signals" in b]
    for kind, found in (("proposal", proposals), ("decision", decisions), ("assessment", assessments)):
        assert found, f"README has no {kind} example"
    for proposal in proposals:
        parse_proposal(proposal, policy=policy)
    for decision in decisions:
        Decision.model_validate(decision)
    for assessment in assessments:
        Assessment.model_validate(assessment)


def test_settings_own_exactly_the_documented_variables() -> None:
    """Each variable of the README's table is a Settings field's variable, and each field's variable is documented."""
    table = section(README.read_text(encoding="utf-8"), "Configuration")
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, flags=re.MULTILINE))
    variables = set()
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        variables |= {c for c in choices if isinstance(c, str) and c.isupper()}
    assert documented == variables


def test_settings_read_each_variable_and_refuse_bad_values() -> None:
    """from_env maps every variable to its field; a bad value is a SettingsError naming the variable."""
    settings = Settings.from_env(
        {"PORT": "8080", "HANDOFF_LOG_LEVEL": "debug", "SLACK_API_URL": "http://127.0.0.1:9", "REDIS_URL": ""}
    )
    assert (settings.port, settings.log_level, settings.slack_api_url) == (8080, "DEBUG", "http://127.0.0.1:9/")
    assert settings.redis_url is None, "an empty variable counts as unset"
    assert not settings.policy_is_explicit
    assert Settings.from_env({"HANDOFF_POLICY": "other.yaml"}).policy_is_explicit
    for variable, value in (("PORT", "http"), ("HANDOFF_SLACK_POST_RATE", "fast"), ("HANDOFF_LOG_LEVEL", "loud")):
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env({variable: value})


def test_nothing_but_settings_reads_the_environment() -> None:
    """os.environ and os.getenv appear in bot/settings.py only (the sandbox stand-ins aside)."""
    readers = [
        str(p.relative_to(REPO))
        for p in (REPO / "bot").rglob("*.py")
        if "sandbox" not in p.parts and re.search(r"os\.(environ|getenv)", p.read_text(encoding="utf-8"))
    ]
    assert readers == ["bot/settings.py"]


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "handoff") -> dict[str, argparse.ArgumentParser]:
    found = {}
    for name, subparser in subcommands(parser).items():
        found[f"{prefix} {name}"] = subparser
        found |= _subparsers(subparser, f"{prefix} {name}")
    return found


def test_every_subcommand_and_option_explains_itself() -> None:
    """Each subcommand's --help has a description; every argument has help text."""
    for name, subparser in _subparsers(build_parser()).items():
        assert subparser.description, f"`{name} --help` has no description"
        for action in subparser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"`{name}` argument {action.dest} has no help"


def test_option_help_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    """An option with a default says it in --help; web --help names $PORT and the tokens it needs."""
    for argv in (["submit", "--help"], ["web", "--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    shown = " ".join(capsys.readouterr().out.split())
    assert "seconds --wait waits for a decision (default: 3600.0)" in shown
    for needed in ("$PORT", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        assert needed in shown


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`handoff --version` prints the package version and exits 0."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"handoff \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "categories:\n  a:\n    level: review_after\n    treshold: 0.5\n",
            "categories.a.treshold: extra inputs are not permitted; did you mean `threshold`? (line 4)",
        ),
        (
            "chanel: '#x'\ncategories: {a: {level: review_after}}\n",
            "chanel: extra inputs are not permitted; did you mean `channel`? (line 1)",
        ),
        (
            "categories:\n  a:\n    impact: high\n",
            "categories.a.level: field required; choose one of autonomous, review_after, on_uncertainty, "
            "approve_before (line 2)",
        ),
    ],
)
def test_policy_errors_name_the_line_and_the_nearest_key(text: str, expected: str) -> None:
    """A typo gets the nearest key and its line; a missing level lists the choices."""
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, source="p.yaml")
    assert str(refused.value) == f"p.yaml: {expected}"


def test_policy_check_says_when_a_threshold_falls_back_to_the_default() -> None:
    """An on_uncertainty category without a threshold is accepted, with a note naming the default."""
    text = "categories:\n  email: {level: on_uncertainty}\n  tagged: {level: on_uncertainty, threshold: 0.9}\n"
    notes = policy_notes(text, parse_policy(text))
    assert notes == ["categories.email: on_uncertainty without a threshold; the default 0.8 applies"]
