"""Reading Web API arguments the way Slack does: required fields, JSON-in-form fields, validated blocks."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from bot.sandbox.slack_checks import MESSAGE_BLOCKS, check_blocks, check_home, check_text, check_view
from bot.sandbox.slack_records import ApiError

JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
BLOCK_ID_ALPHABET = string.ascii_letters + string.digits + "+/="


def decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    """Form-encoded calls carry blocks and views as JSON strings; decode those that parse."""
    decoded = dict(params)
    for name in JSON_FIELDS:
        value = decoded.get(name)
        if isinstance(value, str):
            try:
                decoded[name] = json.loads(value)
            except ValueError:
                continue
    return decoded


def required(params: dict[str, Any], name: str) -> Any:
    """The argument `name`, or Slack's `invalid_arguments` naming the missing field."""
    value = params.get(name)
    if value is None or value == "":
        raise ApiError("invalid_arguments", [f"missing required field: {name}"])
    return value


def message_blocks(params: dict[str, Any], *, limit: int = MESSAGE_BLOCKS) -> list[dict[str, Any]] | None:
    """The call's blocks, validated, with block_ids filled in as Slack does; None when absent."""
    blocks = params.get("blocks")
    if blocks is None:
        return None
    if isinstance(blocks, str):
        raise ApiError("invalid_blocks_format", ["blocks must be a JSON array of block objects"])
    errors = check_blocks(blocks, limit=limit)
    if errors:
        raise ApiError("invalid_blocks", errors)
    return with_block_ids(blocks)


def message_text(params: dict[str, Any]) -> str | None:
    """The call's `text` fallback; longer than Slack allows is `msg_too_long`."""
    text = params.get("text")
    errors = check_text(text)
    if errors:
        raise ApiError("msg_too_long", errors)
    return text if isinstance(text, str) else None


def modal(params: dict[str, Any]) -> dict[str, Any]:
    """The call's `view`, validated like Slack's views.* methods; refusals are `invalid_arguments`."""
    view = required(params, "view")
    errors = check_view(view)
    if errors:
        raise ApiError("invalid_arguments", errors)
    validated: dict[str, Any] = view
    return {**validated, "blocks": with_block_ids(validated["blocks"])}


def home(params: dict[str, Any]) -> dict[str, Any]:
    """The call's App Home `view`, validated like views.publish; refusals are `invalid_arguments`."""
    view = required(params, "view")
    errors = check_home(view)
    if errors:
        raise ApiError("invalid_arguments", errors)
    validated: dict[str, Any] = view
    return {**validated, "blocks": with_block_ids(validated["blocks"])}


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `blocks` where each block lacking a block_id gets a short random one, like Slack."""
    taken = {block.get("block_id") for block in blocks}
    filled = []
    for block in blocks:
        block_id = block.get("block_id")
        while block_id is None:
            candidate = "".join(secrets.choice(BLOCK_ID_ALPHABET) for _ in range(4))
            block_id = None if candidate in taken else candidate
        taken.add(block_id)
        filled.append({**block, "block_id": block_id})
    return filled
