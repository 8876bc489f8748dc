"""`handoff agents add|list|revoke`: the agents allowed to use the HTTP API, and their tokens.

A token is printed once, when the agent is added; the ledger keeps only its hash.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from bot.cli.exit_status import UsageError

if TYPE_CHECKING:
    from bot.store.ledger import Ledger


def add_arguments(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `agents` and its actions on the `handoff` command."""
    agents = subparsers.add_parser("agents", help="agents of the HTTP API: add, list, revoke")
    actions = agents.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an agent and print its token (once)")
    add.add_argument("name", help="the agent's name; its proposals carry it as `agent`")
    add.add_argument("--owner", help="who answers for this agent (a Slack user id or a name)")
    add.add_argument("--webhook", metavar="URL", help="POST each decision here, signed (prints a signing secret)")
    add.add_argument("--json", action="store_true", help="print {name, token, webhook_secret} as JSON")
    add.set_defaults(func=run_add)
    listing = actions.add_parser("list", help="every agent, active and revoked (never tokens)")
    listing.add_argument("--json", action="store_true", help="print one JSON array instead of text")
    listing.set_defaults(func=run_list)
    revoke = actions.add_parser("revoke", help="revoke an agent's token; effective on its next request")
    revoke.add_argument("name", help="the agent whose token stops working")
    revoke.set_defaults(func=run_revoke)


def _ledger() -> Ledger:
    """The configured ledger (settings are read when an action runs, so `handoff --version` stays light)."""
    from bot.settings import Settings
    from bot.store.ledger import Ledger

    return Ledger(Settings.from_env().ledger_target)


def run_add(args: argparse.Namespace) -> int:
    from bot.api.credentials import AgentNameError, new_agent
    from bot.store.agents import AgentExistsError, AgentStore

    try:
        agent, token = new_agent(args.name, owner=args.owner, webhook_url=args.webhook)
        AgentStore(_ledger()).add(agent)
    except (AgentNameError, AgentExistsError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps({"name": agent.name, "token": token, "webhook_secret": agent.webhook_secret}))
        return 0
    print(f"agent {agent.name} added. Its token (shown once; handoff keeps only a hash):\n{token}")
    if agent.webhook_secret:
        print(f"Webhook signing secret for {agent.webhook_url} (verify X-Handoff-Signature with it):")
        print(agent.webhook_secret)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from bot.store.agents import AgentStore

    agents = AgentStore(_ledger()).all()
    rows = [
        {
            "name": a.name,
            "owner": a.owner,
            "webhook_url": a.webhook_url,
            "created_at": a.created_at,
            "revoked_at": a.revoked_at,
        }
        for a in agents
    ]
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        print(f"{row['name']}\t{state}\towner={row['owner'] or '-'}\twebhook={row['webhook_url'] or '-'}")
    if not rows:
        print("no agents yet; add one with: handoff agents add NAME")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from bot.store.agents import AgentStore

    if not AgentStore(_ledger()).revoke(args.name):
        raise UsageError(f"no active agent {args.name!r}; see handoff agents list")
    print(f"agent {args.name} revoked; its token is refused from the next request on")
    return 0
