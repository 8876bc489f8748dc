"""Settings read once from the environment: one pydantic-settings model owns every variable handoff reads.

`Settings.from_env()` reads the environment (or a mapping given for it); building `Settings(...)` with
keyword arguments reads nothing, so a test or the demo gets exactly the values it passes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

SLACK_API_DEFAULT = "https://slack.com/api/"
DEFAULT_POLICY = Path("policy.yaml")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class SettingsError(ValueError):
    """An environment variable with a value handoff cannot use."""


class Settings(BaseSettings):
    """Everything a handoff process needs to wire itself; secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, env_ignore_empty=True, extra="ignore")

    slack_bot_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("slack_bot_token", "SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("slack_signing_secret", "SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("slack_app_token", "SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(SLACK_API_DEFAULT, validation_alias=AliasChoices("slack_api_url", "SLACK_API_URL"))
    anthropic_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("anthropic_api_key", "ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=AliasChoices("anthropic_base_url", "ANTHROPIC_BASE_URL")
    )
    redis_url: str | None = Field(None, validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    data_dir: Path = Field(Path(".handoff"), validation_alias=AliasChoices("data_dir", "HANDOFF_DATA_DIR"))
    db_path: Path | None = Field(None, validation_alias=AliasChoices("db_path", "HANDOFF_DB"))
    db_url: SecretStr | None = Field(None, validation_alias=AliasChoices("db_url"))  # HANDOFF_DB=postgresql://...
    policy_path: Path = Field(DEFAULT_POLICY, validation_alias=AliasChoices("policy_path", "HANDOFF_POLICY"))
    port: int = Field(3000, validation_alias=AliasChoices("port", "PORT"))
    post_rate: float = Field(1.0, validation_alias=AliasChoices("post_rate", "HANDOFF_SLACK_POST_RATE"))
    reconcile_every: float = Field(60.0, validation_alias=AliasChoices("reconcile_every", "HANDOFF_RECONCILE_EVERY"))
    log_level: str | None = Field(None, validation_alias=AliasChoices("log_level", "HANDOFF_LOG_LEVEL"))
    api_rate: float = Field(20.0, validation_alias=AliasChoices("api_rate", "HANDOFF_API_RATE"))
    # The agent side (the framework adapters in bot/adapters/): where the deployment is and how long to wait.
    handoff_url: str | None = Field(None, validation_alias=AliasChoices("handoff_url", "HANDOFF_URL"))
    handoff_token: SecretStr = Field(SecretStr(""), validation_alias=AliasChoices("handoff_token", "HANDOFF_TOKEN"))
    wait: float = Field(120.0, validation_alias=AliasChoices("wait", "HANDOFF_WAIT"))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: `from_env` is the one reader of the environment."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the documented variables (see README, "Configuration"); a bad value raises SettingsError."""
        source = EnvSettingsSource(cls, case_sensitive=True, env_ignore_empty=True)
        source.env_vars = {k: v for k, v in (os.environ if environ is None else environ).items() if v}
        try:
            return cls(**source())
        except ValidationError as exc:
            error = exc.errors()[0]
            cause = (error.get("ctx") or {}).get("error")
            raise SettingsError(str(cause) if cause else f"{error['loc'][0]}: {error['msg']}") from None

    @model_validator(mode="before")
    @classmethod
    def _postgres_url(cls, values: Any) -> Any:
        """HANDOFF_DB names a SQLite file, or with `postgresql://` a PostgreSQL database (kept secret: it may
        carry a password)."""
        if not isinstance(values, dict):
            return values
        for key in ("db_path", "HANDOFF_DB"):
            value = values.get(key)
            if isinstance(value, str) and value.startswith(POSTGRES_SCHEMES):
                values = {k: v for k, v in values.items() if k != key}
                values["db_url"] = SecretStr(value)
        return values

    @field_validator("slack_api_url")
    @classmethod
    def _with_trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"  # slack_sdk drops the method name without it

    @field_validator("port", mode="before")
    @classmethod
    def _tcp_port(cls, value: Any) -> Any:
        text = str(value)
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError(f"PORT is {text!r}; expected a TCP port number from 1 to 65535")
        return int(text)

    @field_validator("post_rate", mode="before")
    @classmethod
    def _messages_per_second(cls, value: Any) -> Any:
        try:
            rate = float(value)
        except (TypeError, ValueError):
            rate = -1.0
        if not 0 <= rate <= 100:
            raise ValueError(
                f"HANDOFF_SLACK_POST_RATE is {value!r}; expected messages per second per channel,"
                " 0 to 100 (0: no pacing)"
            )
        return rate

    @field_validator("api_rate", mode="before")
    @classmethod
    def _requests_per_second(cls, value: Any) -> Any:
        try:
            rate = float(value)
        except (TypeError, ValueError):
            rate = -1.0
        if not 0 <= rate <= 1_000_000:
            raise ValueError(
                f"HANDOFF_API_RATE is {value!r}; expected requests per second per agent, 0 to 1000000 (0: no limit)"
            )
        return rate

    @field_validator("reconcile_every", mode="before")
    @classmethod
    def _seconds_between_passes(cls, value: Any) -> Any:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not 1 <= seconds <= 3600:
            raise ValueError(
                f"HANDOFF_RECONCILE_EVERY is {value!r}; expected seconds between reconcile passes, 1 to 3600"
            )
        return seconds

    @field_validator("handoff_url")
    @classmethod
    def _deployment_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "redis://", "rediss://", "unix://")):
            raise ValueError(
                f"HANDOFF_URL is {value[:80]!r}; expected the deployment's http(s):// address (or a redis:// URL)"
            )
        return value

    @field_validator("wait", mode="before")
    @classmethod
    def _seconds_to_wait(cls, value: Any) -> Any:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not 0 <= seconds <= 86_400:
            raise ValueError(f"HANDOFF_WAIT is {value!r}; expected seconds to wait for a decision, 0 to 86400")
        return seconds

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in logging.getLevelNamesMapping():
            raise ValueError(f"HANDOFF_LOG_LEVEL is {value.upper()!r}; use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def ledger_path(self) -> Path:
        """The SQLite ledger file: HANDOFF_DB, or ledger.db under the data directory."""
        return self.db_path or self.data_dir / "ledger.db"

    @property
    def ledger_target(self) -> Path | str:
        """Where the ledger is: the PostgreSQL URL HANDOFF_DB gives, or the SQLite file (`ledger_path`)."""
        return self.db_url.get_secret_value() if self.db_url else self.ledger_path

    @property
    def ledger_on_postgres(self) -> bool:
        """Whether HANDOFF_DB puts the ledger on PostgreSQL."""
        return self.db_url is not None

    @property
    def policy_is_explicit(self) -> bool:
        """Whether HANDOFF_POLICY names a policy (which must then exist) rather than the default ./policy.yaml."""
        return self.policy_path != DEFAULT_POLICY
