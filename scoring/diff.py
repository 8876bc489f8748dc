"""What a reviewer changed: the difference between a proposed action and the action finally decided.

Computed at report and export time from the stored proposal and decision, so it never disagrees
with them. Paths are dotted (`args.amount`, `args.items.0`), values are JSON-ready.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scoring.models import Action

_MISSING = object()


@dataclass(frozen=True)
class Change:
    """One changed value: `op` is `added`, `removed` or `changed`; `before`/`after` are None when absent."""

    path: str
    op: str
    before: Any = None
    after: Any = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def action_diff(proposed: Action, final: Action | None) -> list[Change]:
    """Every change from `proposed` to `final`, in path order; no final action removes the whole action."""
    if final is None:
        return [Change("", "removed", before=proposed.model_dump(mode="json"))]
    return sorted(
        _diff(proposed.model_dump(mode="json"), final.model_dump(mode="json"), ""), key=lambda change: change.path
    )


def _diff(before: Any, after: Any, path: str) -> list[Change]:
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            changes += _pair(before.get(key, _MISSING), after.get(key, _MISSING), _join(path, str(key)))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else _MISSING
            new = after[index] if index < len(after) else _MISSING
            changes += _pair(old, new, _join(path, str(index)))
        return changes
    return [] if before == after else [Change(path, "changed", before=before, after=after)]


def _pair(before: Any, after: Any, path: str) -> list[Change]:
    if before is _MISSING:
        return [Change(path, "added", after=after)]
    if after is _MISSING:
        return [Change(path, "removed", before=before)]
    return _diff(before, after, path)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
