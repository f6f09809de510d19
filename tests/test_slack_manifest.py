"""The Slack app manifest: the checked-in Socket Mode one, and `slack-manifest --url` for HTTP mode."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import InputError
from bot.platforms.manifest import add_commands, build_manifest, render_manifest, request_url

CHECKED_IN = Path(__file__).resolve().parents[1] / "config" / "slack-app-manifest.yaml"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="earnings-bot")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_checked_in_manifest_is_the_generated_socket_mode_one() -> None:
    assert yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8")) == build_manifest()
    assert CHECKED_IN.read_text(encoding="utf-8") == render_manifest()


def test_socket_mode_manifest() -> None:
    manifest = build_manifest()
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/earnings" and "url" not in command
    assert "KC revenue history" in command["usage_hint"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"chat:write", "chat:write.public", "commands",
                                                              "files:write"}


@pytest.mark.parametrize(("url", "expected"), [
    ("https://bot.example.com", "https://bot.example.com/slack/events"),
    ("https://bot.example.com/", "https://bot.example.com/slack/events"),
    ("https://bot.example.com:8443/earnings", "https://bot.example.com:8443/earnings/slack/events"),
    ("https://bot.example.com/slack/events", "https://bot.example.com/slack/events"),
    ("  https://bot.example.com/slack/events/  ", "https://bot.example.com/slack/events"),
])
def test_http_mode_manifest_points_slack_at_the_deployment(url: str, expected: str) -> None:
    manifest = build_manifest(url)
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["settings"]["interactivity"] == {"is_enabled": True, "request_url": expected}
    assert manifest["features"]["slash_commands"][0]["url"] == expected
    assert request_url(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("http://bot.example.com", "--url must be the https:// address"),
    ("bot.example.com", "--url must be the https:// address"),
    ("https://", "--url must be the https:// address"),
    ("https://bot.example.com/?x=1", r"without \?query or #fragment"),
])
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_manifest(url)


def test_command_prints_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["slack-manifest", "--url", "https://bot.example.com"]) == 0
    printed: dict[str, Any] = yaml.safe_load(capsys.readouterr().out)
    assert printed == build_manifest("https://bot.example.com")
    assert run(["slack-manifest"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["settings"]["socket_mode_enabled"] is True
