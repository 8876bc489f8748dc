"""Bounds on what an agent may send: nesting depth, number range, finite floats, encodable text.

Checked iteratively (no recursion), so a hostile value is refused with the path of its first bad part
before anything recursive (pydantic, a JSON parser) sees it. A value that passes survives a JSON round
trip through Redis and SQLite unchanged.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 64
MAX_INT = 2**63 - 1
_SHOWN_PATH_PARTS = 8


class BoundsError(ValueError):
    """A value outside handoff's bounds; the message starts with the path of the offending part."""


def check_bounds(value: Any, *, path: str = "") -> None:
    """Raise BoundsError naming the first part of `value` that is too deep, too large, not finite or not
    encodable as UTF-8."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, (path,) if path else ())]
    while stack:
        item, where = stack.pop()
        if len(where) > MAX_DEPTH:
            _refuse(where, f"nested deeper than {MAX_DEPTH} levels; flatten it or pass a reference")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    _refuse(where, f"has a key of type {type(key).__name__}; keys must be strings")
                _check_text(key, (*where, "(key)"))
                stack.append((child, (*where, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*where, str(index))) for index, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and abs(item) > MAX_INT:
            _refuse(where, f"is an integer of {len(str(abs(item)))} digits; the limit is ±{MAX_INT} (send it as text)")
        elif isinstance(item, float) and not math.isfinite(item):
            _refuse(where, f"is {item}; numbers must be finite (JSON has no NaN or Infinity)")


def _check_text(text: str, where: tuple[str, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        _refuse(where, f"holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}; send UTF-8")


def describe_path(where: tuple[str, ...]) -> str:
    """A dotted path, its middle elided when it is long."""
    if len(where) > _SHOWN_PATH_PARTS:
        where = (*where[:4], "…", *where[-3:])
    return ".".join(where) or "(top level)"


def _refuse(where: tuple[str, ...], message: str) -> None:
    raise BoundsError(f"{describe_path(where)}: {message}")
