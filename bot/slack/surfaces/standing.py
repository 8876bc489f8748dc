"""Standing approvals on Slack: the "Approve and remember…" modal, its parser, and the lines that list
rules in the App Home and in `/handoff standing`.

The modal carries `pid|channel` in private_metadata (ids only). It asks for how long (up to the policy's
cap) and which argument fields must keep their exact values (checkboxes, ten to a block as Slack allows;
all ticked at first, the narrowest rule). Argument values come from the agent: shown as plain text, cut.
"""

from __future__ import annotations

import json
from typing import Any

from bot.slack.surfaces.blocks import (
    FIELDS_BLOCK,
    FIELDS_INPUT,
    HOURS_BLOCK,
    HOURS_INPUT,
    STANDING_MODAL,
    STANDING_REVOKE,
    button,
    clip,
    clip_rendered,
    context,
    escape,
    input_block,
    mention,
    option,
    plain,
    section,
    when,
)
from bot.store.rows import StandingRule
from scoring.models import Proposal

PER_BLOCK = 10  # Slack's limit on a checkboxes element's options
LISTED = 20  # rules listed on the Home tab or in a reply
VALUE_CHARS = 60
Errors = dict[str, str]


def standing_modal(
    pid: str, proposal: Proposal, *, fields: list[str], hours: list[int], channel: str
) -> dict[str, Any]:
    """The modal of "Approve and remember…": approve now, and allow the same action for the hours picked."""
    action = escape(clip(proposal.action.name, 100))
    blocks = [
        section(f"*Approving:* {clip_rendered(proposal.summary, 1000)}", "summary"),
        context(
            f"Approves this proposal now, and from then on approves `{action}` from *{escape(proposal.agent)}* "
            f"in *{escape(proposal.category)}* without asking, while the ticked fields have exactly these "
            "values. Unticked fields may differ. Each action it allows is listed in the review channel's digest "
            "for a look afterwards; a flag on any of them revokes the rule.",
            "explain",
        ),
        input_block(HOURS_BLOCK, "For how long", _hours_select(hours), optional=False),
    ]
    for start in range(0, len(fields), PER_BLOCK):
        chunk = [(index, fields[index]) for index in range(start, min(start + PER_BLOCK, len(fields)))]
        label = "Only when these fields are the same" if start == 0 else "… and these"
        blocks.append(
            input_block(f"{FIELDS_BLOCK}:{start // PER_BLOCK}", label, _checkboxes(chunk, proposal), optional=True)
        )
    if not fields:
        blocks.append(context("This action has no arguments: the rule allows it whatever it says.", "noargs"))
    return {
        "type": "modal",
        "callback_id": STANDING_MODAL,
        "private_metadata": f"{pid}|{channel}",
        "title": plain("Approve and remember", 24),
        "submit": plain("Approve", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def _hours_select(hours: list[int]) -> dict[str, Any]:
    options = [option(f"{h} hour{'s' if h != 1 else ''}", str(h)) for h in hours]
    return {"type": "static_select", "action_id": HOURS_INPUT, "options": options, "initial_option": options[0]}


def _checkboxes(chunk: list[tuple[int, str]], proposal: Proposal) -> dict[str, Any]:
    options = []
    for index, name in chunk:
        shown = clip(json.dumps(proposal.action.args[name], ensure_ascii=False, default=str), VALUE_CHARS)
        options.append({**option(name, str(index)), "description": plain(shown, 75)})
    return {"type": "checkboxes", "action_id": FIELDS_INPUT, "options": options, "initial_options": options}


def parse_standing(values: dict[str, Any], *, fields: list[str], hours: list[int]) -> tuple[int, list[str], Errors]:
    """(hours, the fields picked, errors keyed by input block) of a submitted modal."""
    hours_state = values.get(HOURS_BLOCK, {}).get(HOURS_INPUT) or {}
    picked = str((hours_state.get("selected_option") or {}).get("value", ""))
    if not picked.isdigit() or int(picked) not in hours:
        return 0, [], {HOURS_BLOCK: f"Pick how long, at most {max(hours)} hours."}
    chosen: list[str] = []
    for block_id, actions in values.items():
        if not str(block_id).startswith(f"{FIELDS_BLOCK}:"):
            continue
        for selected in (actions.get(FIELDS_INPUT) or {}).get("selected_options") or []:
            index = str(selected.get("value", ""))
            if not index.isdigit() or int(index) >= len(fields):
                return 0, [], {str(block_id): "Tick only the fields shown."}
            chosen.append(fields[int(index)])
    return int(picked), sorted(set(chosen), key=fields.index), {}


def rule_line(rule: StandingRule) -> str:
    """One rule in a line of mrkdwn: its scope, the exact values it needs, its author and end."""
    pinned = ", ".join(
        f"{escape(clip(name, 60))} = {escape(clip(json.dumps(value, default=str), VALUE_CHARS))}"
        for name, value in rule.fields.items()
    )
    where = f" where {pinned}" if pinned else " with any arguments"
    return (
        f"• *#{rule.id}* {escape(rule.category)} · {escape(rule.agent)} · `{escape(clip(rule.action, 100))}`"
        f"{where} · by {mention(rule.author)} · until {when(rule.expires_at)}"
    )


def home_blocks(rules: list[StandingRule], *, may_revoke: list[bool]) -> list[dict[str, Any]]:
    """The Home tab's section of active rules, each with a Revoke button for those who may revoke it."""
    if not rules:
        return []
    blocks: list[dict[str, Any]] = [section("*Standing approvals*", "home:standing")]
    for rule, revocable in list(zip(rules, may_revoke, strict=True))[:LISTED]:
        block = section(clip(rule_line(rule), 2900), f"home:standing:{rule.id}")
        if revocable:
            block["accessory"] = button("Revoke", STANDING_REVOKE, str(rule.id), style="danger")
        blocks.append(block)
    if len(rules) > LISTED:
        blocks.append(
            context(f"… and {len(rules) - LISTED} more: `/handoff standing` lists them", "home:standing:more")
        )
    return blocks


def listing(rules: list[StandingRule]) -> str:
    """The reply to `/handoff standing`: every active rule (the first LISTED), and how to revoke one."""
    if not rules:
        return "No standing approvals are active."
    lines = [rule_line(rule) for rule in rules[:LISTED]]
    if len(rules) > LISTED:
        lines.append(f"… and {len(rules) - LISTED} more: the App Home lists them too")
    lines.append("Revoke one with `/handoff standing revoke ID` (its author or a policy owner).")
    return clip(f"*{len(rules)} standing approval{'s' if len(rules) != 1 else ''}*\n" + "\n".join(lines), 2900)
