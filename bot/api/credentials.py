"""Agent credentials: tokens made of a public key id and a secret, of which the ledger keeps a hash.

A token reads `hnd_<key id>_<secret>`. The key id finds the agent; the secret's SHA-256 is compared
with the stored hash in constant time. Tokens carry 256 random bits, so a fast hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from bot.store.agents import AgentStore
from bot.store.clock import utcnow
from bot.store.rows import Agent

TOKEN_PREFIX = "hnd_"  # noqa: S105 - a prefix, not a secret
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
AGENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_TOKEN = re.compile(r"^hnd_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class AgentNameError(ValueError):
    """An agent name handoff cannot use."""


def token_hash(secret: str) -> str:
    """The hex SHA-256 of a token's secret part: what the ledger stores."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_agent(name: str, *, owner: str | None, webhook_url: str | None) -> tuple[Agent, str]:
    """A new agent record and its token (shown once); with a webhook URL, a signing secret too."""
    if not re.match(AGENT_NAME_PATTERN, name):
        raise AgentNameError(
            f"agent name {name!r}: use 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    if webhook_url is not None and not webhook_url.startswith(("https://", "http://")):
        raise AgentNameError(f"--webhook {webhook_url!r}: expected an http:// or https:// URL")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    webhook_secret = WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32) if webhook_url else None
    agent = Agent(name, owner, key_id, token_hash(secret), webhook_url, webhook_secret, utcnow(), None)
    return agent, f"{TOKEN_PREFIX}{key_id}_{secret}"


def authenticate(store: AgentStore, token: str) -> Agent | None:
    """The active agent `token` belongs to, or None; read from the ledger on every call, so a revocation
    takes effect on the next request."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    agent = store.by_key(match.group(1))
    if agent is None:
        return None
    return agent if hmac.compare_digest(token_hash(match.group(2)), agent.token_hash) else None
