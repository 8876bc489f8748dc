"""The agents of the HTTP API and their webhook deliveries in the ledger: every SQL statement about them.

Only a hash of each agent's token is stored. The webhook signing secret is stored, since the worker
signs deliveries with it. Each write is logged in the ledger's hash-chained event log.
"""

from __future__ import annotations

from bot.store.clock import utcnow
from bot.store.ledger import Ledger
from bot.store.rows import Agent, WebhookDelivery

_AGENT_COLUMNS = "name, owner, key_id, token_hash, webhook_url, webhook_secret, created_at, revoked_at"


class AgentExistsError(ValueError):
    """An agent of that name is active already."""


class AgentStore:
    """Agents and webhook deliveries, over a ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def add(self, agent: Agent) -> None:
        """Store a new agent; a revoked agent's name may be taken again (with a new token)."""
        with self.ledger._transaction() as db:
            row = db.execute("SELECT revoked_at FROM agents WHERE name = ?", [agent.name]).fetchone()
            if row is not None and row[0] is None:
                raise AgentExistsError(f"agent {agent.name!r} exists; revoke it first or choose another name")
            db.execute("DELETE FROM agents WHERE name = ?", [agent.name])
            db.execute(f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(agent))  # noqa: S608
            body = {"owner": agent.owner, "webhook_url": agent.webhook_url}
            self.ledger._event(db, f"agent:{agent.name}", "agent_added", body)

    def revoke(self, name: str) -> bool:
        """Revoke an active agent's token at once; False when there is no active agent of that name."""
        with self.ledger._transaction() as db:
            cursor = db.execute(
                "UPDATE agents SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [utcnow(), name]
            )
            if not cursor.rowcount:
                return False
            self.ledger._event(db, f"agent:{name}", "agent_revoked", {})
            return True

    def all(self) -> list[Agent]:
        """Every agent, active and revoked, by name."""
        rows = self.ledger.db.execute(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY name").fetchall()  # noqa: S608
        return [Agent(*row) for row in rows]

    def by_key(self, key_id: str) -> Agent | None:
        """The active agent whose token carries `key_id`, or None."""
        row = self.ledger.db.execute(
            f"SELECT {_AGENT_COLUMNS} FROM agents WHERE key_id = ? AND revoked_at IS NULL",  # noqa: S608
            [key_id],
        ).fetchone()
        return Agent(*row) if row else None

    def by_name(self, name: str) -> Agent | None:
        """The active agent called `name`, or None."""
        row = self.ledger.db.execute(
            f"SELECT {_AGENT_COLUMNS} FROM agents WHERE name = ? AND revoked_at IS NULL",  # noqa: S608
            [name],
        ).fetchone()
        return Agent(*row) if row else None

    def record_delivery(self, delivery: WebhookDelivery) -> None:
        """Log one webhook delivery attempt and its outcome."""
        with self.ledger._transaction() as db:
            db.execute(
                "INSERT INTO webhook_deliveries (delivery_id, proposal_id, agent, attempt, status_code, outcome,"
                " detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [*delivery[:6], delivery.detail[:1000], delivery.at],
            )
            body = {"delivery_id": delivery.delivery_id, "attempt": delivery.attempt, "status": delivery.status_code}
            self.ledger._event(db, delivery.proposal_id, f"webhook_{delivery.outcome}", body)

    def deliveries(self, proposal_id: str) -> list[WebhookDelivery]:
        """Every delivery attempt for a proposal's decision, oldest first."""
        rows = self.ledger.db.execute(
            "SELECT delivery_id, proposal_id, agent, attempt, status_code, outcome, detail, at"
            " FROM webhook_deliveries WHERE proposal_id = ? ORDER BY seq",
            [proposal_id],
        ).fetchall()
        return [WebhookDelivery(*row) for row in rows]
