"""The documented example config validates, and `earnings-bot check-config` says what runs or what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, load_config, log_secrets
from bot.errors import ConfigError
from bot.service import make_plan
from bot.sources import SOURCE_KINDS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "bot.example.yaml"
WEBHOOK = "https://prod-1.example.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SIGVALUE123"
ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TEAMS_OUTGOING_WEBHOOK_SECRET",
       "TEAMS_WEBHOOK_MARKETS", "BOT_CONFIG", "DATABASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./config/bot.yaml here: the embedded default unless --config


def test_example_covers_every_source_kind_platform_and_section() -> None:
    config = load_config(EXAMPLE)
    assert {s.kind for s in config.sources} == set(SOURCE_KINDS)
    assert {r.platform for r in config.routes} == {"slack", "teams", "console"}
    assert config.companies and config.metrics
    assert len({s.name for s in config.sources}) == len(config.sources)


def test_example_holds_no_secret_values() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for marker in ("xoxb-", "xapp-", "sig=", "hooks.slack.com", "webhook.office.com"):
        assert marker not in text


def test_check_config_prints_what_runs_and_only_secret_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-111-222-SECRETTOKEN")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-value")
    monkeypatch.setenv("TEAMS_WEBHOOK_MARKETS", WEBHOOK)
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    for name in ("inbox (inbox)", "edgar (edgar)", "(rss)", "(webpage)", "(transcripts)", "AAPL (Apple Inc.)",
                 "ai_revenue", "slack C0123456789", "teams TEAMS_WEBHOOK_MARKETS", "Slack commands over HTTP",
                 "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TEAMS_WEBHOOK_MARKETS", "config OK"):
        assert name in out, name
    for secret in ("SECRETTOKEN", "signing-secret-value", "SIGVALUE123"):
        assert secret not in out


@pytest.mark.parametrize(
    ("yaml_text", "env", "message"),
    [
        ("routes:\n  - platform: teams\n    target: TEAMS_WEBHOOK_MARKETS\n", {},
         "routes.0.target: environment variable TEAMS_WEBHOOK_MARKETS"),
        ("routes:\n  - platform: slack\n    target: C1\n", {}, "routes.0: a Slack route needs SLACK_BOT_TOKEN"),
        ("routes:\n  - platform: console\n    target: stdout\n", {"SLACK_BOT_TOKEN": "xoxb-1"},
         "neither SLACK_SIGNING_SECRET"),
        ("sources:\n  - name: inbox\n    kind: inbox\n    interval_seconds: -1\n", {},
         "sources.0.inbox.interval_seconds"),
        ("sources:\n  - name: Bad Name\n    kind: inbox\n", {}, "sources.0.inbox.name"),
        ("routes:\n  - platform: fax\n    target: x\n", {}, "routes.0.platform"),
        ("companies: [\n", {}, "not valid YAML"),
        ("surprise: 1\n", {}, "surprise"),
        ("routes: []\n", {"DATABASE_URL": "not a url"}, "environment variable DATABASE_URL: not a database URL"),
    ],
)
def test_check_config_names_the_field_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    yaml_text: str, env: dict[str, str], message: str,
) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert str(path) in err or "environment" in err
    assert len(err.strip().splitlines()) == 1


def test_check_config_reads_bot_config_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("sources:\n  - name: drops\n    kind: inbox\n    path: ./drops\n", encoding="utf-8")
    monkeypatch.setenv("BOT_CONFIG", str(path))
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert f"config: {path}" in out and "drops (inbox)" in out and "drops" in out


def test_check_config_without_a_file_describes_the_embedded_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "embedded default" in out and "inbox (inbox)" in out and "console stdout" in out
    assert "secrets set (names only): none" in out


@pytest.mark.parametrize(
    ("env", "slack", "sinks"),
    [
        ({}, "off", ("console",)),
        ({"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}, "http", ("console", "slack")),
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}, "socket", ("console", "slack")),
        ({"slack_bot_token": "", "slack_app_token": ""}, "off", ("console",)),  # empty variables are unset
    ],
)
def test_plan_modes(env: dict[str, str], slack: str, sinks: tuple[str, ...]) -> None:
    settings = Settings.model_validate(env)
    plan = make_plan(settings, load_config(None), None)
    assert (plan.slack, plan.sinks) == (slack, sinks)


def test_embedded_banner_says_what_runs_where_to_drop_files_and_the_status_page() -> None:
    settings = Settings.model_validate({"port": 8099})
    banner = make_plan(settings, load_config(None, inbox=Path("./inbox")), None).banner()
    assert "\n" not in banner
    assert "drop transcripts or press releases into inbox" in banner
    assert "this terminal" in banner and "http://localhost:8099/" in banner and "embedded default" in banner


def test_plan_refuses_slack_without_a_way_to_receive_commands() -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        make_plan(Settings.model_validate({"slack_bot_token": "xoxb-1"}), load_config(None), None)


def test_log_secrets_include_every_credential_the_config_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMS_WEBHOOK_MARKETS", WEBHOOK)
    monkeypatch.setenv("TRANSCRIPTS_API_KEY", "api-key-value-123")
    settings = Settings.model_validate({"slack_bot_token": "xoxb-9", "slack_signing_secret": "sign-9"})
    secrets = log_secrets(settings, load_config(EXAMPLE))
    assert set(secrets) == {"xoxb-9", "sign-9", WEBHOOK, "api-key-value-123"}
