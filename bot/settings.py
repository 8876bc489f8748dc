"""Settings read once from the environment; the one place that knows the variable names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

SLACK_API_DEFAULT = "https://slack.com/api/"


@dataclass(frozen=True)
class Settings:
    """Everything a handoff process needs to wire itself; secrets are SecretStr so they never print."""

    slack_bot_token: SecretStr = field(default_factory=lambda: SecretStr(""))
    slack_signing_secret: SecretStr = field(default_factory=lambda: SecretStr(""))
    slack_app_token: SecretStr = field(default_factory=lambda: SecretStr(""))
    slack_api_url: str = SLACK_API_DEFAULT
    anthropic_api_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    anthropic_base_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".handoff")
    db_path: Path | None = None
    policy_path: Path = Path("policy.yaml")
    port: int = 3000
    post_rate: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the documented variables (see README, "Configuration")."""
        env = os.environ if environ is None else environ
        api_url = env.get("SLACK_API_URL") or SLACK_API_DEFAULT
        return cls(
            slack_bot_token=SecretStr(env.get("SLACK_BOT_TOKEN", "")),
            slack_signing_secret=SecretStr(env.get("SLACK_SIGNING_SECRET", "")),
            slack_app_token=SecretStr(env.get("SLACK_APP_TOKEN", "")),
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            anthropic_api_key=SecretStr(env.get("ANTHROPIC_API_KEY", "")),
            anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            data_dir=Path(env.get("HANDOFF_DATA_DIR") or ".handoff"),
            db_path=Path(env["HANDOFF_DB"]) if env.get("HANDOFF_DB") else None,
            policy_path=Path(env.get("HANDOFF_POLICY") or "policy.yaml"),
            port=_port(env.get("PORT", "3000")),
            post_rate=_rate(env.get("HANDOFF_SLACK_POST_RATE", "1")),
        )

    @property
    def ledger_path(self) -> Path:
        """The SQLite ledger file: HANDOFF_DB, or ledger.db under the data directory."""
        return self.db_path or self.data_dir / "ledger.db"


class SettingsError(ValueError):
    """An environment variable with a value handoff cannot use."""


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"PORT is {value!r}; expected a TCP port number from 1 to 65535")
    return int(value)


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 100:
        raise SettingsError(
            f"HANDOFF_SLACK_POST_RATE is {value!r}; expected messages per second per channel, 0 to 100 (0: no pacing)"
        )
    return rate
