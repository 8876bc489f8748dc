"""The layout of bot/ holds: each room imports only from the floors below it, without cycles.

Like the purity test of scoring/, these read the source (the AST of every module), so a layering
mistake fails here instead of surfacing as an import cycle or a heavy import in an agent's process.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Floors from the bottom: a module imports only from lower floors, or from its own room.
FLOORS = {
    "scoring": 0,
    "bot.settings": 1,
    "bot.data": 1,
    "bot.sandbox": 1,
    "bot.store.rows": 1,  # the typed rows the store returns: plain data, no I/O
    "bot.store": 2,
    "bot.slack.surfaces": 2,
    "bot.slack.web_api": 2,
    "bot.slack.failures": 2,
    "bot.llm": 2,
    "bot.runtime": 3,
    "bot.jobs": 4,
    "bot.agent_http": 4,
    "bot.client": 5,
    "bot.slack.messages": 5,
    "bot.slack.usergroups": 5,
    "bot.review": 6,
    "bot.adapters": 6,  # the framework adapters: agent-side, over bot.client (see the test below)
    "bot.insights": 7,
    "bot.api": 7,
    "bot.app": 8,
    "bot.cli": 9,
}
# Job bodies import what runs them when they run: that is how jobs stay nameable from any floor.
LAZY_DISPATCH = {"bot.jobs"}
IO_LIBRARIES = {"slack_sdk", "slack_bolt", "redis", "rq", "anthropic", "sqlite_utils", "sqlite3", "httpx", "requests"}
IO_LIBRARIES |= {"socket", "subprocess", "urllib", "http", "os"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = sorted([*REPO.glob("bot/**/*.py"), *REPO.glob("scoring/**/*.py")])
PACKAGES = {"bot", "scoring"}
MODULES = {
    module_name(p): p for p in SOURCES if module_name(p) not in PACKAGES and (p.stat().st_size or p.stem != "__init__")
}


def room(name: str) -> str:
    """The FLOORS entry a module belongs to (its longest matching prefix)."""
    matches = [r for r in FLOORS if name == r or name.startswith(r + ".")]
    assert matches, f"{name} is in no room of FLOORS: add it to the table (and to docs/architecture.md)"
    return max(matches, key=len)


def imports(path: Path, *, top_level_only: bool = False) -> Iterator[tuple[str, ast.AST]]:
    """The handoff modules `path` imports (a `from a import b` of a submodule names the submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] in {"bot", "scoring"} and name not in PACKAGES:
                yield name, node


def function_level(path: Path) -> set[int]:
    """Line numbers of imports inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        inner.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    }


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_only_from_lower_floors(name: str) -> None:
    """A room imports from floors below it (or itself): the entry points (app, cli) from nothing above."""
    here = room(name)
    lazy = function_level(MODULES[name]) if here in LAZY_DISPATCH else set()
    for imported, node in imports(MODULES[name]):
        there = room(imported)
        if there == here or getattr(node, "lineno", 0) in lazy:
            continue
        assert FLOORS[there] < FLOORS[here], f"{name} imports {imported} ({there} is not below {here})"


def test_there_are_no_import_cycles() -> None:
    """The module-level import graph of bot/ and scoring/ is acyclic."""
    graph = {name: {i for i, _ in imports(path, top_level_only=True) if i in MODULES} for name, path in MODULES.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, "import cycle: " + " -> ".join((*trail[trail.index(name) :], name))
        if name in done:
            return
        for nxt in sorted(graph[name]):
            visit(nxt, (*trail, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


@pytest.mark.parametrize("name", sorted(n for n in MODULES if room(n) == "bot.slack.surfaces"))
def test_surface_builders_do_no_io(name: str) -> None:
    """Block Kit builders are pure: no Slack client, Redis, ledger, network, files or other handoff rooms."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for imported in names:
                assert imported.split(".")[0] not in IO_LIBRARIES, f"{name}: {ast.unparse(node)}"
                if imported.startswith("bot"):
                    assert imported.startswith(("bot.slack.surfaces", "bot.store.rows")), f"{name}: {ast.unparse(node)}"


def test_the_agent_side_client_loads_no_ledger_slack_or_anthropic() -> None:
    """Importing bot.client (what an agent process does) loads neither the ledger, Slack, Anthropic nor review."""
    code = "import json, sys, bot.client; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, check=True).stdout)
    heavy = ("slack_sdk", "slack_bolt", "anthropic", "sqlite_utils", "bot.store.ledger", "bot.review", "bot.slack")
    assert [m for m in loaded if m.startswith(heavy)] == []
    assert "bot.jobs" in loaded, "the client names its jobs by function"


# What the framework adapters may import of handoff: the agent-side client, the settings and the models.
ADAPTER_IMPORTS = ("bot.adapters", "bot.client", "bot.settings", "scoring.models")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if room(n) == "bot.adapters"))
def test_adapters_reach_handoff_through_the_client_only(name: str) -> None:
    """An adapter depends on bot.client (either transport), never on the store, review, Slack or jobs."""
    for imported, _node in imports(MODULES[name]):
        allowed = any(imported == a or imported.startswith(a + ".") for a in ADAPTER_IMPORTS)
        assert allowed, f"{name} imports {imported}; adapters use only {', '.join(ADAPTER_IMPORTS)}"


def test_the_adapters_core_loads_no_framework_and_nothing_heavy() -> None:
    """Importing the shared core loads no agent framework, ledger, Slack, Anthropic or review code."""
    code = "import json, sys, bot.adapters.core; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, check=True).stdout)
    heavy = ("slack_sdk", "slack_bolt", "anthropic", "sqlite_utils", "bot.store.ledger", "bot.review", "bot.slack")
    frameworks = ("langchain", "langgraph", "agents", "pydantic_ai", "claude_agent_sdk", "mcp")
    assert [m for m in loaded if m.startswith(heavy) or m.split(".")[0] in frameworks] == []


def _calls(path: Path) -> Iterator[ast.Call]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            yield node


def test_jobs_are_enqueued_by_function_only_from_bot_jobs() -> None:
    """Every enqueue is in bot.jobs and names one of its functions, never a string path."""
    job_functions = {n.name for n in ast.parse(MODULES["bot.jobs"].read_text()).body if isinstance(n, ast.FunctionDef)}
    enqueues = 0
    for name, path in MODULES.items():
        for call in _calls(path):
            method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
            if method not in {"enqueue", "enqueue_at", "enqueue_in", "enqueue_call"}:  # RQ's Queue methods
                continue
            assert name == "bot.jobs", f"{name} enqueues a job itself: {ast.unparse(call)}"
            job = call.args[1] if method in {"enqueue_at", "enqueue_in"} else call.args[0]
            assert isinstance(job, ast.Name), ast.unparse(call)
            assert job.id in job_functions, ast.unparse(call)
            enqueues += 1
    assert enqueues >= 6, "each job has its enqueue in bot.jobs"


def test_only_bot_jobs_reaches_the_active_runtime() -> None:
    """The runtime is a parameter everywhere; jobs alone look it up (the worker activates it)."""
    for name, path in MODULES.items():
        for call in _calls(path):
            if ast.unparse(call.func) in {"current", "runtime.current", "bot.runtime.current"}:
                assert name == "bot.jobs", f"{name} looks up the active runtime: {ast.unparse(call)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith(("bot.sandbox", "scoring"))))
def test_architecture_doc_names_every_module_in_its_room(name: str) -> None:
    """docs/architecture.md draws every module of bot/: its room's folder and its file name appear."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    path = MODULES[name].relative_to(REPO)
    assert f"{path.parent}/" in text or str(path) in text, f"docs/architecture.md does not show {path.parent}/"
    assert path.name in text or path.name == "__init__.py", f"docs/architecture.md does not name {path}"


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX))\b", re.S)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if room(n) not in {"bot.store", "bot.sandbox", "scoring"}))
def test_no_sql_outside_the_store(name: str) -> None:
    """Every SQL statement lives in bot/store (a second ledger backend replaces that room, nothing else)."""
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not SQL.search(node.value), f"{name} holds SQL: {node.value[:80]!r}"
        assert not (isinstance(node, ast.Attribute) and node.attr == "db"), f"{name} reaches into the ledger's db"
