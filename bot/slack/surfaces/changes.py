"""A readable diff of two actions, for the final card of an edit: one line per changed argument."""

from __future__ import annotations

import difflib
import json
from typing import Any

from bot.slack.surfaces.blocks import clip, code, escape
from scoring.models import Action


def change_lines(before: Action, after: Action) -> list[str]:
    """A readable diff of two actions' arguments: one line per changed, added or removed argument."""
    lines = [] if before.name == after.name else [f"• action `{escape(before.name)}` → `{escape(after.name)}`"]
    for name in [*before.args, *(k for k in after.args if k not in before.args)]:
        old, new = before.args.get(name, _MISSING), after.args.get(name, _MISSING)
        if old == new and type(old) is type(new):
            continue
        label = f"`{escape(clip(name, 100))}`"
        if old is _MISSING:
            lines.append(f"• {label} added: {_inline(new)}")
        elif new is _MISSING:
            lines.append(f"• {label} removed (was {_inline(old)})")
        elif isinstance(old, str) and isinstance(new, str) and ("\n" in old + new or len(old) + len(new) > 120):
            diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
            body = "\n".join(line for line in diff if not line.startswith(("---", "+++")))
            lines.append(f"• {label} changed:\n{code(clip(body, 1500))}")
        else:
            lines.append(f"• {label}: {_inline(old)} → {_inline(new)}")
    return lines or ["_nothing: the arguments are as proposed_"]


_MISSING: Any = object()


def _inline(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return f"`{escape(clip(text.replace(chr(10), ' ⏎ '), 200))}`"
