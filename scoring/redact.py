"""Redaction for exported datasets: secrets by key name and by value shape, plus configured fields.

Pure: `redact(value, fields)` returns a copy with every match replaced by `[REDACTED]`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

REDACTED = "[REDACTED]"
SECRET_KEY = re.compile(
    r"(^|[_-])pass(wd|phrase)?$|password|token|secret|api[_-]?key|auth(orization)?$|private[_-]?key|credential|cookie",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"xox[abposre]-[A-Za-z0-9-]{8,}"  # Slack bot, user, app-level and refresh tokens
    r"|xapp-[A-Za-z0-9-]{8,}"
    r"|sk-ant-[A-Za-z0-9_-]{8,}"  # Anthropic API keys
    r"|sk-[A-Za-z0-9]{32,}"
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*-----END [A-Z ]*PRIVATE KEY-----"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*"
)


def redact(value: Any, fields: Collection[str] = (), *, path: str = "") -> Any:
    """A copy of `value` with secrets and `fields` replaced.

    A field is a key name matched at any depth (`email`) or a dotted path from the top (`input.request`);
    keys named like passwords, tokens, secrets and API keys are always redacted, and so is any string
    that looks like a Slack or Anthropic token, an AWS key id, a private key or a bearer credential.
    """
    wanted = {f.casefold() for f in fields}
    return _redact(value, wanted, path)


def _redact(value: Any, fields: set[str], path: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            configured = str(key).casefold() in fields or sub.casefold() in fields
            secret = isinstance(item, str) and item != "" and SECRET_KEY.search(str(key)) is not None
            out[key] = REDACTED if (configured and item is not None) or secret else _redact(item, fields, sub)
        return out
    if isinstance(value, list):
        return [_redact(item, fields, f"{path}.{index}" if path else str(index)) for index, item in enumerate(value)]
    if isinstance(value, str):
        return SECRET_VALUE.sub(REDACTED, value)
    return value
