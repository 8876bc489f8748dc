"""The ledger: the durable record of every proposal, assessment, card, decision and execution.

This module owns every write. Each write happens inside one serialized write transaction together with an
entry in the append-only, hash-chained event log, so the log and the tables never disagree. Where the
ledger lives (a SQLite file, the default, or PostgreSQL) is the engine's business (`bot.store.engine`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bot.store import chain
from bot.store.clock import utcnow
from bot.store.engine import Dialect, Handle, is_postgres, open_engine
from bot.store.migrations import PRECEDENT_COLUMNS, PRECEDENT_INSERT
from bot.store.rows import MessageRef, ScheduledTimer, TimerRow
from scoring.models import Assessment, Decision, Proposal
from scoring.precedents import is_human_decision, record_of

log = logging.getLogger(__name__)
# Checked inside the deciding transaction: why this decision may no longer be taken ("" when it may).
Guard = Callable[[Handle], str]
# More writes that belong to a write's transaction.
Step = Callable[[Handle], None]


class DecisionRefusedError(RuntimeError):
    """A decision whose guard, checked in the deciding transaction, refused it (nothing was written)."""


class Ledger:
    """The one entry object for reading and writing the ledger: a SQLite file at `path`, or the PostgreSQL
    database a `postgresql://` URL names (see `bot.store.engine`)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0, read_only: bool = False) -> None:
        """Open (and migrate) the ledger; `read_only` opens an existing ledger for reading only (`handoff verify`),
        `busy_timeout` is how long a write waits for another writer before failing."""
        self.engine = open_engine(path, busy_timeout=busy_timeout, read_only=read_only)
        self.target = str(path)
        self.path = Path(path) if not is_postgres(path) else Path()
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        if not read_only:
            self.engine.migrate()

    # -- connection and transactions -------------------------------------------------------

    @property
    def db(self) -> Handle:
        """Where reads run: this thread's SQLite connection, or the PostgreSQL pool."""
        return self.engine.reader()

    @property
    def dialect(self) -> Dialect:
        """The SQL fragments that differ between the engines."""
        return self.engine.dialect

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What the engine raises when a statement fails (a lock held too long, a lost connection)."""
        return self.engine.errors

    def describe(self) -> str:
        """Where the ledger is, for messages (never a password)."""
        return self.engine.describe()

    def close(self) -> None:
        """Close every connection this ledger opened, in any thread; a later use opens a new one."""
        self.engine.close()

    def _transaction(self) -> AbstractContextManager[Handle]:
        """One write transaction; writers take turns (the hash chain's appends are serialized)."""
        return self.engine.transaction()

    def _event(
        self,
        db: Handle,
        proposal_id: str,
        kind: str,
        body: dict[str, Any],
        seal: tuple[str, str] | None = None,
    ) -> None:
        chain.append(db, proposal_id, kind, body, at=utcnow(), seal=seal)

    # -- writes ----------------------------------------------------------------------------

    def record_proposal(self, proposal_id: str, proposal: Proposal, *, submitted_at: str) -> bool:
        """Store a proposal once; returns False when it was already there (a resubmission)."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM proposals WHERE id = ?", [proposal_id]).fetchone():
                return False
            body = proposal.model_dump(mode="json")
            db.execute(
                "INSERT INTO proposals (id, category, agent, summary, body, submitted_at, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    proposal_id,
                    proposal.category,
                    proposal.agent,
                    proposal.summary,
                    json.dumps(body),
                    submitted_at,
                    utcnow(),
                ],
            )
            self._event(db, proposal_id, "proposed", {"category": proposal.category}, ("proposals", proposal_id))
            return True

    def record_assessment(self, assessment: Assessment) -> Assessment:
        """Store the assessment of a proposal once; returns the stored one."""
        with self._transaction() as db:
            existing = self._assessment(db, assessment.proposal_id)
            if existing is not None:
                return existing
            db.execute(
                "INSERT INTO assessments (proposal_id, score, route, policy_version, body, assessed_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    assessment.proposal_id,
                    assessment.score,
                    assessment.route.value,
                    assessment.policy_version,
                    assessment.model_dump_json(),
                    utcnow(),
                ],
            )
            fired = [s.name for s in assessment.fired()]
            self._event(
                db,
                assessment.proposal_id,
                "assessed",
                {"score": assessment.score, "route": assessment.route.value, "fired": fired},
                ("assessments", assessment.proposal_id),
            )
            return assessment

    def record_card(self, proposal_id: str, *, channel: str, ts: str) -> None:
        """Remember where a proposal's review card was posted, so it can be updated later."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO cards (proposal_id, channel, ts, posted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(proposal_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
                [proposal_id, channel, ts, utcnow()],
            )
            self._event(db, proposal_id, "card_posted", {"channel": channel, "ts": ts})

    def record_decision(self, decision: Decision) -> Decision:
        """Store the one decision of a proposal; returns the decision that stands.

        The primary key makes a second decision impossible: when one exists already it is
        returned unchanged and the new one is dropped.
        """
        with self._transaction() as db:
            existing = self._decision(db, decision.proposal_id)
            if existing is not None:
                return existing
            self._insert_decision(db, decision)
            return decision

    def _insert_decision(self, db: Handle, decision: Decision) -> None:
        db.execute(
            "INSERT INTO decisions (proposal_id, outcome, reviewer, body, decided_at) VALUES (?, ?, ?, ?, ?)",
            [
                decision.proposal_id,
                decision.outcome.value,
                decision.reviewer,
                decision.model_dump_json(),
                decision.decided_at,
            ],
        )
        body = {"outcome": decision.outcome.value, "reviewer": decision.reviewer}
        self._event(db, decision.proposal_id, "decided", body, ("decisions", decision.proposal_id))
        self._record_precedent(db, decision)

    def _record_precedent(self, db: Handle, decision: Decision) -> None:
        """List a person's decision among its category's precedents (`bot.store.precedents`), in its transaction."""
        if not is_human_decision(decision):
            return
        proposal = self._proposal(db, decision.proposal_id)
        record = record_of(proposal, decision) if proposal is not None else None
        if record is not None:
            db.execute(PRECEDENT_INSERT, [record[c] for c in PRECEDENT_COLUMNS])

    def decide(
        self, decision: Decision, *, needed: int = 1, fingerprint: str = "", guard: Guard | None = None
    ) -> tuple[bool, Decision | None, tuple[str, ...]]:
        """Take the one decision of a proposal, in one transaction: (won, the decision that stands, approvers).

        With `needed` > 1 the decision is an approval toward a quorum of the action `fingerprint`: it is
        recorded, and decides only when `needed` distinct reviewers approved that action (else the decision
        that stands is None: progress). A proposal decided already returns its decision, unchanged. A
        `guard` that gives a reason in the same transaction refuses the decision (DecisionRefusedError).
        """
        with self._transaction() as db:
            existing = self._decision(db, decision.proposal_id)
            if existing is not None:
                return False, existing, ()
            refusal = guard(db) if guard else ""
            if refusal:
                raise DecisionRefusedError(refusal)
            approvers: tuple[str, ...] = ()
            if needed > 1:
                self._approve(db, decision.proposal_id, reviewer=decision.reviewer, fingerprint=fingerprint)
                approvers = tuple(self._approvers(db, decision.proposal_id, fingerprint))
                if len(approvers) < needed:
                    return False, None, approvers
            self._insert_decision(db, decision)
            return True, decision, approvers

    def record_execution(self, proposal_id: str, *, status: str, detail: str = "") -> None:
        """Record how running a decided action went (`ok`, `error`, `skipped`).

        The first real outcome stands; only a `skipped` placeholder (handoff had no callback to run)
        is replaced, by the agent's own report of how its run went.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO executions (proposal_id, status, detail, executed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(proposal_id) DO UPDATE SET status = excluded.status, detail = excluded.detail,"
                " executed_at = excluded.executed_at WHERE executions.status = 'skipped'",
                [proposal_id, status, detail[:4000], utcnow()],
            )
            if cursor.rowcount:  # the log says only what the table holds
                self._event(db, proposal_id, "executed", {"status": status}, ("executions", proposal_id))

    def record_refusal(self, proposal_id: str, *, reason: str, category: str = "", agent: str = "") -> bool:
        """Record a submission refused at intake (never stored as a proposal); False if already refused."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO refusals (proposal_id, reason, category, agent, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [proposal_id, reason[:4000], category[:100], agent[:100], utcnow()],
            )
            if cursor.rowcount:
                self._event(db, proposal_id, "refused", {"reason": reason[:4000]}, ("refusals", proposal_id))
            return bool(cursor.rowcount)

    def refusal(self, proposal_id: str) -> str | None:
        """Why a submission was refused at intake, or None."""
        row = self.db.execute("SELECT reason FROM refusals WHERE proposal_id = ?", [proposal_id]).fetchone()
        return str(row[0]) if row else None

    def quarantine(self, proposal_id: str, *, stage: str, error: str) -> bool:
        """Set a record that a pass could not handle aside; True the first time (so it is logged once)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO quarantine (proposal_id, stage, error, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [proposal_id, stage, error[:2000], utcnow()],
            )
            if cursor.rowcount:
                self._event(db, proposal_id, "quarantined", {"stage": stage, "error": error[:2000]})
            return bool(cursor.rowcount)

    def quarantined_id(self, proposal_id: str) -> bool:
        """True when this proposal's record was quarantined."""
        return self.db.execute("SELECT 1 FROM quarantine WHERE proposal_id = ?", [proposal_id]).fetchone() is not None

    # -- reads -----------------------------------------------------------------------------

    def proposal(self, proposal_id: str) -> Proposal | None:
        """The stored proposal, or None."""
        return self._proposal(self.db, proposal_id)

    @staticmethod
    def _proposal(db: Handle, proposal_id: str) -> Proposal | None:
        row = db.execute("SELECT body FROM proposals WHERE id = ?", [proposal_id]).fetchone()
        return Proposal.model_validate_json(row[0]) if row else None

    def assessment(self, proposal_id: str) -> Assessment | None:
        """The stored assessment, or None."""
        return self._assessment(self.db, proposal_id)

    def decision(self, proposal_id: str) -> Decision | None:
        """The stored decision, or None."""
        return self._decision(self.db, proposal_id)

    def card(self, proposal_id: str) -> MessageRef | None:
        """The proposal's review card, or None."""
        row = self.db.execute("SELECT channel, ts FROM cards WHERE proposal_id = ?", [proposal_id]).fetchone()
        return MessageRef(row[0], row[1]) if row else None

    def execution(self, proposal_id: str) -> str | None:
        """The execution status, or None when it has not run."""
        row = self.db.execute("SELECT status FROM executions WHERE proposal_id = ?", [proposal_id]).fetchone()
        return str(row[0]) if row else None

    def pending_ids(self) -> list[str]:
        """Escalated proposals that have no decision yet: what reviewers still owe."""
        rows = self.db.execute(
            "SELECT a.proposal_id FROM assessments a LEFT JOIN decisions d USING (proposal_id)"
            " WHERE a.route = 'escalate' AND d.proposal_id IS NULL AND a.proposal_id NOT IN (SELECT proposal_id"
            " FROM quarantine) ORDER BY a.assessed_at"
        ).fetchall()
        return [r[0] for r in rows]

    def unexecuted_ids(self) -> list[str]:
        """Decided proposals whose phase two has not been recorded."""
        rows = self.db.execute(
            "SELECT d.proposal_id FROM decisions d LEFT JOIN executions e USING (proposal_id)"
            " WHERE e.proposal_id IS NULL AND d.proposal_id NOT IN (SELECT proposal_id FROM quarantine)"
            " ORDER BY d.decided_at"
        ).fetchall()
        return [r[0] for r in rows]

    def decisions_since(self, since: str) -> list[Decision]:
        """Decisions taken at or after `since` (ISO-8601), oldest first."""
        rows = self.db.execute(
            "SELECT body FROM decisions WHERE decided_at >= ? ORDER BY decided_at", [since]
        ).fetchall()
        return [Decision.model_validate_json(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Row counts per table, for summaries and health checks."""
        tables = ("proposals", "assessments", "decisions", "executions", "events")
        return {t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}  # noqa: S608

    def outcome_counts(self) -> dict[str, int]:
        """How many decisions of each outcome the ledger holds."""
        rows = self.db.execute("SELECT outcome, COUNT(*) FROM decisions GROUP BY outcome").fetchall()
        return {r[0]: r[1] for r in rows}

    def verify_chain(self) -> bool:
        """True when every event links to its predecessor and every sealed record matches its event."""
        return self.verify().ok

    def verify(self, saved_head: str | None = None) -> chain.Verdict:
        """The chain checked link by link and record by record, and against `saved_head` (`SEQ:HASH`) if given."""
        return chain.verify(self.db, saved_head=saved_head)

    def head(self) -> str:
        """The chain's head, `SEQ:HASH`: publish it outside the file to detect a truncated log later."""
        return chain.head(self.db)

    @staticmethod
    def _assessment(db: Handle, proposal_id: str) -> Assessment | None:
        row = db.execute("SELECT body FROM assessments WHERE proposal_id = ?", [proposal_id]).fetchone()
        return Assessment.model_validate_json(row[0]) if row else None

    @staticmethod
    def _decision(db: Handle, proposal_id: str) -> Decision | None:
        row = db.execute("SELECT body FROM decisions WHERE proposal_id = ?", [proposal_id]).fetchone()
        return Decision.model_validate_json(row[0]) if row else None

    # -- telemetry: escalation paths, flags, review-after messages, policy events -----------

    def record_escalation_step(self, proposal_id: str, kind: str, target: str, detail: str = "") -> None:
        """Record one step of a proposal's escalation path: who was `asked`, `reminded`, `escalated` to."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO escalation_steps (proposal_id, kind, target, detail, at) VALUES (?, ?, ?, ?, ?)"
                " RETURNING seq",
                [proposal_id, kind, target, detail[:2000], utcnow()],
            )
            body = {"target": target, "detail": detail[:2000]}
            self._event(db, proposal_id, f"escalation_{kind}", body, ("escalation_steps", str(cursor.fetchone()[0])))

    def record_flag(self, proposal_id: str, *, flagger: str, reason: str = "", then: Step | None = None) -> bool:
        """Flag an action that ran without review as wrong; False when it was flagged already. `then` runs in
        the same transaction (revoking the standing approval that allowed the action)."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM flags WHERE proposal_id = ?", [proposal_id]).fetchone():
                return False
            db.execute(
                "INSERT INTO flags (proposal_id, flagger, reason, flagged_at) VALUES (?, ?, ?, ?)",
                [proposal_id, flagger, reason[:2000], utcnow()],
            )
            self._event(db, proposal_id, "flagged", {"flagger": flagger, "reason": reason[:2000]})
            if then is not None:
                then(db)
            return True

    def record_confirmation(self, proposal_id: str, *, reviewer: str, source: str = "looks_right") -> bool:
        """Record that `reviewer` looked at an action that ran before review and found it right; False if
        it was confirmed or flagged already. `source` says which control said so."""
        with self._transaction() as db:
            for table in ("confirmations", "flags"):
                if db.execute(f"SELECT 1 FROM {table} WHERE proposal_id = ?", [proposal_id]).fetchone():  # noqa: S608
                    return False
            db.execute(
                "INSERT INTO confirmations (proposal_id, reviewer, source, confirmed_at) VALUES (?, ?, ?, ?)",
                [proposal_id, reviewer, source[:64], utcnow()],
            )
            self._event(db, proposal_id, "confirmed", {"reviewer": reviewer, "source": source[:64]})
            return True

    def record_review_message(self, proposal_id: str, *, channel: str, ts: str) -> None:
        """Remember where the review-after (flaggable) message of a proposal was posted."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO review_messages (proposal_id, channel, ts, posted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(proposal_id) DO NOTHING",
                [proposal_id, channel, ts, utcnow()],
            )
            self._event(db, proposal_id, "review_after_posted", {"channel": channel, "ts": ts})

    def record_policy_event(
        self, category: str, *, kind: str, levels: tuple[str, str, str], reason: str, actor: str | None = None
    ) -> int:
        """Record a promotion or demotion `levels` = (from, to, the policy file's level): applied when `actor`
        is given, else proposed (waiting for an owner). Returns the event's number."""
        now = utcnow()
        status = "applied" if actor else "proposed"
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO policy_events (category, kind, from_level, to_level, base_level, reason, status,"
                " proposed_at, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                [category, kind, *levels, reason, status, now, actor, now if actor else None],
            )
            seq = int(cursor.fetchone()[0])
            body = {"seq": seq, "kind": kind, "from": levels[0], "to": levels[1], "status": status, "actor": actor}
            self._event(db, f"policy:{category}", f"policy_{status}", body)
            return seq

    def decide_policy_event(self, seq: int, *, actor: str, apply: bool) -> bool:
        """Apply or decline a proposed policy event once; False when it was no longer proposed."""
        status = "applied" if apply else "declined"
        with self._transaction() as db:
            query = "SELECT category FROM policy_events WHERE seq = ? AND status = 'proposed'"
            row = db.execute(query, [seq]).fetchone()
            if row is None:
                return False
            db.execute(
                "UPDATE policy_events SET status = ?, decided_by = ?, decided_at = ? WHERE seq = ?",
                [status, actor, utcnow(), seq],
            )
            self._event(db, f"policy:{row[0]}", f"policy_{status}", {"seq": seq, "actor": actor})
            return True

    def record_policy_card(self, seq: int, *, channel: str, ts: str) -> None:
        """Remember where a proposed policy event's card was posted."""
        with self._transaction() as db:
            db.execute("UPDATE policy_events SET channel = ?, ts = ? WHERE seq = ?", [channel, ts, seq])

    # -- review chain: durable timers, holds and quorum approvals (see bot/review/timers.py) -------

    def schedule_timers(self, proposal_id: str, *, generation: int, due: dict[str, str], assignee: str) -> bool:
        """Store one generation of a review's timers (step -> ISO due time) once; older ones are cancelled.

        An `asked` step is stored as done: it marks the chain as started even when nothing is due.

        Returns False when this generation was already stored (a retried job, a reconcile pass).
        """
        with self._transaction() as db:
            if db.execute(
                "SELECT 1 FROM timers WHERE proposal_id = ? AND generation >= ?", [proposal_id, generation]
            ).fetchone():
                return False
            db.execute(
                "UPDATE timers SET state = 'cancelled' WHERE proposal_id = ? AND state IN ('scheduled', 'held')",
                [proposal_id],
            )
            for step, at in due.items():
                db.execute(
                    "INSERT INTO timers (proposal_id, generation, step, due_at, assignee, state)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [proposal_id, generation, step, at, assignee, "done" if step == "asked" else "scheduled"],
                )
            self._event(db, proposal_id, "chain_started", {"generation": generation, "due": due, "assignee": assignee})
            return True

    def claim_timer(self, proposal_id: str, *, generation: int, step: str, state: str = "done") -> bool:
        """Move a scheduled timer to `state` (done, held, cancelled) once; False if it was not scheduled."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE timers SET state = ?, fired_at = ? WHERE proposal_id = ? AND generation = ? AND step = ?"
                " AND state = 'scheduled'",
                [state, utcnow(), proposal_id, generation, step],
            )
            return bool(cursor.rowcount)

    def timers(self, proposal_id: str) -> list[TimerRow]:
        """The latest generation of a review's timers, by due time."""
        rows = self.db.execute(
            "SELECT generation, step, due_at, assignee, state FROM timers WHERE proposal_id = ?"
            " AND generation = (SELECT MAX(generation) FROM timers WHERE proposal_id = ?) ORDER BY due_at",
            [proposal_id, proposal_id],
        ).fetchall()
        return [TimerRow(int(row[0]), row[1], row[2], row[3], row[4]) for row in rows]

    def scheduled_timers(self, proposal_id: str | None = None) -> list[ScheduledTimer]:
        """Every timer still to fire on an undecided review (of `proposal_id`, or all), by due time."""
        rows = self.db.execute(
            "SELECT t.proposal_id, t.generation, t.step, t.due_at FROM timers t"
            " LEFT JOIN decisions d USING (proposal_id) WHERE t.state = 'scheduled' AND d.proposal_id IS NULL"
            " AND t.proposal_id NOT IN (SELECT proposal_id FROM quarantine)"
            " AND (CAST(:pid AS TEXT) IS NULL OR t.proposal_id = :pid) ORDER BY t.due_at",
            {"pid": proposal_id},
        ).fetchall()
        return [ScheduledTimer(r[0], int(r[1]), r[2], r[3]) for r in rows]

    def held_ids(self) -> list[str]:
        """Reviews that expired with the `hold` outcome: still pending, no longer pinging anyone."""
        rows = self.db.execute(
            "SELECT t.proposal_id FROM timers t LEFT JOIN decisions d USING (proposal_id)"
            " WHERE t.state = 'held' AND d.proposal_id IS NULL GROUP BY t.proposal_id ORDER BY MIN(t.fired_at)"
        ).fetchall()
        return [r[0] for r in rows]

    def _approve(self, db: Handle, proposal_id: str, *, reviewer: str, fingerprint: str) -> None:
        """One reviewer's approval of an action (by fingerprint) toward the category's quorum; once each."""
        cursor = db.execute(
            "INSERT INTO approvals (proposal_id, reviewer, fingerprint, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [proposal_id, reviewer, fingerprint, utcnow()],
        )
        if cursor.rowcount:
            body = {"reviewer": reviewer, "fingerprint": fingerprint}
            self._event(db, proposal_id, "approval", body, ("approvals", f"{proposal_id}:{fingerprint}:{reviewer}"))

    def approvals(self, proposal_id: str, fingerprint: str) -> list[str]:
        """Reviewers who approved this exact action so far, oldest first."""
        return self._approvers(self.db, proposal_id, fingerprint)

    def approvers(self, proposal_id: str) -> list[str]:
        """Reviewers who approved the most recently approved action of a proposal (what the card shows), sorted."""
        row = self.db.execute(
            "SELECT fingerprint FROM approvals WHERE proposal_id = ? ORDER BY at DESC, rowid DESC LIMIT 1",
            [proposal_id],
        ).fetchone()
        return sorted(self._approvers(self.db, proposal_id, row[0])) if row else []

    @staticmethod
    def _approvers(db: Handle, proposal_id: str, fingerprint: str) -> list[str]:
        rows = db.execute(
            "SELECT reviewer FROM approvals WHERE proposal_id = ? AND fingerprint = ? ORDER BY at, rowid",
            [proposal_id, fingerprint],
        ).fetchall()
        return [r[0] for r in rows]
