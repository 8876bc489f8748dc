"""RQ job functions: phase one `assess`, phase two `execute`. Module-level, plain ids as arguments.

No job waits for a human: `assess` ends once the card is posted (or policy decided), and the
decision, whoever takes it, enqueues `execute` under a deterministic id.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime
from typing import Any

from rq import get_current_job

from bot.jobs import RETRY_INTERVALS, enqueue_execute, enqueue_webhook
from bot.review import admission, assignment, flags, standing, timers
from bot.review.assess import assess_proposal
from bot.review.decide import decide, decision_for
from bot.review.graduation import effective_policy
from bot.review.history import category_history
from bot.runtime import Runtime
from bot.slack import messages
from bot.slack.surfaces.blocks import escape
from bot.store.agents import AgentStore
from bot.store.review_state import Verdict
from scoring.models import Decision, Outcome, Proposal, Route, policy_reviewer

log = logging.getLogger(__name__)
EXECUTION_CLAIM_TTL = 30 * 86400
INTERRUPTED = (
    "the worker running the callback died before it finished, so it may or may not have taken effect; "
    "it is not run again (at most once): check the action's effect before doing it by hand"
)


def assess(runtime: Runtime, proposal_id: str) -> str:
    """Store, score and route a submitted proposal; idempotent, so a retry after a crash is safe.

    A submission that fails intake (see `bot.review.admission`) is refused, and the agent told."""
    proposal = admission.admit(runtime, proposal_id)
    if proposal is None:
        refused = runtime.ledger.refusal(proposal_id) is not None
        if not refused:
            log.warning("assess: proposal %s is neither in Redis nor in the ledger", proposal_id)
        runtime.board.done_with_inbox(proposal_id)
        return "refused" if refused else "missing"
    assessment = runtime.ledger.assessment(proposal_id) or runtime.ledger.record_assessment(
        assess_proposal(
            proposal,
            proposal_id,
            policy=effective_policy(runtime.ledger, runtime.policy, proposal.category, now=datetime.now(UTC)),
            now=datetime.now(UTC),
            llm=runtime.llm,
            history=category_history(runtime, proposal.category),
        )
    )
    if runtime.ledger.decision(proposal_id) is None:
        remembered = standing.allowed_decision(runtime, proposal_id, proposal, assessment)
        if remembered is not None and _decide_by_policy(runtime, remembered, callback=proposal.callback):
            log.info("%s [%s] allowed by %s", proposal_id, proposal.category, remembered.reviewer)
        elif assessment.route is Route.ESCALATE:
            runtime.board.open_review(proposal_id)
            facts = assignment.card_facts(runtime, proposal_id, proposal)
            messages.post_card(runtime, proposal_id, proposal, assessment, facts=facts)
            log.info("%s [%s] escalated (score %.2f): card posted", proposal_id, proposal.category, assessment.score)
            _say_recovered(proposal_id)
            timers.start_chain(runtime, proposal_id)  # routing note, reminders, escalation, expiry
        else:
            decision = decision_for(
                proposal_id,
                proposal,
                assessment,
                Outcome.AUTO,
                reviewer=policy_reviewer(assessment.level),
                action=proposal.action,
            )
            _decide_by_policy(runtime, decision, callback=proposal.callback)
    runtime.board.done_with_inbox(proposal_id)
    return assessment.route.value


def _decide_by_policy(runtime: Runtime, decision: Decision, *, callback: str | None) -> bool:
    """Decide through the shared path, then run phase two in this job instead of queueing a second one;
    False when the decision was refused (a standing approval revoked meanwhile: a person is asked instead).

    A proposal with a callback gets its own `execute` job: the worker runs agent code in a work horse.
    """
    proposal_id = decision.proposal_id
    runtime.board.open_review(proposal_id)
    result = decide(runtime, decision, enqueue=bool(callback))
    if result.verdict is Verdict.REFUSED:
        log.info("%s: %s did not decide it (%s)", proposal_id, decision.reviewer, result.note)
        return False
    if not result.won or callback:
        return True
    try:
        execute(runtime, proposal_id)
    except Exception:  # Slack down, say: phase two gets its own retried job instead
        log.exception("phase two of %s failed inline; queueing it", proposal_id)
        enqueue_execute(runtime.redis, proposal_id)
    return True


def _say_recovered(proposal_id: str) -> None:
    """After RQ retried assess (Slack was down, say), the log says the card is posted now."""
    job = get_current_job()
    if job is not None and job.retries_left is not None and job.retries_left < len(RETRY_INTERVALS):
        failed = len(RETRY_INTERVALS) - job.retries_left
        log.warning("assess of %s succeeded after %d failed tries: its card is posted", proposal_id, failed)


def execute(runtime: Runtime, proposal_id: str) -> str:
    """Phase two: finalize the card and run the proposal's callback at most once.

    A run that finds the callback claimed but no outcome recorded (the worker running it died) records the
    execution as `interrupted` and says so in the card's thread, instead of running it again."""
    proposal = runtime.ledger.proposal(proposal_id)
    decision = runtime.ledger.decision(proposal_id)
    if proposal is None or decision is None:
        log.warning("execute: %s has no recorded proposal or decision", proposal_id)
        return "missing"
    log.info("%s [%s] decided: %s by %s", proposal_id, proposal.category, decision.outcome.value, decision.reviewer)
    runtime.board.restore_decided(decision)  # idempotent: the decision is published even if its decider died
    _call_back_agent(runtime, proposal_id, proposal)
    messages.finalize_card(runtime, proposal_id, proposal, decision)
    flags.post_review_after(runtime, proposal_id, proposal, runtime.ledger.assessment(proposal_id), decision=decision)
    if runtime.ledger.execution(proposal_id) is not None:
        return "done"
    status, detail = _run_callback(runtime, proposal, decision)
    runtime.ledger.record_execution(proposal_id, status=status, detail=detail)
    if status != "skipped":
        messages.reply_in_thread(runtime, proposal_id, f"Execution {status}: {escape(detail[:500])}")
    return status


def _call_back_agent(runtime: Runtime, proposal_id: str, proposal: Proposal) -> None:
    """Queue the decision's webhook when the proposal's agent has one (before Slack, which may be down)."""
    agent = AgentStore(runtime.ledger).by_name(proposal.agent)
    if agent is not None and agent.webhook_url:
        enqueue_webhook(runtime.redis, proposal_id, agent=agent.name)


def report_execution(runtime: Runtime, proposal_id: str, ok: bool, detail: str) -> str:
    """Record how the agent's own run of a decided action went, and say so in the card's thread (once)."""
    if runtime.ledger.proposal(proposal_id) is None:
        log.warning("report_execution: no proposal %s in the ledger", proposal_id)
        return "missing"
    if not runtime.redis.set(f"handoff:exec-report:{proposal_id}", "1", nx=True, ex=EXECUTION_CLAIM_TTL):
        return "duplicate"
    status = "ok" if ok else "error"
    runtime.ledger.record_execution(proposal_id, status=status, detail=detail)
    messages.report_execution(runtime, proposal_id, ok=ok, detail=detail)
    return status


def _run_callback(runtime: Runtime, proposal: Proposal, decision: Decision) -> tuple[str, str]:
    if not proposal.callback:
        return "skipped", "no callback: the agent runs the decided action itself"
    if not decision.executes:
        return "skipped", f"outcome {decision.outcome.value}: nothing to execute"
    claim = f"handoff:exec-claim:{decision.proposal_id}"
    if not runtime.redis.set(claim, "1", nx=True, ex=EXECUTION_CLAIM_TTL):
        log.error("the callback of %s was interrupted: an earlier run claimed it and died", decision.proposal_id)
        return "interrupted", INTERRUPTED
    try:
        result = _load(proposal.callback)(decision)
    except Exception as exc:  # the agent's code: any failure is recorded, never retried blindly
        log.exception("callback %s failed for %s", proposal.callback, decision.proposal_id)
        return "error", f"{type(exc).__name__}: {exc}"
    return "ok", str(result) if result is not None else "ok"


def _load(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)
