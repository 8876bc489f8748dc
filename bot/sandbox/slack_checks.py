"""Block Kit validation as Slack does it: slack_sdk's models plus the limits slack_sdk leaves out.

Each check returns Slack-style lines, `"<what> [json-pointer:/blocks/0/text/text]"`; empty means valid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
MESSAGE_TEXT = 40000
ID_LENGTH = 255

# Longest text (characters) Slack accepts per element kind and field; text objects count their `text`.
TEXT_LIMITS: dict[str, dict[str, int]] = {
    "section": {"text": 3000, "fields": 2000},
    "header": {"text": 150},
    "button": {"text": 75, "value": 2000, "url": 3000},
    "option": {"text": 75, "value": 150, "description": 75},
    "input": {"label": 2000, "hint": 2000},
    "image": {"alt_text": 2000, "image_url": 3000},
    "plain_text_input": {"initial_value": 3000, "placeholder": 150},
    "static_select": {"placeholder": 150},
    "users_select": {"placeholder": 150},
    "conversations_select": {"placeholder": 150},
    "modal": {"title": 24, "submit": 24, "close": 24, "private_metadata": 3000, "callback_id": 255},
}
# Largest number a numeric field may hold.
NUMBER_LIMITS: dict[str, dict[str, int]] = {"plain_text_input": {"max_length": 3000, "min_length": 3000}}
# Most items a list field may hold.
COUNT_LIMITS: dict[str, dict[str, int]] = {
    "section": {"fields": 10},
    "actions": {"elements": 25},
    "context": {"elements": 10},
    "static_select": {"options": 100},
    "overflow": {"options": 5},
    "radio_buttons": {"options": 10},
    "checkboxes": {"options": 10},
}
OPTION_FIELDS = {"options", "initial_option", "initial_options", "selected_option"}
SDK_ERRORS = (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError)


def check_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Check a message's (limit 50) or a modal's (limit 100) blocks the way Slack's API does."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors = [f"no more than {limit} items allowed [json-pointer:{pointer}]"] if len(blocks) > limit else []
    for index, block in enumerate(blocks):
        errors += _sdk_errors(block, f"{pointer}/{index}")
        errors += list(_limit_errors(block, f"{pointer}/{index}", None))
        errors += _duplicate_action_ids(block, f"{pointer}/{index}")
    return errors + _duplicate_block_ids(blocks, pointer)


def check_view(view: Any) -> list[str]:
    """Check a modal for views.open/update/push: its blocks, its own fields, and Slack's modal rules."""
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    blocks = view.get("blocks")
    errors = check_blocks(blocks, limit=MODAL_BLOCKS, pointer="/view/blocks")
    errors += list(_limit_errors({k: v for k, v in view.items() if k != "blocks"}, "/view", None))
    if view.get("type") != "modal":
        errors.append(f"must be 'modal', not {view.get('type')!r} [json-pointer:/view/type]")
    if not isinstance(view.get("title"), dict):
        errors.append("missing required field: title [json-pointer:/view/title]")
    has_input = isinstance(blocks, list) and any(_type(b) == "input" for b in blocks)
    if has_input and "submit" not in view:
        errors.append("a view with input blocks needs a submit button [json-pointer:/view/submit]")
    return errors + _view_shell_errors(view)


def check_home(view: Any) -> list[str]:
    """Check an App Home view for views.publish: type `home`, at most 100 blocks, no modal buttons."""
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    errors = check_blocks(view.get("blocks"), limit=MODAL_BLOCKS, pointer="/view/blocks")
    errors += list(_limit_errors({k: v for k, v in view.items() if k != "blocks"}, "/view", "modal"))
    if view.get("type") != "home":
        errors.append(f"must be 'home', not {view.get('type')!r} [json-pointer:/view/type]")
    errors += [f"a home view has no {key} [json-pointer:/view/{key}]" for key in ("submit", "close") if key in view]
    return errors + _view_shell_errors(view)


def check_text(text: Any) -> list[str]:
    """Check a message's top-level `text` fallback; longer than 40000 characters is `msg_too_long`."""
    if text is not None and not isinstance(text, str):
        return ["must be a string [json-pointer:/text]"]
    if text is not None and len(text) > MESSAGE_TEXT:
        return [f"must be less than {MESSAGE_TEXT + 1} characters [json-pointer:/text]"]
    return []


def _sdk_errors(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [f"unsupported block type {block.get('type')!r} [json-pointer:{pointer}/type]"]
        output = parsed.to_dict()
    except SDK_ERRORS as exc:
        return [f"{exc} [json-pointer:{pointer}]"]
    return [f"{why} [json-pointer:{where}]" for where, why in _dropped(block, output, pointer)]


def _view_shell_errors(view: dict[str, Any]) -> list[str]:
    """Validate the view's own fields with slack_sdk, blocks stood in by one divider."""
    shell = {k: v for k, v in view.items() if k != "blocks"}
    try:
        output = View(**shell, blocks=[{"type": "divider"}]).to_dict()
    except SDK_ERRORS as exc:
        return [f"{exc} [json-pointer:/view]"]
    output.pop("blocks", None)
    return [f"{why} [json-pointer:{where}]" for where, why in _dropped(shell, output, "/view")]


def _dropped(given: Any, kept: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Where slack_sdk's round trip lost or reshaped a field: a property Slack does not know."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            yield pointer, "unsupported or malformed element"
            return
        for key, value in given.items():
            if value is None:
                continue
            if key not in kept:
                yield f"{pointer}/{key}", f"unsupported property {key!r}"
            else:
                yield from _dropped(value, kept[key], f"{pointer}/{key}")
    elif isinstance(given, list) and isinstance(kept, list):
        for index, (item, kept_item) in enumerate(zip(given, kept, strict=False)):
            yield from _dropped(item, kept_item, f"{pointer}/{index}")
    elif isinstance(given, str) and isinstance(kept, dict):
        yield pointer, "must be an object, not a string"


def _limit_errors(node: Any, pointer: str, kind: str | None) -> Iterator[str]:
    """Walk a block tree checking id lengths and the text, number and count limits of each kind."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _limit_errors(item, f"{pointer}/{index}", kind)
        return
    if not isinstance(node, dict):
        return
    kind = _type(node) or kind
    for key, value in node.items():
        where = f"{pointer}/{key}"
        yield from _field_errors(kind, key, value, where)
        child_kind = "option" if key in OPTION_FIELDS else None
        if isinstance(value, dict | list) and key not in ("text", "label", "hint", "placeholder"):
            yield from _limit_errors(value, where, child_kind)


def _field_errors(kind: str | None, key: str, value: Any, where: str) -> Iterator[str]:
    if key in ("action_id", "block_id") and isinstance(value, str) and len(value) > ID_LENGTH:
        yield f"must be less than {ID_LENGTH + 1} characters [json-pointer:{where}]"
    text_limit = TEXT_LIMITS.get(kind or "", {}).get(key)
    if text_limit is not None:
        for item_where, text in _texts(value, where):
            if len(text) > text_limit:
                yield f"must be less than {text_limit + 1} characters [json-pointer:{item_where}]"
    number_limit = NUMBER_LIMITS.get(kind or "", {}).get(key)
    if number_limit is not None and isinstance(value, int) and value > number_limit:
        yield f"must be at most {number_limit} [json-pointer:{where}]"
    count_limit = COUNT_LIMITS.get(kind or "", {}).get(key)
    if count_limit is not None and isinstance(value, list) and len(value) > count_limit:
        yield f"no more than {count_limit} items allowed [json-pointer:{where}]"


def _texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """The strings a field holds: itself, a text object's `text`, or each of a list of those."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict) and isinstance(value.get("text"), str):
        yield f"{where}/text", value["text"]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{where}/{index}")


def _duplicate_block_ids(blocks: list[Any], pointer: str) -> list[str]:
    seen: set[str] = set()
    errors = []
    for index, block in enumerate(blocks):
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id in seen:
            errors.append(f"duplicate block_id {block_id!r} [json-pointer:{pointer}/{index}/block_id]")
        if isinstance(block_id, str):
            seen.add(block_id)
    return errors


def _duplicate_action_ids(block: Any, pointer: str) -> list[str]:
    """Slack wants each action_id unique within its block (the payload names the block_id too)."""
    seen: set[str] = set()
    errors = []
    for where, action_id in _action_ids(block, pointer):
        if action_id in seen:
            errors.append(f"duplicate action_id {action_id!r} [json-pointer:{where}]")
        seen.add(action_id)
    return errors


def _action_ids(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _action_ids(item, f"{pointer}/{index}")
    elif isinstance(node, dict):
        if isinstance(node.get("action_id"), str):
            yield f"{pointer}/action_id", node["action_id"]
        for key, value in node.items():
            yield from _action_ids(value, f"{pointer}/{key}")


def _type(node: Any) -> str | None:
    kind = node.get("type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) and kind not in ("plain_text", "mrkdwn") else None
