"""The escalation chain of a review: asked, reminded, escalated, expired; durable and exactly once.

Each step's due time is stored in the ledger (`timers`) and scheduled as an RQ job with a
deterministic id (`timer-<proposal>-<generation>-<step>`), so a reconcile pass can rebuild every
job after Redis lost them. A firing job re-reads the ledger: a decided review, a step already done
or a chain replaced by a redirect (a newer generation) makes it a no-op. Reminders and escalations
are claimed (Redis SET NX, then the ledger's one-way state change) before anything is sent, so none
is sent twice; expiry goes through `decide`, the same exactly-once path as a click.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.jobs import enqueue_timer, timer_job_id
from bot.review import assignment
from bot.review.decide import decide, make_decision
from bot.review.quarantine import isolated
from bot.runtime import Runtime
from bot.slack.messages import post, reply_in_thread
from bot.slack.surfaces import blocks
from bot.store.job_liveness import live_among
from scoring.models import Outcome, Proposal, policy_reviewer
from scoring.policy import Category
from scoring.routing import escalation_kind, escalation_target, schedule

log = logging.getLogger(__name__)
CLAIM_TTL = 30 * 86400
TIMEOUT_REVIEWER = policy_reviewer("timeout")


def start_chain(runtime: Runtime, pid: str, *, now: datetime | None = None) -> bool:
    """Start a posted review's chain once: record who was asked, store and schedule its timers."""
    proposal = runtime.ledger.proposal(pid)
    if runtime.ledger.timers(pid) or proposal is None or runtime.ledger.card(pid) is None:
        ensure_jobs(runtime, pid)
        return False
    moment = now or datetime.now(UTC)
    routed = assignment.route(runtime, proposal, moment)
    started = _begin(runtime, pid, proposal, generation=1, assignee=routed.user or "", now=moment)
    if started:
        runtime.ledger.record_escalation_step(pid, "asked", routed.user or routed.mention or "channel", routed.why)
        if routed.mention or runtime.policy.approvals_needed(proposal.category) > 1:
            assignment.update_card(runtime, pid)
        if routed.mention:
            reply_in_thread(runtime, pid, f"Asking {routed.mention} ({routed.why}).")
    return started


def restart_chain(runtime: Runtime, pid: str, assignee: str, *, now: datetime | None = None) -> bool:
    """Redirect: the chain starts over for `assignee` (a user id), replacing the pending timers."""
    proposal = runtime.ledger.proposal(pid)
    if proposal is None or runtime.ledger.decision(pid) is not None:
        return False
    generation = max((t.generation for t in runtime.ledger.timers(pid)), default=0) + 1
    moment = now or datetime.now(UTC)
    if not _begin(runtime, pid, proposal, generation=generation, assignee=assignee, now=moment):
        return False
    runtime.ledger.record_escalation_step(pid, "asked", assignee, "redirected")
    _direct_message(runtime, pid, proposal, assignee, "A review was redirected to you", kind="direct")
    assignment.update_card(runtime, pid)
    return True


def _begin(runtime: Runtime, pid: str, proposal: Proposal, *, generation: int, assignee: str, now: datetime) -> bool:
    category = runtime.policy.category(proposal.category)
    due = schedule(category.timeouts if category else None, now)
    iso = {"asked": now.isoformat()} | {step: at.isoformat() for step, at in due.items()}
    stored = runtime.ledger.schedule_timers(pid, generation=generation, due=iso, assignee=assignee)
    ensure_jobs(runtime, pid)
    return stored


def ensure_jobs(runtime: Runtime, pid: str | None = None) -> list[str]:
    """(Re)schedule the RQ job of every timer still to fire (of `pid`, or all); returns the job ids made.

    Which jobs are live is read in pipelined batches, so a pass over every timer costs a few round trips."""
    owed = {timer_job_id(t.proposal_id, t.generation, t.step): t for t in runtime.ledger.scheduled_timers(pid)}
    live = live_among(runtime.redis, list(owed))
    made = []
    for job_id, t in owed.items():
        if job_id not in live:
            due = datetime.fromisoformat(t.due_at)
            made.append(enqueue_timer(runtime.redis, t.proposal_id, t.generation, t.step, due=due))
    return [job_id for job_id in made if job_id]


def fire(runtime: Runtime, proposal_id: str, generation: int, step: str) -> str:
    """One step of a review's chain (the job `bot.jobs.fire_timer`), if it is still due; else a no-op.

    A proposal whose record cannot be handled is quarantined (see `bot.review.quarantine`)."""
    with isolated(runtime, proposal_id, f"timer:{step}"):
        return _fire(runtime, proposal_id, generation, step)
    return "quarantined"


def _fire(runtime: Runtime, proposal_id: str, generation: int, step: str) -> str:
    if runtime.ledger.decision(proposal_id) is not None:
        runtime.ledger.claim_timer(proposal_id, generation=generation, step=step, state="cancelled")
        return "decided"
    latest = runtime.ledger.timers(proposal_id)
    if not any(t.generation == generation and t.step == step and t.state == "scheduled" for t in latest):
        return "not due"
    proposal = runtime.ledger.proposal(proposal_id)
    category = runtime.policy.category(proposal.category) if proposal else None
    if proposal is None or category is None:
        return "missing"
    if step == "expire":
        return _expire(runtime, proposal_id, proposal, category, generation)
    claim = f"handoff:timer-claim:{proposal_id}:{generation}:{step}"
    if not runtime.redis.set(claim, "1", nx=True, ex=CLAIM_TTL):
        return "claimed"
    if not runtime.ledger.claim_timer(proposal_id, generation=generation, step=step):
        return "claimed"
    if step == "remind":
        return _remind(runtime, proposal_id, proposal, latest[0].assignee if generation > 1 else None)
    return _escalate(runtime, proposal_id, proposal, category)


def _remind(runtime: Runtime, pid: str, proposal: Proposal, assignee: str | None) -> str:
    user: str | None = assignee
    mention = f"<@{assignee}>" if assignee else ""
    if not assignee:
        routed = assignment.route(runtime, proposal, datetime.now(UTC))
        user, mention = routed.user, routed.mention
    said = f"Reminder: {mention or 'this review'} is still waiting for a decision.".strip()
    reply_in_thread(runtime, pid, said, kind="reminder")
    if user:
        _direct_message(runtime, pid, proposal, user, "Reminder: a review is waiting for you", kind="reminder")
    runtime.ledger.record_escalation_step(pid, "reminded", user or mention or "channel", "")
    return "reminded"


def _escalate(runtime: Runtime, pid: str, proposal: Proposal, category: Category) -> str:
    target = escalation_target(runtime.policy, category, datetime.now(UTC))
    if target is None:
        said = "Escalation: nobody else is available in the rotation; still waiting."
        reply_in_thread(runtime, pid, said, kind="escalation")
        runtime.ledger.record_escalation_step(pid, "escalated", "", "nobody else available")
        return "escalated"
    if escalation_kind(target) == "channel":
        post(runtime, kind="escalation", pid=pid, channel=target, text=f"Escalated: {_summary(runtime, pid, proposal)}")
        reply_in_thread(runtime, pid, f"Escalated to {target}.", kind="escalation")
    else:
        reply_in_thread(runtime, pid, f"Escalated to <@{target}>: this review is overdue.", kind="escalation")
        _direct_message(runtime, pid, proposal, target, "Escalated to you: an overdue review", kind="escalation")
    runtime.ledger.record_escalation_step(pid, "escalated", target, "")
    return "escalated"


def _expire(runtime: Runtime, pid: str, proposal: Proposal, category: Category, generation: int) -> str:
    timeouts = category.timeouts
    waited = _duration(timeouts.expire_after if timeouts and timeouts.expire_after else 0)
    if timeouts is not None and timeouts.outcome == "hold":
        if not runtime.ledger.claim_timer(pid, generation=generation, step="expire", state="held"):
            return "claimed"
        runtime.ledger.record_escalation_step(pid, "held", "hold", f"no decision within {waited}")
        reply_in_thread(runtime, pid, f"Held: nobody decided within {waited}. It stays pending, without reminders.")
        assignment.update_card(runtime, pid)
        return "held"
    comment = f"No reviewer decided within {waited}; the category's timeout outcome is reject."
    decision = make_decision(runtime, pid, Outcome.TIMEOUT, reviewer=TIMEOUT_REVIEWER, comment=comment)
    result = decide(runtime, decision)
    runtime.ledger.claim_timer(pid, generation=generation, step="expire", state="done" if result.won else "cancelled")
    if result.won:
        runtime.ledger.record_escalation_step(pid, "expired", "timeout", comment)
        return "expired"
    return "decided"


def _direct_message(runtime: Runtime, pid: str, proposal: Proposal, user: str, lead: str, *, kind: str) -> None:
    opened = runtime.slack.conversations_open(users=user)
    channel = str(opened["channel"]["id"])
    post(runtime, kind=kind, pid=pid, channel=channel, text=f"{lead}: {_summary(runtime, pid, proposal)}")


def _summary(runtime: Runtime, pid: str, proposal: Proposal) -> str:
    """What the review is, with a link to its card."""
    text = f"{proposal.category} from {blocks.escape(proposal.agent)}: {blocks.escape(proposal.summary)} ({pid})"
    card = runtime.ledger.card(pid)
    if card is not None:
        link = runtime.slack.chat_getPermalink(channel=card[0], message_ts=card[1])
        text += f" {link['permalink']}"
    return blocks.clip(text, 2000)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
