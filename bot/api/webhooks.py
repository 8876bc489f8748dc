"""Signed webhooks: each decision POSTed to its agent's URL, retried by RQ with backoff until a 2xx.

The signature is `v1=` followed by the hex HMAC-SHA256 of `v1:{timestamp}:{body}`, keyed by the agent's
webhook secret; the delivery id is the same on every attempt, so the receiver can deduplicate. Every
attempt and its outcome is written to the ledger before the next is scheduled.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from typing import Any

from bot.runtime import Runtime
from bot.store.agents import AgentStore
from bot.store.clock import utcnow
from bot.store.rows import WebhookDelivery

TIMEOUT = 10.0
USER_AGENT = "handoff-webhooks/1"


class WebhookDeliveryError(RuntimeError):
    """The receiver did not answer 2xx; RQ schedules the next attempt."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect would drop the body or send it elsewhere: count it as a failed attempt


_opener = urllib.request.build_opener(_NoRedirects)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Handoff-Signature` value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def delivery_id(proposal_id: str, agent: str) -> str:
    """The one id of a decision's delivery to an agent, the same on every attempt."""
    return "dlv_" + hashlib.sha256(f"{proposal_id}\n{agent}".encode()).hexdigest()[:32]


def deliver(runtime: Runtime, proposal_id: str, agent_name: str) -> str:
    """One attempt: POST the decision, record the outcome; raise WebhookDeliveryError on anything but 2xx."""
    store = AgentStore(runtime.ledger)
    agent = store.by_name(agent_name)
    decision = runtime.ledger.decision(proposal_id)
    if agent is None or not agent.webhook_url or not agent.webhook_secret or decision is None:
        return "skipped"
    body = decision.model_dump_json().encode()
    timestamp = str(int(time.time()))
    dlv = delivery_id(proposal_id, agent_name)
    attempt = 1 + sum(1 for d in store.deliveries(proposal_id) if d.delivery_id == dlv)
    request = urllib.request.Request(  # noqa: S310 - the operator configured this http(s) URL
        agent.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Handoff-Delivery": dlv,
            "X-Handoff-Timestamp": timestamp,
            "X-Handoff-Signature": signature(agent.webhook_secret, timestamp, body),
        },
    )
    status, detail = _post(request)
    delivered = status is not None and 200 <= status < 300
    outcome = "delivered" if delivered else "failed"
    store.record_delivery(WebhookDelivery(dlv, proposal_id, agent_name, attempt, status, outcome, detail, utcnow()))
    if not delivered:
        raise WebhookDeliveryError(f"webhook of {agent_name} for {proposal_id}, attempt {attempt}: {detail}")
    return outcome


def _post(request: urllib.request.Request) -> tuple[int | None, str]:
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            return int(response.status), f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"
