"""Reading a policy file: the file or the packaged default, and the custom hard checks it names by
import path (`package.module:function`).

`scoring/` never imports arbitrary modules; the shell does it here, once, when the policy is loaded,
so a check that cannot be imported is refused with the key's path instead of surfacing mid-review.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import cast

from bot.runtime import Runtime
from bot.settings import Settings
from scoring.policy import Policy, PolicyError, parse_policy
from scoring.signals import CustomCheck

log = logging.getLogger(__name__)


def load_policy(path: Path, *, explicit: bool = True) -> Policy:
    """Read and validate a policy file; without an explicit path, fall back to the packaged example.

    Custom checks are imported here, so an unimportable one is refused at load, not at assess time.
    """
    source = str(path)
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    elif explicit:
        raise PolicyError(f"{path}: no such file; set HANDOFF_POLICY to your policy's path")
    else:
        text, source = resources.files("bot.data").joinpath("default_policy.yaml").read_text(), "default policy"
    policy = parse_policy(text, source=source)
    load_checks(policy, source=source)
    return policy


def configured_policy(settings: Settings, *, path: Path | None = None) -> Policy:
    """The policy a process runs under: `path` (a `--policy` option), else HANDOFF_POLICY (which must exist),
    else ./policy.yaml when there is one, else the packaged example."""
    if path is not None:
        return load_policy(path)
    return load_policy(settings.policy_path, explicit=settings.policy_is_explicit)


def load_checks(policy: Policy, *, source: str = "policy.yaml") -> dict[str, CustomCheck]:
    """Import every custom check the policy names; raises PolicyError naming `categories.X.checks[i]`."""
    found: dict[str, CustomCheck] = {}
    for name, category in policy.categories.items():
        for index, path in enumerate(category.checks):
            found[path] = import_check(path, where=f"{source}: categories.{name}.checks[{index}]")
    return found


def resolve_checks(policy: Policy) -> dict[str, CustomCheck]:
    """The checks that import; the rest are left out, so the pipeline fails closed on them."""
    found: dict[str, CustomCheck] = {}
    for category in policy.categories.values():
        for path in category.checks:
            try:
                found[path] = import_check(path, where=path)
            except PolicyError as exc:
                log.warning("custom check not loaded, proposals that need it escalate: %s", exc)
    return found


def import_check(path: str, *, where: str) -> CustomCheck:
    """Import one `package.module:function` and make sure it can be called as a check."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of the operator's module is a policy error
        raise PolicyError(
            f"{where}: cannot import {module_name!r} ({type(exc).__name__}: {exc}); "
            "check the module path and that it is installed"
        ) from exc
    check = getattr(module, attr, None)
    if check is None:
        raise PolicyError(f"{where}: module {module_name!r} has no {attr!r}; check the function name")
    if not callable(check) or not _takes_three_arguments(check):
        raise PolicyError(f"{where}: {path} must be a function of (proposal, category, ctx)")
    return cast(CustomCheck, check)


def _takes_three_arguments(check: Callable[..., object]) -> bool:
    try:
        inspect.signature(check).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:  # some builtins have no signature; let them through
        return True
    return True


def publish_categories(runtime: Runtime) -> None:
    """Publish the active policy's categories, so agents' clients refuse unknown ones without the policy file."""
    runtime.board.publish_categories(list(runtime.policy.categories), version=runtime.policy.version)
