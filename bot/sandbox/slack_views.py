"""Modals in the Slack stand-in: views.open/update/push, and what a view_submission ack does to them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from bot.sandbox.slack_params import home, modal, required
from bot.sandbox.slack_records import ApiError
from bot.sandbox.slack_workspace import Workspace

STACK_LIMIT = 3


def views_open(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """views.open: validate the modal, spend the trigger_id, and open it for the trigger's user."""
    view = modal(params)
    trigger_id = params.get("trigger_id")
    trigger = ws.use_trigger(trigger_id)
    return {"view": _open(ws, view, user=trigger.user, trigger_id=trigger_id, previous=None)["view"]}


def views_update(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """views.update: replace an open view (by view_id or external_id); a stale `hash` is `hash_conflict`."""
    record = _find(ws, params)
    if params.get("hash") and params["hash"] != record["view"]["hash"]:
        raise ApiError("hash_conflict", ["the view changed since this hash was read"])
    _replace(ws, record, modal(params))
    return {"view": record["view"]}


def views_push(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """views.push: stack a new view on the trigger user's open modal (at most three deep)."""
    view = modal(params)
    trigger_id = params.get("trigger_id")
    trigger = ws.use_trigger(trigger_id)
    top = next((r for r in reversed(ws.views.values()) if r["user"] == trigger.user and not r["closed"]), None)
    _check_depth(ws, top)
    return {"view": _open(ws, view, user=trigger.user, trigger_id=trigger_id, previous=top)["view"]}


def views_publish(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """views.publish: validate an App Home view and make it what `user_id` sees on the Home tab."""
    user = required(params, "user_id")
    ws.user_info(user)
    view = home(params)
    stored = {
        "id": f"V{ws.next_serial():08d}",
        "team_id": ws.team_id,
        "type": "home",
        "blocks": view["blocks"],
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "external_id": view.get("external_id", ""),
        "app_id": ws.app_id,
        "bot_id": ws.bot_id,
    }
    ws.homes[user] = stored
    return {"view": stored}


def apply_view_ack(ws: Workspace, view_id: str, ack: Any) -> None:
    """Do what Slack does with the app's answer to a view_submission; refusals become rejections."""
    with ws.cond:
        record = ws.views.get(view_id)
        if record is not None:
            try:
                _ack_action(ack)(ws, record, ack)
            except ApiError as exc:
                ws.reject("view_submission", {"view_id": view_id, "ack": ack}, exc)
            ws.changed()


def close_view(ws: Workspace, view_id: str, *, whole_stack: bool) -> None:
    """Mark a view closed by its user; `whole_stack` also closes the views it was pushed over."""
    with ws.cond:
        record = ws.views.get(view_id)
        if record is not None:
            _close(ws, record, whole_stack=whole_stack)
            ws.changed()


def _ack_action(ack: Any) -> Callable[[Workspace, dict[str, Any], Any], None]:
    if ack is None or ack == {}:
        return lambda ws, record, _: _close(ws, record, whole_stack=False)
    if not isinstance(ack, dict):
        raise ApiError("invalid_arguments", ["a view_submission ack must be empty or a JSON object"])
    actions = {"clear": _ack_clear, "errors": _ack_errors, "update": _ack_update, "push": _ack_push}
    action = actions.get(str(ack.get("response_action")))
    if action is None:
        raise ApiError("invalid_arguments", [f"unknown response_action {ack.get('response_action')!r}"])
    return action


def _ack_clear(ws: Workspace, record: dict[str, Any], ack: Any) -> None:
    _close(ws, record, whole_stack=True)


def _ack_errors(ws: Workspace, record: dict[str, Any], ack: Any) -> None:
    """Slack shows `errors` only against input blocks of the view; any other key is refused."""
    errors = ack.get("errors")
    inputs = {b.get("block_id") for b in record["view"]["blocks"] if b.get("type") == "input"}
    if not isinstance(errors, dict) or not errors:
        raise ApiError("invalid_arguments", ["response_action errors needs an `errors` object"])
    unknown = sorted(str(key) for key in errors if key not in inputs)
    if unknown:
        raise ApiError("invalid_arguments", [f"errors name no input block of the view: {', '.join(unknown)}"])


def _ack_update(ws: Workspace, record: dict[str, Any], ack: Any) -> None:
    _replace(ws, record, modal(ack))


def _ack_push(ws: Workspace, record: dict[str, Any], ack: Any) -> None:
    _check_depth(ws, record)
    _open(ws, modal(ack), user=record["user"], trigger_id=None, previous=record)


def _open(
    ws: Workspace, view: dict[str, Any], *, user: str, trigger_id: Any, previous: dict[str, Any] | None
) -> dict[str, Any]:
    external_id = view.get("external_id")
    if external_id and any(r["view"]["external_id"] == external_id for r in ws.views.values()):
        raise ApiError("duplicate_external_id", [f"external_id {external_id!r} is in use"])
    view_id = f"V{ws.next_serial():08d}"
    root = previous["view"]["root_view_id"] if previous else view_id
    stored = _stored(ws, view, view_id, previous=previous["id"] if previous else None, root=root)
    record = {"id": view_id, "trigger_id": trigger_id, "user": user, "view": stored, "closed": False, "history": []}
    ws.views[view_id] = record
    return record


def _replace(ws: Workspace, record: dict[str, Any], view: dict[str, Any]) -> None:
    old = record["view"]
    record["history"].append(old)
    record["view"] = _stored(ws, view, old["id"], previous=old["previous_view_id"], root=old["root_view_id"])


def _stored(ws: Workspace, view: dict[str, Any], view_id: str, *, previous: str | None, root: str) -> dict[str, Any]:
    """The view as Slack answers it: the app's fields plus ids, hash, state and defaults."""
    return {
        "id": view_id,
        "team_id": ws.team_id,
        "type": "modal",
        "blocks": view["blocks"],
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": view["title"],
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": previous,
        "root_view_id": root,
        "app_id": ws.app_id,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }


def _find(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    view_id, external_id = params.get("view_id"), params.get("external_id")
    if not view_id and not external_id:
        required(params, "view_id")
    for record in ws.views.values():
        if record["id"] == view_id or (external_id and record["view"]["external_id"] == external_id):
            return record
    raise ApiError("not_found", [f"no view {view_id or external_id!r}"])


def _check_depth(ws: Workspace, top: dict[str, Any] | None) -> None:
    depth = 0
    while top is not None:
        depth += 1
        top = ws.views.get(top["view"]["previous_view_id"] or "")
    if depth >= STACK_LIMIT:
        raise ApiError("push_limit_reached", [f"a modal stack holds at most {STACK_LIMIT} views"])


def _close(ws: Workspace, record: dict[str, Any], *, whole_stack: bool) -> None:
    record["closed"] = True
    if whole_stack:
        for other in ws.views.values():
            if other["view"]["root_view_id"] == record["view"]["root_view_id"]:
                other["closed"] = True


VIEW_METHODS: dict[str, Callable[[Workspace, dict[str, Any]], dict[str, Any]]] = {
    "views.open": views_open,
    "views.update": views_update,
    "views.push": views_push,
    "views.publish": views_publish,
}
