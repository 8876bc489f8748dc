"""The Web API methods the stand-in answers, and `answer`, which dispatches one call like Slack.

Each handler takes the workspace (its lock held) and the call's arguments, and returns the `ok: true`
body's fields or raises `ApiError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.slack_params import message_blocks, message_text, required
from bot.sandbox.slack_records import ApiError, Reply
from bot.sandbox.slack_views import VIEW_METHODS
from bot.sandbox.slack_workspace import Workspace

Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]
PRIVATE_FIELDS = ("channel", "history", "deleted")


def answer(ws: Workspace, method: str, params: dict[str, Any], token: str | None) -> Reply:
    """Answer one Web API call (after any hold): an injected fault, else auth, else the method; record it."""
    with ws.cond:
        ws.pass_hold(method)
        fault = ws.take_fault(method)
        if fault is not None:
            reply = fault.reply()
            ws.record(method, params, reply.error or f"http_{reply.status}")
            return reply
        try:
            reply = Reply(200, {"ok": True, **_handler(ws, method, token)(ws, params)})
        except ApiError as exc:
            return refuse(ws, method, params, exc)
        ws.record(method, params, None)
        return reply


def respond(ws: Workspace, url_id: str, payload: dict[str, Any]) -> Reply:
    """Act on a POST to a response_url: replace or delete the original, or post in channel or ephemerally."""
    with ws.cond:
        try:
            _respond(ws, url_id, payload)
        except ApiError as exc:
            return refuse(ws, "response_url", payload, exc, status=404 if exc.error == "expired_url" else 200)
        ws.record("response_url", payload, None)
        return Reply(200, {"ok": True})


def refuse(ws: Workspace, method: str, params: dict[str, Any], exc: ApiError, *, status: int = 200) -> Reply:
    """Answer a call with Slack's `ok: false` body, remembering it as a rejection and a failed call."""
    with ws.cond:
        ws.reject(method, params, exc)
        ws.record(method, params, exc.error)
        return Reply(status, exc.body())


def _handler(ws: Workspace, method: str, token: str | None) -> Handler:
    if not token:
        raise ApiError("not_authed")
    if method == "apps.connections.open":
        return _app_level(ws, token)
    if token == ws.app_token:
        raise ApiError("not_allowed_token_type", [f"an app-level token cannot call {method}; use the bot token"])
    if token != ws.token:
        raise ApiError("invalid_auth")
    handler = METHODS.get(method) or VIEW_METHODS.get(method)
    if handler is None:
        raise ApiError("unknown_method", [f"the sandbox does not implement {method!r}"])
    return handler


def _app_level(ws: Workspace, token: str) -> Handler:
    """apps.connections.open takes only the app-level (xapp-) token, and needs Socket Mode attached."""
    if not token.startswith("xapp-"):
        raise ApiError("not_allowed_token_type", ["apps.connections.open needs the app-level token (xapp-...)"])
    if ws.socket_url is None or token != ws.app_token:
        raise ApiError("invalid_auth")
    open_url = ws.socket_url
    return lambda ws, params: {"url": open_url()}


def auth_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """auth.test: who the token belongs to."""
    return {
        "url": "https://sandbox.slack.com/",
        "team": "Sandbox",
        "user": "handoff",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def post_message(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """chat.postMessage: validate, store, and answer with the message's ts."""
    channel = required(params, "channel")
    fields = _message_fields(ws, "chat.postMessage", params)
    record = ws.store_message(channel, {**fields, "thread_ts": params.get("thread_ts")})
    return {"channel": record["channel"], "ts": record["ts"], "message": public(record)}


def update(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """chat.update: a new revision of an existing message; omitted text or blocks are kept."""
    record = ws.message(required(params, "channel"), required(params, "ts"))
    fields = _message_fields(ws, "chat.update", params)
    ws.revise_message(record, fields)
    return {"channel": record["channel"], "ts": record["ts"], "text": record["text"], "message": public(record)}


def post_ephemeral(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """chat.postEphemeral: a message only `user` sees; answers with its message_ts."""
    channel, user = required(params, "channel"), required(params, "user")
    ws.user_info(user)
    fields = _message_fields(ws, "chat.postEphemeral", params)
    ts = ws.next_ts()
    ws.ephemerals.append(
        {"channel": channel, "user": user, "message_ts": ts, "thread_ts": params.get("thread_ts"), **fields}
        | {"ephemeral": True}
    )
    return {"message_ts": ts}


def get_permalink(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """chat.getPermalink: a link to a stored message."""
    record = ws.message(required(params, "channel"), required(params, "message_ts"))
    link = f"https://sandbox.slack.com/archives/{record['channel']}/p{record['ts'].replace('.', '')}"
    return {"channel": record["channel"], "permalink": link}


def usergroup_users(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """usergroups.users.list: members configured with `set_usergroup`, else `no_such_subteam`."""
    group = required(params, "usergroup")
    if group not in ws.usergroups:
        raise ApiError("no_such_subteam", [f"no user group {group!r}"])
    return {"users": list(ws.usergroups[group])}


def users_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """users.info: a generated profile, overridden by `set_user`."""
    return {"user": ws.user_info(required(params, "user"))}


def conversations_open(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """conversations.open: the DM (one user) or group DM (several) with the bot, same id every time."""
    if params.get("channel"):
        return {"no_op": True, "already_open": True, "channel": {"id": params["channel"]}}
    raw = params.get("users") or ""
    users = [u.strip() for u in (raw.split(",") if isinstance(raw, str) else raw) if u.strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    for user in users:
        ws.user_info(user)
    key = frozenset(users)
    existed = key in ws.conversations
    if not existed:
        single = len(users) == 1
        ws.conversations[key] = "D" + users[0][1:] if single else f"G{ws.next_serial():08d}"
    return {"no_op": existed, "already_open": existed, "channel": {"id": ws.conversations[key]}}


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Slack shows it in API answers and interaction payloads."""
    shown = {k: v for k, v in record.items() if k not in PRIVATE_FIELDS}
    if shown.get("thread_ts") is None:
        shown.pop("thread_ts", None)
    return shown


def _message_fields(ws: Workspace, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validated text and blocks of a message call, with Slack's `no_text` and a missing-text warning."""
    blocks, text = message_blocks(params), message_text(params)
    if not text and not blocks and not params.get("attachments") and not params.get("markdown_text"):
        raise ApiError("no_text", ["a message needs text, blocks or attachments"])
    if blocks and not text:
        channel = params.get("channel")
        ws.warnings.append(f"{method} to {channel} sent blocks without a `text` fallback for notifications")
    fields: dict[str, Any] = {}
    if text is not None or method != "chat.update":
        fields["text"] = text or ""
    if blocks is not None or method != "chat.update":
        fields["blocks"] = blocks or []
    return fields


def _respond(ws: Workspace, url_id: str, payload: dict[str, Any]) -> None:
    target = ws.response_urls.get(url_id)
    if target is None:
        raise ApiError("expired_url", [f"unknown response_url {url_id!r}"])
    if payload.get("delete_original"):
        ws.message(target["channel"], target["ts"])["deleted"] = True
        return
    fields = _message_fields(ws, "response_url", payload)
    if payload.get("replace_original"):
        ws.revise_message(ws.message(target["channel"], target["ts"]), fields)
    elif payload.get("response_type") == "in_channel":
        ws.store_message(target["channel"], {**fields, "thread_ts": payload.get("thread_ts")})
    else:
        ts = ws.next_ts()
        where = {"channel": target["channel"], "user": target["user"], "message_ts": ts}
        ws.ephemerals.append({**where, "thread_ts": None, **fields, "ephemeral": True})


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "usergroups.users.list": usergroup_users,
    "users.info": users_info,
    "conversations.open": conversations_open,
}
