"""Review after the fact: a message for every review_after or audited action, with a "Flag as wrong" button.

`post_review_after` is called by `jobs.execute` once an action that ran without review is decided; a
click on the button records a flag in the ledger (it counts as an override) and marks the message.
The flag button's value is the proposal id only; the flagger is the payload's user. `register` also
attaches the promotion-card listeners of `bot.app.listeners.promotions`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App

from bot.app.listeners import promotions
from bot.review.authz import permission
from bot.runtime import Runtime
from bot.slack.surfaces.blocks import HEADER_LIMIT, SECTION_LIMIT, clip, code, escape
from scoring.models import Assessment, Proposal, Route

log = logging.getLogger(__name__)
FLAG = "handoff_flag_wrong"
ACTION_IDS = (FLAG,)
CLAIM_TTL = 300


def needs_review_after(assessment: Assessment | None) -> bool:
    """Whether an action runs before any human saw it and still gets a human look: review_after or audit."""
    return assessment is not None and (assessment.route is Route.REVIEW_AFTER or assessment.audit)


def flag_card(
    pid: str, proposal: Proposal, assessment: Assessment, *, flagged_by: str | None = None
) -> list[dict[str, Any]]:
    """The message for an action that ran unreviewed: what it did, why it ran, and the flag button (or the flag)."""
    revision = 2 if flagged_by else 1
    kind = "Audit sample" if assessment.audit else "Ran without review"
    header = clip(f"{kind}: {proposal.category} from {proposal.agent}", HEADER_LIMIT)
    why = (
        "sampled for audit: it ran on its own; check it and flag it if it was wrong"
        if assessment.audit
        else "this category acts first and is reviewed afterwards; flag it if it was wrong"
    )
    args = json.dumps(proposal.action.args, indent=2, ensure_ascii=False, default=str)
    did = code(clip(f"{proposal.action.name}({args})", SECTION_LIMIT - 400))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": f"rah:{pid}:{revision}", "text": {"type": "plain_text", "text": header}},
        _section(f"*Request*\n{escape(proposal.input.request) or '_none given_'}", f"rain:{pid}:{revision}"),
        _section(f"*Did:* {escape(proposal.summary)}\n{did}", f"raact:{pid}:{revision}"),
        _section(f"*Why no one was asked first:* score {assessment.score:.2f}; {why}", f"rawhy:{pid}:{revision}"),
    ]
    if flagged_by:
        blocks.append(_section(f"*Flagged as wrong* by <@{flagged_by}>: counted as an override", f"raf:{pid}:2"))
    else:
        button = {
            "type": "button",
            "action_id": FLAG,
            "text": {"type": "plain_text", "text": "Flag as wrong"},
            "style": "danger",
            "value": pid,
        }
        blocks.append({"type": "actions", "block_id": f"raflag:{pid}:1", "elements": [button]})
    context = f"proposal `{pid}` · policy {assessment.policy_version}"
    elements = [{"type": "mrkdwn", "text": context}]
    blocks.append({"type": "context", "block_id": f"raid:{pid}:{revision}", "elements": elements})
    return blocks


def review_message(runtime: Runtime, pid: str) -> tuple[str, str] | None:
    """(channel, ts) of the proposal's review-after message, or None."""
    row = runtime.ledger.db.execute("SELECT channel, ts FROM review_messages WHERE proposal_id = ?", [pid]).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def post_review_after(runtime: Runtime, pid: str, proposal: Proposal, assessment: Assessment | None) -> None:
    """Post the flaggable message once for a review_after or audited action; anything else is left alone."""
    if not needs_review_after(assessment) or review_message(runtime, pid) is not None:
        return
    assert assessment is not None
    claim = f"handoff:review-after-claim:{pid}"
    if not runtime.redis.set(claim, "1", nx=True, ex=CLAIM_TTL):
        return
    try:
        response = runtime.slack.chat_postMessage(
            channel=runtime.policy.channel_for(proposal.category),
            text=clip(f"Ran without review: {escape(proposal.summary)} ({pid})", 300),
            blocks=flag_card(pid, proposal, assessment),
            unfurl_links=False,
            unfurl_media=False,
        )
    except BaseException:
        runtime.redis.delete(claim)
        raise
    runtime.ledger.record_review_message(pid, channel=str(response["channel"]), ts=str(response["ts"]))


def flag(runtime: Runtime, pid: str, *, user: str, channel: str) -> bool:
    """Record `user`'s flag on `pid` and mark its message; False (and an ephemeral note) when refused."""
    proposal, assessment = runtime.ledger.proposal(pid), runtime.ledger.assessment(pid)
    if proposal is None or not needs_review_after(assessment):
        _tell(runtime, channel, user, "Only actions that ran without review can be flagged; nothing changed.")
        return False
    assert assessment is not None
    allowed = permission(runtime, pid, user)
    if not allowed.allowed:
        _tell(runtime, channel, user, allowed.reason or "You are not a reviewer for this category; nothing changed.")
        return False
    if not runtime.ledger.record_flag(pid, flagger=user):
        row = runtime.ledger.db.execute("SELECT flagger, flagged_at FROM flags WHERE proposal_id = ?", [pid]).fetchone()
        _tell(runtime, channel, user, f"Already flagged by <@{row[0]}> at {row[1]}; it counts once. Nothing changed.")
        return False
    where = review_message(runtime, pid)
    if where is not None:
        runtime.slack.chat_update(
            channel=where[0],
            ts=where[1],
            text=clip(f"Flagged as wrong: {escape(proposal.summary)} ({pid})", 300),
            blocks=flag_card(pid, proposal, assessment, flagged_by=user),
        )
    return True


def register(app: App, runtime: Runtime) -> None:
    """Attach the flag listener and the promotion-card listeners to `app`."""

    @app.action(FLAG)
    def on_flag(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id", "")
        flag(runtime, str(body["actions"][0].get("value", "")), user=str(body["user"]["id"]), channel=str(channel))

    promotions.register(app, runtime)


def _tell(runtime: Runtime, channel: str, user: str, text: str) -> None:
    if channel:
        runtime.slack.chat_postEphemeral(channel=channel, user=user, text=text)


def _section(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}
