"""The Edit modal: one input per argument, fitted to its kind; parsing it back; and a readable diff.

Kinds come from the category's `args` in policy, else from the value: text, long text, number,
choice (a static_select of the allowed values), date (a datepicker), or JSON for nested values.
A value too long for a Slack input (3000 characters) is kept as is and said so in the modal.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.slack.surfaces.blocks import (
    ARG_INPUT,
    EDIT_MODAL,
    INPUT_LIMIT,
    LABEL_LIMIT,
    NOTE_BLOCK,
    NOTE_INPUT,
    NOTE_MAX,
    clip,
    escape,
    input_block,
    option,
    plain,
    section,
)
from scoring.models import Action, Proposal
from scoring.policy import ArgKind, Category

MAX_FIELDS = 80  # inputs per modal; further arguments share JSON inputs (a modal holds 100 blocks)
MAX_REST_INPUTS = 15
REST_BLOCK = "arg:rest"
MAX_OPTIONS = 100
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Errors = dict[str, str]


@dataclass(frozen=True)
class Field:
    """One argument as the modal asks for it."""

    name: str
    kind: ArgKind
    value: Any
    choices: tuple[Any, ...] = ()
    whole: bool = False  # a number that must stay an integer

    @property
    def shown(self) -> str:
        """The value as the input's initial text."""
        if self.value is None:
            return ""
        if self.kind is ArgKind.JSON:
            return json.dumps(self.value, indent=2, ensure_ascii=False, default=str)
        return str(self.value)

    @property
    def editable(self) -> bool:
        return len(self.shown) <= INPUT_LIMIT


def fields(action: Action, category: Category | None) -> list[Field]:
    """Every argument of the action as a Field, in the action's order."""
    specs = category.args if category else {}
    return [_field(name, value, specs.get(name)) for name, value in action.args.items()]


def _field(name: str, value: Any, spec: Any) -> Field:
    kind = spec.kind if spec and spec.kind else (ArgKind.CHOICE if spec and spec.choices else _inferred(value))
    if kind is ArgKind.CHOICE:
        choices = tuple(spec.choices) if spec and spec.choices else (True, False)
        return Field(name, ArgKind.CHOICE if len(choices) <= MAX_OPTIONS else ArgKind.TEXT, value, choices)
    if kind in (ArgKind.TEXT, ArgKind.LONG_TEXT) and isinstance(value, dict | list | bool | int | float):
        kind = ArgKind.JSON if isinstance(value, dict | list) else _inferred(value)
    whole = isinstance(value, int) and not isinstance(value, bool) and not (spec and spec.kind)
    return Field(name, kind, value, whole=whole)


def _inferred(value: Any) -> ArgKind:
    if isinstance(value, bool):
        return ArgKind.CHOICE
    if isinstance(value, int | float):
        return ArgKind.NUMBER
    if isinstance(value, dict | list):
        return ArgKind.JSON
    if isinstance(value, str) and _DATE.match(value):
        return ArgKind.DATE
    if isinstance(value, str) and ("\n" in value or len(value) > 150):
        return ArgKind.LONG_TEXT
    return ArgKind.TEXT


def edit_modal(pid: str, proposal: Proposal, category: Category | None, *, channel: str) -> dict[str, Any]:
    """The modal prefilled from the action's arguments; submitting it approves the edited action."""
    all_fields = fields(proposal.action, category)
    shown, rest = all_fields[:MAX_FIELDS], all_fields[MAX_FIELDS:]
    required = set(category.required_args) if category else set()
    intro = f"*Editing:* {escape(clip(proposal.summary, 500))}\nAction `{escape(clip(proposal.action.name, 200))}`"
    blocks = [section(intro, "summary")]
    blocks += [_input(i, f, f.name in required) for i, f in enumerate(shown) if f.editable]
    kept = [f for f in shown if not f.editable]
    chunks, too_long = _rest_chunks(rest)
    for number, chunk in enumerate(chunks):
        label = f"More arguments, part {number + 1} of {len(chunks)} (JSON)"
        text = json.dumps({f.name: f.value for f in chunk}, indent=2, ensure_ascii=False, default=str)
        blocks.append(_text_input(f"{REST_BLOCK}:{number}", label, text, multiline=True, optional=False))
    kept += too_long
    if kept:
        names = ", ".join(f"`{escape(clip(f.name, 100))}` ({len(f.shown):,} characters)" for f in kept)
        note = f"Kept as proposed (too long for a Slack input; see *Full context*): {names}"
        blocks.append(section(note, "kept"))
    blocks.append(_text_input(NOTE_BLOCK, "Note to the agent", "", multiline=True, optional=True, action=NOTE_INPUT))
    return {
        "type": "modal",
        "callback_id": EDIT_MODAL,
        "private_metadata": f"{pid}|{channel}",
        "title": plain("Edit and approve", 24),
        "submit": plain("Approve edited", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def _input(index: int, field: Field, required: bool) -> dict[str, Any]:
    block_id = f"arg:{index}"
    if field.kind in (ArgKind.TEXT, ArgKind.LONG_TEXT, ArgKind.JSON):
        multiline = field.kind is not ArgKind.TEXT
        label = field.name + (" (JSON)" if field.kind is ArgKind.JSON else "")
        return _text_input(block_id, label, field.shown, multiline=multiline, optional=not required)
    element: dict[str, Any] = {"type": "static_select", "action_id": ARG_INPUT}
    hint = None
    if field.kind is ArgKind.NUMBER:
        element = {"type": "number_input", "action_id": ARG_INPUT, "is_decimal_allowed": not field.whole}
        if field.value is not None and _is_number(field.shown):
            element["initial_value"] = field.shown
    elif field.kind is ArgKind.DATE:
        element = {"type": "datepicker", "action_id": ARG_INPUT}
        if isinstance(field.value, str) and _is_date(field.value):
            element["initial_date"] = field.value
        elif field.value is not None:
            hint = f"Proposed: {clip(field.shown, 200)} (not a date)"
    else:
        element["options"] = [option(str(c), str(n)) for n, c in enumerate(field.choices)]
        if field.value in field.choices:
            element["initial_option"] = element["options"][field.choices.index(field.value)]
        elif field.value is not None:
            hint = f"Proposed: {clip(field.shown, 200)}, which is not one of the allowed values"
    block = {"type": "input", "block_id": block_id, "optional": not required, "label": plain(field.name, LABEL_LIMIT)}
    return block | {"element": element} | ({"hint": plain(hint, LABEL_LIMIT)} if hint else {})


def _text_input(
    block_id: str, label: str, value: str, *, multiline: bool, optional: bool, action: str = ARG_INPUT
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action, "multiline": multiline}
    element["max_length"] = NOTE_MAX if action == NOTE_INPUT else INPUT_LIMIT
    if value:
        element["initial_value"] = value
    return input_block(block_id, label, element, optional=optional)


def parse_edit(values: dict[str, Any], proposal: Proposal, category: Category | None) -> tuple[dict[str, Any], Errors]:
    """The edited arguments from a submitted Edit modal, or errors keyed by the input block to show them at."""
    all_fields = fields(proposal.action, category)
    required = set(category.required_args) if category else set()
    args, errors = dict(proposal.action.args), {}
    for index, field in enumerate(all_fields[:MAX_FIELDS]):
        block_id = f"arg:{index}"
        if not field.editable or block_id not in values:
            continue
        try:
            args[field.name] = _parsed(field, values[block_id].get(ARG_INPUT) or {}, field.name in required)
        except ValueError as exc:
            errors[block_id] = str(exc)
    for number, chunk in enumerate(_rest_chunks(all_fields[MAX_FIELDS:])[0]):
        block_id = f"{REST_BLOCK}:{number}"
        if block_id in values:
            try:
                args = _with_rest(args, chunk, values[block_id].get(ARG_INPUT) or {})
            except ValueError as exc:
                errors[block_id] = str(exc)
    return args, errors


def note_of(values: dict[str, Any]) -> str:
    """The optional note to the agent from a submitted modal."""
    return str((values.get(NOTE_BLOCK, {}).get(NOTE_INPUT) or {}).get("value") or "").strip()


def _parsed(field: Field, state: dict[str, Any], required: bool) -> Any:
    raw = state.get("value")
    if field.kind is ArgKind.CHOICE:
        raw = (state.get("selected_option") or {}).get("value")
    elif field.kind is ArgKind.DATE:
        raw = state.get("selected_date")
    text = "" if raw is None else str(raw)
    if not text.strip():
        if required:
            raise ValueError(f"{field.name} is required.")
        return "" if isinstance(field.value, str) and field.kind in (ArgKind.TEXT, ArgKind.LONG_TEXT) else None
    return _PARSERS[field.kind](field, text)


def _number(field: Field, text: str) -> Any:
    try:
        number = int(text.strip()) if field.whole else float(text.strip())
    except ValueError:
        kind = "a whole number, like 42" if field.whole else "a number, like 49.5"
        raise ValueError(f"Enter {kind}; “{clip(text, 40)}” is not one.") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("Enter a finite number.")
    if isinstance(number, float) and number.is_integer() and isinstance(field.value, int):
        return int(number)
    return number


def _choice(field: Field, text: str) -> Any:
    if field.kind is ArgKind.CHOICE and text.isdigit() and int(text) < len(field.choices):
        return field.choices[int(text)]
    raise ValueError("Pick one of the allowed values.")


def _date(field: Field, text: str) -> str:
    if not _is_date(text):
        raise ValueError(f"Enter a date as YYYY-MM-DD; “{clip(text, 40)}” is not one.")
    return text


def _json(field: Field, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None


def _text(field: Field, text: str) -> Any:
    if not field.choices:
        return text
    for choice in field.choices:
        if str(choice) == text:
            return choice
    raise ValueError(f"Use one of the allowed values: {clip(', '.join(map(str, field.choices)), 300)}")


_PARSERS = {
    ArgKind.TEXT: _text,
    ArgKind.LONG_TEXT: _text,
    ArgKind.NUMBER: _number,
    ArgKind.CHOICE: _choice,
    ArgKind.DATE: _date,
    ArgKind.JSON: _json,
}


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return bool(_DATE.match(text))


def _rest_chunks(rest: list[Field]) -> tuple[list[list[Field]], list[Field]]:
    """Arguments beyond MAX_FIELDS grouped into JSON inputs of at most 3000 characters; the rest kept."""
    chunks: list[list[Field]] = []
    kept: list[Field] = []
    for field in rest:
        current = chunks[-1] if chunks else []
        grown = json.dumps({f.name: f.value for f in [*current, field]}, indent=2, ensure_ascii=False, default=str)
        if chunks and len(grown) <= INPUT_LIMIT:
            current.append(field)
        elif len(json.dumps({field.name: field.value}, indent=2, ensure_ascii=False, default=str)) > INPUT_LIMIT:
            kept.append(field)
        elif len(chunks) < MAX_REST_INPUTS:
            chunks.append([field])
        else:
            kept.append(field)
    return chunks, kept


def _with_rest(args: dict[str, Any], rest: list[Field], state: dict[str, Any]) -> dict[str, Any]:
    parsed = _json(Field("rest", ArgKind.JSON, None), str(state.get("value") or "{}"))
    if not isinstance(parsed, dict):
        raise ValueError("Give the other arguments as one JSON object.")
    kept = {k: v for k, v in args.items() if k not in {f.name for f in rest}}
    return kept | parsed
