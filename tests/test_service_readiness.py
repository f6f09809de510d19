"""/readyz follows the database and the Slack socket: 503 naming what is down, 200 once it is back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import _run_admin
from fakeslack import FakeSlack
from test_service import ServiceProcess, running, wait_until


def _readyz(service: ServiceProcess) -> tuple[int, dict[str, object]]:
    answer = httpx.get(service.url("/readyz"), timeout=10)
    return answer.status_code, answer.json()


def _block(database: str) -> None:
    _run_admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    _run_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")


def _unblock(database: str) -> None:
    _run_admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


@pytest.mark.postgres
def test_readiness_follows_the_database(pg_url: str, tmp_path: Path) -> None:
    database = pg_url.rsplit("/", 1)[1]
    config = f"sources:\n  - {{name: inbox, kind: inbox, path: '{tmp_path / 'inbox'}'}}\n"
    with running(tmp_path / "svc", {"DATABASE_URL": pg_url}, config) as service:
        assert _readyz(service) == (200, {"ready": True, "checks": {"database": True, "scheduler": True}})
        try:
            _block(database)
            wait_until(lambda: _readyz(service)[0] == 503, 30, "/readyz to turn 503")
            status, body = _readyz(service)
            assert status == 503 and body["not_ready"] == ["database"]
            assert body["checks"] == {"database": False, "scheduler": True}
            assert httpx.get(service.url("/healthz"), timeout=5).status_code == 200  # alive, just not ready
            assert httpx.get(service.url("/"), timeout=10).status_code == 503
        finally:
            _unblock(database)
        wait_until(lambda: _readyz(service)[0] == 200, 30, "/readyz to turn 200 again")
        assert httpx.get(service.url("/"), timeout=10).status_code == 200
        assert service.stop() == 0
        assert any("ping failed" in line["message"] for line in service.log_lines())


def test_readiness_in_socket_mode_follows_the_slack_socket(tmp_path: Path) -> None:
    config = f"sources:\n  - {{name: inbox, kind: inbox, path: '{tmp_path / 'inbox'}'}}\n"
    slack = FakeSlack()
    slack.start()
    try:
        env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token,
               "SLACK_API_URL": slack.api_url}
        with running(tmp_path / "svc", env, config) as service:
            assert "Slack commands over Socket Mode" in service.stdout()
            wait_until(lambda: _readyz(service)[0] == 200, 30, "/readyz 200 once the socket is up")
            assert _readyz(service)[1]["checks"] == {"database": True, "scheduler": True, "slack_socket": True}
            assert slack.socket_clients == 1
            slack.stop()  # Slack goes away: the socket drops and cannot reconnect
            wait_until(lambda: _readyz(service)[0] == 503, 30, "/readyz 503 without the socket")
            assert _readyz(service)[1]["not_ready"] == ["slack_socket"]
            assert service.stop() == 0
    finally:
        slack.stop()
