"""Rendering Block Kit messages as plain terminal text, so the demo shows what a reviewer sees."""

from __future__ import annotations

import re
import textwrap
from typing import Any

WIDTH = 78
_MENTION = re.compile(r"<@([A-Z0-9]+)>")


def unescape(text: str) -> str:
    """Undo Slack's escaping and turn user mentions into @ids for a terminal."""
    text = _MENTION.sub(r"@\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\u200b", "")


def render_card(message: dict[str, Any]) -> list[str]:
    """A boxed, wrapped text rendering of a message's blocks, with buttons as [Label]."""
    lines = [f"┌─ Slack card in {message.get('channel', '?')} " + "─" * 20]
    for block in message.get("blocks") or []:
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
        return [" ".join(f"[ {e.get('text', {}).get('text', e.get('type'))} ]" for e in block["elements"])]
    if kind == "context":
        return _wrap("  ".join(e.get("text", "") for e in block.get("elements", [])))
    if kind == "divider":
        return ["─" * 30]
    return [f"({kind} block)"]


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
            lines.append(raw[: WIDTH + 20])
        else:
            lines += textwrap.wrap(raw, WIDTH) or [""]
    return lines
