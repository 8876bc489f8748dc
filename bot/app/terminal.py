"""Rendering Block Kit messages as terminal text, so the demo shows what a reviewer sees.

Lines keep Slack's `*bold*` and `` `code` `` marks; `styled` turns them into rich text, which a terminal
shows in bold and colour and a pipe receives as plain text without the marks.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from rich.text import Text

WIDTH = 78
CODE_WIDTH = WIDTH + 20
# What the agent saw, its reasons, its alternatives, the signals (the demo lists them): --verbose shows them.
COMPACT_SKIPS = ("in:", "why:", "alt:", "esc:")
_MARKS = re.compile(r"\*([^*\n]+)\*|`([^`\n]+)`|(?<![\w])_([^_\n]+)_(?![\w])")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_SPECIAL = re.compile(r"<(?:#|!subteam\^)([A-Z0-9]+)>|<!date\^[^|>]*\|([^>]*)>")


def unescape(text: str) -> str:
    """Undo Slack's escaping and show mentions, channels and dates as a terminal can."""
    text = _MENTION.sub(r"@\1", text)
    text = _SPECIAL.sub(lambda m: f"#{m.group(1)}" if m.group(1) else m.group(2), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\u200b", "")
    return text.replace("\u02cb", "`")


def styled(line: str) -> Text:
    """A line with Slack's `*bold*`, `_italic_` and `` `code` `` marks as rich styles, the marks removed."""
    text, last = Text(), 0
    for match in _MARKS.finditer(line):
        text.append(line[last : match.start()])
        bold, code, italic = match.groups()
        text.append(bold or code or italic, style="bold" if bold else "cyan" if code else "italic")
        last = match.end()
    text.append(line[last:])
    return text


def render_card(message: dict[str, Any], *, channel: str | None = None, compact: bool = False) -> list[str]:
    """A boxed, wrapped text rendering of a message's blocks, with buttons as [Label]; `channel` names where.

    `compact` leaves out what the agent saw, its reasons and its alternatives (the card's long parts).
    """
    shown = message.get("blocks") or []
    if compact:
        shown = [_without_code(b) for b in shown if not str(b.get("block_id", "")).startswith(COMPACT_SKIPS)]
    return _boxed(f"Slack card in {channel or message.get('channel', '?')}", shown)


def _without_code(block: dict[str, Any]) -> dict[str, Any]:
    """A section with its code blocks (the exact action as JSON) left out."""
    text = (block.get("text") or {}).get("text")
    if block.get("type") != "section" or not isinstance(text, str) or "```" not in text:
        return block
    kept = re.sub(r"```.*?```", "", text, flags=re.DOTALL).strip()
    return {**block, "text": {**block["text"], "text": kept}}


def render_view(view: dict[str, Any]) -> list[str]:
    """A modal as terminal text: its title, blocks, inputs with their prefilled values, and submit button."""
    title = (view.get("title") or {}).get("text", "modal")
    lines = _boxed(f"Modal “{title}”", view.get("blocks") or [])
    if view.get("submit"):
        lines.insert(-1, f"│ [ {view['submit']['text']} ]  [ {(view.get('close') or {}).get('text', 'Cancel')} ]")
    return lines


def _boxed(title: str, blocks: list[dict[str, Any]]) -> list[str]:
    lines = [f"┌─ {title} " + "─" * 20]
    for block in blocks:
        lines += ["│ " + line for line in _block_lines(block)]
    lines.append("└" + "─" * 40)
    return lines


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [unescape(block["text"]["text"]).upper()]
    if kind == "section":
        return _wrap(block.get("text", {}).get("text", ""))
    if kind == "actions":
        return [" ".join(_element(e) for e in block["elements"])]
    if kind == "input":
        return _input_lines(block)
    if kind == "context":
        return _wrap("  ".join(e.get("text", "") for e in block.get("elements", [])))
    if kind == "divider":
        return ["─" * 30]
    return [f"({kind} block)"]


def _element(element: dict[str, Any]) -> str:
    text = element.get("text", {}).get("text", element.get("type"))
    return f"[ {text} (asks to confirm) ]" if element.get("confirm") else f"[ {text} ]"


def _input_lines(block: dict[str, Any]) -> list[str]:
    element = block.get("element", {})
    label = block.get("label", {}).get("text", "")
    value = element.get("initial_value") or element.get("initial_date")
    value = value or (element.get("initial_option") or {}).get("text", {}).get("text")
    kind = {"static_select": "choose", "datepicker": "date", "number_input": "number"}.get(element.get("type", ""))
    shown = (str(value) if value else "") or (f"<{kind}>" if kind else "")
    first, *rest = shown.splitlines() or [""]
    return [f"{label}{'' if block.get('optional') is False else ' (optional)'}: ▕{first}", *(f"    ▕{r}" for r in rest)]


def _wrap(text: str) -> list[str]:
    lines: list[str] = []
    in_code = False
    for raw in unescape(text).splitlines():
        if raw.strip().startswith("```") or raw.strip().endswith("```"):
            in_code = not in_code if raw.strip() in ("```",) else in_code
            raw = raw.replace("```", "")
            if not raw.strip():
                continue
        if in_code or raw.startswith("  "):
            lines.append(raw if len(raw) <= CODE_WIDTH else raw[: CODE_WIDTH - 1] + "…")
        else:
            lines += textwrap.wrap(raw, WIDTH) or [""]
    return lines
