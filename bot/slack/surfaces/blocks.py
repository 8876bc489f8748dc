"""Block Kit primitives shared by every surface: the ids listeners match on, escaping, sizes, small builders.

Everything that came from an agent, a customer or a document goes through `escape` (inline mrkdwn) or
`code` (inside a code block), and is measured with `slack_len` and cut only visibly (`clip`) or split
into parts (`split_text`). The other modules of `bot.slack.surfaces` build the surfaces: `cards`, the
modals (`modals`, `edits`, `source_material`) and the App Home (`home`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# Buttons and selects people act on; each has a listener in `bot.app.listeners.reviews` (a test checks).
APPROVE = "handoff_approve"
EDIT = "handoff_edit"
REJECT = "handoff_reject"
ALTERNATIVE = "handoff_alternative"
REDIRECT = "handoff_redirect"
FULL_CONTEXT = "handoff_full_context"
CONTEXT_PREVIOUS = "handoff_context_previous"
CONTEXT_NEXT = "handoff_context_next"
PRECEDENTS = "handoff_precedents"  # "Similar cases": the most similar decided proposals, in a modal
STANDING_OPEN = "handoff_standing_open"  # "Approve and remember…": opens the standing approval modal
STANDING_REVOKE = "handoff_standing_revoke"  # App Home: revoke a standing approval (value: its id)
ACTION_IDS = (
    APPROVE,
    EDIT,
    REJECT,
    ALTERNATIVE,
    REDIRECT,
    FULL_CONTEXT,
    CONTEXT_PREVIOUS,
    CONTEXT_NEXT,
    PRECEDENTS,
    STANDING_OPEN,
    STANDING_REVOKE,
)

# Modals that are submitted; each has a view listener. The full-context modal has no submit button.
REJECT_MODAL = "handoff_reject_modal"
EDIT_MODAL = "handoff_edit_modal"
ALTERNATIVE_MODAL = "handoff_alternative_modal"
REDIRECT_MODAL = "handoff_redirect_modal"
CONTEXT_MODAL = "handoff_context_modal"
STANDING_MODAL = "handoff_standing_modal"
VIEW_IDS = (REJECT_MODAL, EDIT_MODAL, ALTERNATIVE_MODAL, REDIRECT_MODAL, STANDING_MODAL)

# Input blocks of the modals and their elements (block_id, action_id).
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"
CANNED_BLOCK, CANNED_INPUT = "canned", "canned_input"
NOTE_BLOCK, NOTE_INPUT = "note", "note_input"
PICK_BLOCK, PICK_INPUT = "pick", "pick_input"
PERSON_BLOCK, PERSON_INPUT = "person", "person_input"
CHANNEL_BLOCK, CHANNEL_INPUT = "channel", "channel_input"
INSTRUCTION_BLOCK, INSTRUCTION_INPUT = "instruction", "instruction_input"
HOURS_BLOCK, HOURS_INPUT = "hours", "hours_input"
FIELDS_BLOCK, FIELDS_INPUT = "fields", "fields_input"  # one checkboxes block per 10 fields: fields:0, fields:1
ARG_INPUT = "value"

SECTION_LIMIT = 3000
SECTION_BUDGET = 2900  # what a section's text may hold, leaving room for a heading and notes
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75
LABEL_LIMIT = 2000
INPUT_LIMIT = 3000
FALLBACK_LIMIT = 3000
REASON_MAX = 2000
NOTE_MAX = 2000

_ALERT = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_BACKTICK = "\u02cb"  # modifier letter grave accent: looks like ` but opens no code span
_ZWSP = "\u200b"
# Look-alikes that open no bold, italic or strikethrough (asterisk operator, modifier low macron, tilde
# operator), for the markers that could: those not inside a word (`customer_email` stays as it is).
_LOOKALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c"}
_MARKER = re.compile(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])")
# Characters that reorder text (bidi controls), hide it (zero-width, soft hyphen, BOM) or are control codes.
_HIDDEN = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def slack_len(text: str) -> int:
    """Length as Slack may count it (UTF-16 code units): never less than `len`, so limits hold."""
    return len(text.encode("utf-16-le")) // 2


def reveal(text: str) -> str:
    """Untrusted text with every character that could reorder or hide what a reviewer reads made visible
    as `[U+202E]` (bidi overrides and isolates, zero-width characters, control codes)."""
    return _HIDDEN.sub(lambda match: f"[U+{ord(match.group()):04X}]", text)


def escape(text: str) -> str:
    """Inline mrkdwn for untrusted text: no mentions, no hidden links, no code spans or fences, no bold,
    italic or strikethrough (look-alike characters show the text as written), nothing hidden or reordered."""
    text = reveal(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _ALERT.sub("@" + _ZWSP, text).replace("`", _BACKTICK)
    return _MARKER.sub(lambda match: _LOOKALIKE[match.group()], text)


def code(text: str) -> str:
    """Untrusted text inside a code block: escaped, its backticks unable to close the fence, nothing hidden."""
    inner = reveal(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    inner = _ALERT.sub("@" + _ZWSP, inner).replace("`", f"{_ZWSP}`{_ZWSP}")
    return f"```{inner}```"


def clip(text: str, limit: int, *, more: str = "") -> str:
    """Cut `text` to `limit` (Slack's count), saying how much was left out and where to find it."""
    if slack_len(text) <= limit:
        return text
    note_room = slack_len(f"… ({len(text):,} more characters{more})")
    if note_room >= limit:  # too small for a note: the ellipsis says it was cut
        return _fit(text, limit - 1) + "…"
    head = _fit(text, limit - note_room)
    return head + f"… ({len(text) - len(head):,} more characters{more})"


def clip_rendered(text: str, limit: int, *, render: Any = escape, more: str = "") -> str:
    """Render untrusted `text` (escape or code) in at most `limit`, cutting the raw text visibly first."""
    room = limit
    while True:
        rendered: str = render(clip(text, room, more=more))
        if slack_len(rendered) <= limit or room <= 1:
            return rendered
        room = min(room - 1, room * limit // slack_len(rendered))


def _fit(text: str, room: int) -> str:
    head = text[:room]
    while head and slack_len(head) > room:
        head = head[: -max(1, (slack_len(head) - room + 1) // 2)]
    return head


def split_text(text: str, limit: int, *, render: Any = escape) -> list[str]:
    """Cut untrusted `text` into rendered parts of at most `limit`, in order, losing nothing."""
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + limit)
        while end > start + 1 and slack_len(render(text[start:end])) > limit:
            end = start + max(1, (end - start) * 3 // 4)
        cut = text.rfind("\n", start + (end - start) // 2, end) if end < len(text) else -1
        end = cut + 1 if cut > start else end
        parts.append(render(text[start:end]))
        start = end
    return parts or [render("")]


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; `verbatim` so Slack links and mentions nothing it was not told to."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """A plain_text object (never parsed for mentions, links or formatting), nothing hidden, cut visibly."""
    return {"type": "plain_text", "text": clip(reveal(text), limit) or " ", "emoji": False}


def input_block(block_id: str, label: str, element: dict[str, Any], *, optional: bool) -> dict[str, Any]:
    """An input block of a modal: the element under a clipped label."""
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label, LABEL_LIMIT),
        "element": element,
    }


def section(text: str, block_id: str) -> dict[str, Any]:
    """A section of mrkdwn, cut visibly to Slack's 3000 characters."""
    return {"type": "section", "block_id": block_id, "text": mrkdwn(clip(text, SECTION_LIMIT))}


def context(text: str, block_id: str) -> dict[str, Any]:
    """A context block with one line of small mrkdwn."""
    return {"type": "context", "block_id": block_id, "elements": [mrkdwn(clip(text, SECTION_LIMIT))]}


def header(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "header", "block_id": block_id, "text": plain(text, HEADER_LIMIT)}


def button(
    text: str, action_id: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A button carrying only an id in its value (the reviewer comes from the payload, never from here)."""
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain(text, BUTTON_TEXT_LIMIT),
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def option(text: str, value: str) -> dict[str, Any]:
    """A select option: shown text cut to 75 characters, value (an index or id) kept short."""
    return {"text": plain(text, OPTION_TEXT_LIMIT), "value": value}


def mention(who: str) -> str:
    """A Slack id as a mention: users (U/W), user groups (S); anything else as escaped text."""
    if re.fullmatch(r"[UW][A-Z0-9]{2,}", who):
        return f"<@{who}>"
    if re.fullmatch(r"S[A-Z0-9]{2,}", who):
        return f"<!subteam^{who}>"
    return escape(who)


def channel_link(channel: str) -> str:
    """A channel id as a link (`<#C123>`); a channel name as escaped text."""
    return f"<#{channel}>" if re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel) else escape(channel)


def when(iso: str) -> str:
    """An ISO time shown in each reader's own time zone, with the UTC text as fallback."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        try:
            moment = datetime.fromtimestamp(float(iso), UTC)
        except ValueError:
            return escape(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def duration(seconds: float) -> str:
    """A short human duration: 42s, 3m 12s, 2h 05m, 1d 3h."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
