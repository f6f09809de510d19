"""JSON log lines and their redaction: no token, signing secret, webhook URL or password is ever written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.errors import ConfigError
from bot.logs import REDACTED, JsonFormatter, Redactor, configure_logging, env_secrets

SECRET = "s3cr3t-Signing/Value+42"
WEBHOOK = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEf123_-xyz"
)


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"signing secret is {SECRET}", SECRET),
        ("token xoxb-1234-5678-AbCdEfGh in a message", "xoxb-1234-5678-AbCdEfGh"),
        ("user token xoxp-99-88-77-zz", "xoxp-99-88-77-zz"),
        ("app token xapp-1-A0B1C2-123-deadbeef", "xapp-1-A0B1C2-123-deadbeef"),
        (f"POST {WEBHOOK} failed", "sig=AbCdEf123_-xyz"),
        (f"POST {WEBHOOK} failed", "/workflows/0a1b2c/"),
        ("posting to https://hooks.slack.com/services/T000/B000/XXXXSECRET", "XXXXSECRET"),
        ("connector https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456", "abc@def"),
        ("db postgresql+asyncpg://bot:hunter2pass@db:5432/bot down", "hunter2pass"),
        ("url-encoded s3cr3t-Signing%2FValue%2B42 too", "s3cr3t-Signing%2FValue%2B42"),
    ],
)
def test_redactor_removes_secrets(text: str, leaked: str) -> None:
    out = Redactor([SECRET])(text)
    assert leaked not in out
    assert REDACTED in out


@pytest.mark.parametrize(
    "text",
    [
        "polled source inbox: 2 documents",
        "Total revenues were RMB1,775.7 million (https://ir.example.com/news/q1-2024.html)",
        "postgresql+asyncpg://bot@db:5432/bot",
    ],
)
def test_redactor_keeps_ordinary_text(text: str) -> None:
    assert Redactor([SECRET])(text) == text


def test_redactor_keeps_user_and_host_of_a_database_url() -> None:
    assert Redactor()("postgresql://bot:pw@db:5432/x") == f"postgresql://bot:{REDACTED}@db:5432/x"


def test_env_secrets_reads_only_named_variables() -> None:
    env = {"TEAMS_WEBHOOK_A": WEBHOOK, "TEAMS_WEBHOOK_EMPTY": "", "OTHER": "not-a-secret"}
    assert env_secrets(["TEAMS_WEBHOOK_A", "TEAMS_WEBHOOK_EMPTY", "MISSING"], env) == [WEBHOOK]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", [SECRET, WEBHOOK], stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_context_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.info("stored %s", "doc", extra={"source": "inbox", "document_id": 7, "event_id": 3, "delivery_id": 9})
    log.warning("second\nline")
    first, second = _lines(captured)
    assert first["message"] == "stored doc"
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    context = tuple(first[k] for k in ("source", "document_id", "event_id", "delivery_id"))
    assert context == ("inbox", 7, 3, 9)
    assert str(first["ts"]).endswith("+00:00")
    assert second["message"] == "second\nline" and "source" not in second


def test_secrets_are_redacted_in_message_args_extras_and_tracebacks(captured: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.error("posting to %s with %s", WEBHOOK, SECRET, extra={"source": f"hook {WEBHOOK}"})
    try:
        raise RuntimeError(f"bad token xoxb-1-2-secretvalue and {SECRET}")
    except RuntimeError:
        log.exception("delivery failed")
    text = captured.getvalue()
    for leaked in (SECRET, "sig=AbCdEf123", "xoxb-1-2-secretvalue", "/workflows/0a1b2c"):
        assert leaked not in text
    lines = _lines(captured)
    assert len(lines) == 2
    assert "RuntimeError" in str(lines[1]["exc"])


def test_library_loggers_are_redacted_too(captured: io.StringIO) -> None:
    logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 500"', WEBHOOK)
    logging.getLogger("uvicorn.error").error("token %s", SECRET)
    assert SECRET not in captured.getvalue()
    assert "sig=" not in captured.getvalue()
    assert len(_lines(captured)) == 2


def test_configuring_twice_does_not_double_lines(captured: io.StringIO) -> None:
    again = io.StringIO()
    configure_logging("INFO", [SECRET], stream=again)
    logging.getLogger("bot.test").info("once")
    assert captured.getvalue() == ""
    assert len(again.getvalue().splitlines()) == 1


def test_bad_level_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        configure_logging("LOUD", [], stream=io.StringIO())


def test_formatter_survives_a_bad_format_string() -> None:
    record = logging.makeLogRecord({"msg": "%d items", "args": ("x",), "levelname": "INFO", "name": "t"})
    stream = io.StringIO()
    handler = configure_logging("INFO", [], stream=stream)
    handler.handle(record)
    assert "%d items" in str(_lines(stream)[0]["message"])
    logging.getLogger().removeHandler(handler)
    assert isinstance(handler.formatter, JsonFormatter)
