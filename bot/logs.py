"""Structured logging: one JSON object per line, with every secret redacted before it is written."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

from bot.errors import ConfigError

REDACTED = "[redacted]"

# Extra fields copied from `logger.info(..., extra={...})` into the JSON object when given.
EXTRA_FIELDS = ("source", "document_id", "event_id", "delivery_id", "platform", "ticker", "key", "status")

# Slack tokens: bot/user/app-level/refresh/config tokens.
_SLACK_TOKEN = re.compile(r"\bxox[baprs]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")
# Webhook URLs carry their credential in the URL itself: Teams Workflows (sig=...), Slack incoming hooks,
# Office 365 connectors. The whole URL goes.
_WEBHOOK_URL = re.compile(
    r"https?://[^\s\"'<>]*?(?:[?&]sig=|hooks\.slack\.com/|webhook\.office\.com/|/workflows/)[^\s\"'<>]*",
    re.IGNORECASE,
)
# A password in a URL's user-info (DATABASE_URL): keep the user and host, drop the password.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]*:)[^\s@/\"'<>]+(?=@)", re.IGNORECASE)

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}


class Redactor:
    """Replaces known secret values and anything shaped like a token or a signed webhook URL."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if secret:
                values.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted((v for v in values if v), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _WEBHOOK_URL.sub(REDACTED, text)
        text = _SLACK_TOKEN.sub(REDACTED, text)
        return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)

    def value(self, value: Any) -> Any:
        """`value` with every string inside it redacted (for extra fields)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        return self(str(value))


class RedactingFilter(logging.Filter):
    """Rewrites each record in place: message, exception text and extra fields lose every secret."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS:
                setattr(record, name, self.redactor.value(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the known extra fields, and exc when any."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


def env_secrets(env_names: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the named environment variables that are set (webhook URLs, API keys)."""
    env = os.environ if environ is None else environ
    return [env[name] for name in env_names if env.get(name)]


def configure_logging(
    level: str = "INFO", secrets: Iterable[str] = (), *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record of the process, as redacted JSON lines, to `stream` (stderr by default).

    Replaces the handlers on the root logger, so calling it again (tests, reloads) never doubles lines.
    Returns the installed handler.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(f"environment variable LOG_LEVEL: {level!r} is not DEBUG, INFO, WARNING or ERROR")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Libraries that install their own handlers would bypass redaction: send them through the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "slack_bolt", "slack_sdk", "apscheduler"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    return handler
