"""Interaction payloads shaped like Slack's: block_actions, view_submission and view_closed.

Pure builders: they take the message or view a person sees and what the person does, and return the
payload dict Slack would POST to the app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

VERIFICATION = "sandbox-verification-token"
HIDDEN_MESSAGE_FIELDS = ("channel", "history", "deleted", "ephemeral")

# Element type -> (state field, the element's field holding its initial value, empty value).
STATE_FIELDS: dict[str, tuple[str, str | None, Any]] = {
    "plain_text_input": ("value", "initial_value", None),
    "email_text_input": ("value", "initial_value", None),
    "url_text_input": ("value", "initial_value", None),
    "number_input": ("value", "initial_value", None),
    "rich_text_input": ("rich_text_value", "initial_value", None),
    "static_select": ("selected_option", "initial_option", None),
    "external_select": ("selected_option", "initial_option", None),
    "radio_buttons": ("selected_option", "initial_option", None),
    "overflow": ("selected_option", None, None),
    "multi_static_select": ("selected_options", "initial_options", []),
    "multi_external_select": ("selected_options", "initial_options", []),
    "checkboxes": ("selected_options", "initial_options", []),
    "users_select": ("selected_user", "initial_user", None),
    "multi_users_select": ("selected_users", "initial_users", []),
    "conversations_select": ("selected_conversation", "initial_conversation", None),
    "multi_conversations_select": ("selected_conversations", "initial_conversations", []),
    "channels_select": ("selected_channel", "initial_channel", None),
    "multi_channels_select": ("selected_channels", "initial_channels", []),
    "datepicker": ("selected_date", "initial_date", None),
    "timepicker": ("selected_time", "initial_time", None),
    "datetimepicker": ("selected_date_time", "initial_date_time", None),
}


@dataclass(frozen=True)
class Actor:
    """The person acting and the workspace and app a payload names."""

    user: dict[str, Any]
    team_id: str
    app_id: str

    def envelope(self, kind: str) -> dict[str, Any]:
        """The fields every interaction payload of `kind` starts with."""
        return {
            "type": kind,
            "user": self.user,
            "api_app_id": self.app_id,
            "token": VERIFICATION,
            "team": {"id": self.team_id, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
        }


def find_element(
    blocks: list[dict[str, Any]], action_id: str, *, block_id: str | None = None, value: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The (block_id, element) a person can act on; `block_id` or a button's `value` tell twins apart."""
    found = [(b_id, el) for b_id, el in _elements(blocks) if el.get("action_id") == action_id]
    if block_id is not None:
        found = [(b_id, el) for b_id, el in found if b_id == block_id]
    if value is not None and len(found) > 1:
        found = [(b_id, el) for b_id, el in found if el.get("type") != "button" or el.get("value") == value]
    if len(found) == 1:
        return found[0]
    present = sorted({str(el.get("action_id")) for _, el in _elements(blocks)})
    if not found:
        raise LookupError(f"no element with action_id {action_id!r} here; action_ids present: {present}")
    raise LookupError(f"{len(found)} elements have action_id {action_id!r}; pass block_id= or value=")


def action_of(block_id: str, element: dict[str, Any], value: Any, *, action_ts: str) -> dict[str, Any]:
    """The `actions[0]` entry for acting on `element`: a button press, or picking `value`."""
    action = {"action_id": element["action_id"], "block_id": block_id}
    if element.get("type") == "button":
        if value is not None and element.get("value") != value:
            raise LookupError(f"button {element['action_id']!r} carries {element.get('value')!r}, not {value!r}")
        shown = {k: element[k] for k in ("text", "value", "style") if k in element}
        return action | shown | {"type": "button", "action_ts": action_ts}
    if value is None:
        raise LookupError(f"{element.get('type')} {element['action_id']!r} needs value= (what the person picks)")
    return action | element_state(element, value) | {"action_ts": action_ts}


def element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """The state Slack reports for `element` holding `value` (None: its initial value); dicts pass as is."""
    if isinstance(value, dict):
        return value
    kind = str(element.get("type"))
    if kind not in STATE_FIELDS:
        raise LookupError(f"the sandbox reviewer cannot fill a {kind!r} element ({element.get('action_id')!r})")
    field, initial, empty = STATE_FIELDS[kind]
    if value is None:
        return {"type": kind, field: element.get(initial, empty) if initial else empty}
    if field == "selected_option":
        return {"type": kind, field: _option(element, value)}
    if field == "selected_options":
        return {"type": kind, field: [_option(element, v) for v in _listed(value)]}
    if field.startswith("selected_") and field.endswith("s"):
        return {"type": kind, field: _listed(value)}
    return {"type": kind, field: _plain(kind, value)}


def view_state(view: Mapping[str, Any], values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`view.state` as Slack sends it: every input at its initial value, then the given `values`."""
    elements = {(b_id, str(el.get("action_id"))): el for b_id, el in _elements(view.get("blocks", []))}
    state: dict[str, dict[str, Any]] = {}
    for (block_id, action_id), element in elements.items():
        if element.get("type") in STATE_FIELDS and element.get("type") != "overflow":
            state.setdefault(block_id, {})[action_id] = element_state(element, None)
    for block_id, actions in values.items():
        for action_id, value in actions.items():
            target = elements.get((block_id, action_id))
            if target is None:
                known = sorted(f"{b}/{a}" for b, a in elements)
                raise LookupError(f"the view has no element {block_id}/{action_id}; it has {known}")
            state.setdefault(block_id, {})[action_id] = element_state(target, value)
    return {"values": state}


def message_click(actor: Actor, message: dict[str, Any], action: dict[str, Any], **urls: str) -> dict[str, Any]:
    """A block_actions payload for acting on a message; `urls` gives trigger_id and response_url."""
    channel, ephemeral = message["channel"], bool(message.get("ephemeral"))
    ts = message["message_ts"] if ephemeral else message["ts"]
    payload = actor.envelope("block_actions") | {
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
        "trigger_id": urls["trigger_id"],
        "channel": {"id": channel, "name": channel.lower()},
    }
    if not ephemeral:
        shown = {k: v for k, v in message.items() if k not in HIDDEN_MESSAGE_FIELDS}
        payload["message"] = {k: v for k, v in shown.items() if v is not None or k != "thread_ts"}
    state = view_state(message, {})
    return payload | {"state": state, "response_url": urls["response_url"], "actions": [action]}


def view_click(actor: Actor, view: dict[str, Any], action: dict[str, Any], *, trigger_id: str) -> dict[str, Any]:
    """A block_actions payload for acting on an element inside an open modal."""
    return actor.envelope("block_actions") | {
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": trigger_id,
        "view": view | {"state": view_state(view, {})},
        "actions": [action],
    }


def view_submission(actor: Actor, view: dict[str, Any], state: dict[str, Any], *, trigger_id: str) -> dict[str, Any]:
    """A view_submission payload: the modal as shown, with the person's inputs in `view.state`."""
    return actor.envelope("view_submission") | {
        "trigger_id": trigger_id,
        "view": view | {"state": state},
        "response_urls": [],
    }


def view_closed(actor: Actor, view: dict[str, Any], *, cleared: bool) -> dict[str, Any]:
    """A view_closed payload (sent only for modals opened with `notify_on_close`)."""
    return actor.envelope("view_closed") | {"view": view | {"state": {"values": {}}}, "is_cleared": cleared}


def home_opened(actor: Actor, *, channel: str, event_time: int) -> dict[str, Any]:
    """An Events API `event_callback` for `app_home_opened` on the Home tab (sent as JSON)."""
    return {
        "token": VERIFICATION,
        "team_id": actor.team_id,
        "api_app_id": actor.app_id,
        "type": "event_callback",
        "event_id": f"Ev{event_time}{actor.user['id']}",
        "event_time": event_time,
        "event": {
            "type": "app_home_opened",
            "user": actor.user["id"],
            "channel": channel,
            "tab": "home",
            "event_ts": f"{event_time}.000100",
        },
    }


def slash_command(actor: Actor, command: str, text: str, **where: str) -> dict[str, str]:
    """The form fields of a slash command; `where` gives channel_id, response_url and trigger_id."""
    return {
        "token": VERIFICATION,
        "team_id": actor.team_id,
        "team_domain": "sandbox",
        "channel_id": where["channel_id"],
        "channel_name": where["channel_id"].lower(),
        "user_id": actor.user["id"],
        "user_name": actor.user["name"],
        "command": command,
        "text": text,
        "api_app_id": actor.app_id,
        "is_enterprise_install": "false",
        "response_url": where["response_url"],
        "trigger_id": where["trigger_id"],
    }


def _elements(blocks: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every interactive element with the block_id of its block (actions, accessories, inputs)."""
    for block in blocks if isinstance(blocks, list) else []:
        candidates = [*block.get("elements", []), block.get("accessory"), block.get("element")]
        for element in candidates:
            if isinstance(element, dict) and "action_id" in element:
                yield str(block.get("block_id")), element


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    options = [*element.get("options", [])]
    for group in element.get("option_groups", []):
        options += group.get("options", [])
    if not options:
        return {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
    for option in options:
        if option.get("value") == str(value):
            return dict(option)
    known = [option.get("value") for option in options]
    raise LookupError(f"{element.get('action_id')!r} has no option {value!r}; its options: {known}")


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _plain(kind: str, value: Any) -> Any:
    """Slack reports numbers as strings and dates and times in ISO form."""
    if kind == "datetimepicker" and isinstance(value, dt.datetime):
        return int(value.timestamp())
    if kind == "datepicker" and isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if kind == "timepicker" and isinstance(value, dt.time | dt.datetime):
        return value.strftime("%H:%M")
    return str(value) if kind == "number_input" else value
