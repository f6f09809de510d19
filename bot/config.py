"""Configuration: secrets and deployment settings from the environment, the rest from config/*.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.models import CompanyConfig, MetricAlias
from bot.sources import AnySourceSpec, default_specs

Platform = Literal["slack", "teams", "console"]


class Settings(BaseSettings):
    """Deployment settings and secrets, read from the environment only."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", env_ignore_empty=True)

    database_url: str = "sqlite+aiosqlite:///./data/bot.db"
    config_file: Path | None = Field(default=None, alias="BOT_CONFIG")
    port: int = 8080
    host: str = "0.0.0.0"
    log_level: str = "INFO"
    inbox_dir: Path = Path("./inbox")
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    teams_outgoing_webhook_secret: SecretStr | None = None
    sec_user_agent: str | None = None
    replica_id: str | None = None

    def secrets(self) -> list[str]:
        """Every secret value set in the environment, for log redaction and tests."""
        values = [
            s.get_secret_value()
            for s in (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.teams_outgoing_webhook_secret,
            )
            if s is not None
        ]
        return [v for v in values if v]


class Route(BaseModel):
    """Where digests go: a Slack channel, a Teams Workflows webhook (named by its env variable), or the console."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    target: str = Field(description="Slack channel id, Teams webhook env variable name, or 'stdout'")
    tickers: tuple[str, ...] = Field(default=("*",), description="tickers routed here; '*' for all")

    def wants(self, ticker: str | None) -> bool:
        return "*" in self.tickers or (ticker is not None and ticker.upper() in self.tickers)


class BotConfig(BaseModel):
    """The validated content of config/bot.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    companies: tuple[CompanyConfig, ...] = ()
    sources: tuple[AnySourceSpec, ...] = ()
    routes: tuple[Route, ...] = ()
    metrics: tuple[MetricAlias, ...] = ()


def load_config(path: Path | None, *, inbox: Path = Path("./inbox")) -> BotConfig:
    """Read and validate a config file; with no file, the embedded default (inbox source, console sink)."""
    if path is None:
        return BotConfig(
            sources=tuple(default_specs(inbox)),
            routes=(Route(platform="console", target="stdout"),),
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        config = BotConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {field}: {err['msg']}") from None
    if not config.sources:
        config = config.model_copy(update={"sources": tuple(default_specs(inbox))})
    if not config.routes:
        config = config.model_copy(update={"routes": (Route(platform="console", target="stdout"),)})
    return config


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]).upper()
        raise ConfigError(f"environment variable {field}: {err['msg']}") from None


def config_path(settings: Settings) -> Path | None:
    """The config file in use: BOT_CONFIG, else ./config/bot.yaml when present, else none (embedded default)."""
    if settings.config_file is not None:
        return settings.config_file
    default = Path(os.getcwd()) / "config" / "bot.yaml"
    return default if default.is_file() else None


def secret_env_names(config: BotConfig) -> list[str]:
    """Environment variables the config names that hold credentials: Teams webhooks, transcript API keys."""
    names = [r.target for r in config.routes if r.platform == "teams"]
    names += [key for s in config.sources if (key := getattr(s, "api_key_env", None))]
    return list(dict.fromkeys(names))


def log_secrets(settings: Settings, config: BotConfig) -> list[str]:
    """Every value the logs must never show: Settings' secrets and what the config's variables hold."""
    return [*settings.secrets(), *(os.environ[n] for n in secret_env_names(config) if os.environ.get(n))]
