"""`earnings-bot run` as a real process: the embedded default, a clean SIGTERM mid-delivery, secret-free logs.

Every test starts the service as a subprocess (`python -m bot.cli run --port 0`) in a temporary folder and
talks to it over 127.0.0.1; Slack and Teams are local fakes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakeslack import FakeSlack
from faketeams import FakeWorkflows, Scripted

from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "C0SERVICE1"
_BANNER_URL = re.compile(r"status page (http://\S+/)")
# Variables a developer's shell may hold that would change what the service runs.
_SCRUBBED = ("SLACK_", "TEAMS_", "BOT_CONFIG", "DATABASE_URL", "INBOX_DIR", "PORT", "HOST", "REPLICA_ID")


def transcript(company: str, revenue: str) -> str:
    """A small made-up earnings call transcript the extractor reads (company, period, two figures)."""
    return (
        f"{company} Second Quarter 2024 Earnings Call\n\n"
        "Operator\n"
        f"Good day, and welcome to the {company} second quarter 2024 earnings conference call.\n\n"
        "Jane Doe - Chief Financial Officer\n"
        f"Thank you, operator. Total revenues were ${revenue} million, an increase of 12.5% year-over-year.\n"
        "Gross margin was 41.2%, up 1.5 percentage points from the same quarter last year.\n"
    )


def drop(inbox: Path, name: str, text: str) -> None:
    """Write a file the way a person would drop it in: complete, then visible under its name."""
    inbox.mkdir(parents=True, exist_ok=True)
    partial = inbox / f".{name}.part"
    partial.write_text(text, encoding="utf-8")
    partial.rename(inbox / name)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class ServiceProcess:
    """`earnings-bot run` in `workdir`, its stdout and stderr (JSON log lines) captured in files there."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, config: str | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        self.env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"})
        self.env.update(env or {})
        if config is not None:
            (workdir / "bot.yaml").write_text(config, encoding="utf-8")
            self.env["BOT_CONFIG"] = str(workdir / "bot.yaml")
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.runs = 0

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"stdout.{self.runs}.txt"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"stderr.{self.runs}.jsonl"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        self.runs += 1
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--port", "0"],
                cwd=self.workdir, env=self.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            )
        match = wait_until(self._banner, timeout, "the start-up line with the status page URL")
        self.base_url = match.group(1).replace("localhost", "127.0.0.1").rstrip("/")
        wait_until(self._healthy, timeout, "/healthz")
        return self

    def _banner(self) -> re.Match[str] | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the service exited with {self.proc.returncode}: {self.stderr()[-2000:]}")
        return _BANNER_URL.search(self.stdout())

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url("/healthz"), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def url(self, path: str) -> str:
        return self.base_url + path

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def all_output(self) -> str:
        parts = []
        for run in range(1, self.runs + 1):
            for name in (f"stdout.{run}.txt", f"stderr.{run}.jsonl"):
                parts.append((self.workdir / name).read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    def log_lines(self) -> list[dict[str, Any]]:
        """Every stderr line of the current run, parsed; a line that is not a JSON object fails the test."""
        lines = []
        for line in self.stderr().splitlines():
            parsed = json.loads(line)
            assert isinstance(parsed, dict), line
            lines.append(parsed)
        return lines

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 40.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 40.0) -> int:
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def running(
    workdir: Path, env: dict[str, str] | None = None, config: str | None = None
) -> Iterator[ServiceProcess]:
    """A started service, killed on the way out if the test did not stop it."""
    service = ServiceProcess(workdir, env, config)
    try:
        yield service.start()
    finally:
        service.kill()


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def make(env: dict[str, str] | None = None, config: str | None = None) -> ServiceProcess:
        service = ServiceProcess(tmp_path / f"svc{len(started)}", env, config)
        started.append(service)
        return service

    yield make
    for service in started:
        service.kill()


# --------------------------------------------------------------------------- embedded default


def test_embedded_default_says_what_runs_and_prints_a_dropped_transcripts_digest(
    service_factory: Callable[..., ServiceProcess],
) -> None:
    service = service_factory().start()
    banner = service.stdout().splitlines()[0]
    assert "drop transcripts or press releases into inbox" in banner
    assert "this terminal" in banner and "embedded default" in banner and service.base_url in banner.replace(
        "localhost", "127.0.0.1")
    assert (service.workdir / "data" / "bot.db").is_file()
    started = time.monotonic()
    drop(service.workdir / "inbox", "acme.txt", transcript("Acme Widgets", "1,234.5"))
    wait_until(lambda: "1,234.5" in service.stdout(), 30, "the digest in the terminal")
    assert time.monotonic() - started < 15  # one inbox poll interval (5 s) plus settling, not minutes
    assert "Acme Widgets" in service.stdout()
    page = httpx.get(service.url("/"), timeout=5).text
    assert "Acme Widgets" in page and "sent" in page
    assert httpx.get(service.url("/readyz"), timeout=5).json()["ready"] is True
    metrics = httpx.get(service.url("/metrics"), timeout=5).text
    assert 'earnings_bot_documents_total{source="inbox"} 1.0' in metrics
    assert 'earnings_bot_deliveries_total{outcome="sent",platform="console"} 1.0' in metrics
    assert service.stop() == 0
    messages = [line["message"] for line in service.log_lines()]
    assert any("earnings-bot is running" in m for m in messages)
    assert messages[-1] == "stopped"


# --------------------------------------------------------------------------- SIGTERM during a delivery


def _slack_config(inbox: Path) -> str:
    return (
        "sources:\n"
        f"  - {{name: inbox, kind: inbox, path: '{inbox}', interval_seconds: 0.5, settle_seconds: 0.2}}\n"
        "routes:\n"
        f"  - {{platform: slack, target: {CHANNEL}}}\n"
    )


async def _deliveries(url: str) -> list[tuple[int, str, str | None]]:
    store = await Store.open(url)
    try:
        return [(d.id, d.state, d.company) for d in await store.deliveries(limit=100)]
    finally:
        await store.close()


def test_sigterm_mid_delivery_loses_nothing_and_posts_nothing_twice(
    service_factory: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    companies = {"Acme Widgets": "1,234.5", "Borealis Shipping": "842.1", "Cobalt Foods": "97.3"}
    db = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    inbox = tmp_path / "inbox"
    with FakeSlack() as slack:
        slack.delay["chat.postMessage"] = 0.4  # a slow Slack: each message takes a while
        env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": "test-signing-secret",
               "SLACK_API_URL": slack.api_url, "DATABASE_URL": db}
        service = service_factory(env, _slack_config(inbox)).start()
        for name, revenue in companies.items():
            drop(inbox, f"{name.split()[0].lower()}.txt", transcript(name, revenue))
        wait_until(lambda: len(asyncio.run(_deliveries(db))) == 3, 30, "three queued deliveries")
        wait_until(lambda: slack.calls("chat.postMessage"), 30, "the first Slack post to start")
        service.signal(signal.SIGTERM)
        assert service.wait() == 0
        after_stop = asyncio.run(_deliveries(db))
        states = sorted(state for _, state, _ in after_stop)
        assert "failed" not in states
        assert states.count("sent") >= 1, "the delivery in flight at SIGTERM finished"
        assert states.count("pending") >= 1, "no new delivery started after SIGTERM"
        parents_at_stop = len(slack.top_level(CHANNEL))
        assert parents_at_stop == states.count("sent")
        messages = [line["message"] for line in service.log_lines()]
        assert any(m.startswith("stopping") for m in messages) and messages[-1] == "stopped"

        service.start()  # the next start (or another replica) sends what was left
        wait_until(lambda: all(s == "sent" for _, s, _ in asyncio.run(_deliveries(db))), 60, "all sent")
        assert service.stop() == 0
        parents = slack.top_level(CHANNEL)
        assert len(parents) == 3
        texts = [json.dumps(p) for p in parents]
        for name in companies:
            assert sum(name in t for t in texts) == 1, f"{name} posted {sum(name in t for t in texts)} times"
        posted = [(r.body.get("thread_ts"), r.body.get("text")) for r in slack.calls("chat.postMessage")]
        assert len(posted) == len(set(posted)), "a message was posted twice"


# --------------------------------------------------------------------------- no secret in any log line


def _forged_teams_request() -> tuple[bytes, str]:
    """An activity signed with a random key: the endpoint must refuse (and log) it."""
    activity = {"type": "message", "id": "1", "timestamp": "2020-01-01T00:00:00Z", "text": "x"}
    body = json.dumps(activity).encode()
    return body, f"HMAC {base64.b64encode(secrets.token_bytes(32)).decode()}"


def test_no_secret_appears_in_any_log_line(
    service_factory: Callable[..., ServiceProcess], tmp_path: Path, pg_url: str
) -> None:
    bot_token = f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}"
    signing = secrets.token_hex(16)
    teams_secret = base64.b64encode(secrets.token_bytes(32)).decode()
    db_password = f"pw{secrets.token_hex(8)}"
    inbox = tmp_path / "inbox"
    with FakeSlack(bot_token=bot_token) as slack, FakeWorkflows() as teams:
        webhook = teams.url("markets")
        sig = webhook.rsplit("sig=", 1)[1]
        slack.fail("chat.postMessage", status=500, times=10)  # Slack is down: the post fails and is logged
        teams.script(Scripted(status=500, body=b"upstream trouble"))  # the first Teams post fails too
        env = {
            "SLACK_BOT_TOKEN": bot_token, "SLACK_SIGNING_SECRET": signing, "SLACK_API_URL": slack.api_url,
            "TEAMS_OUTGOING_WEBHOOK_SECRET": teams_secret, "TEAMS_WEBHOOK_MARKETS": webhook,
            "DATABASE_URL": pg_url.replace("@", f":{db_password}@", 1), "LOG_LEVEL": "DEBUG",
        }
        config = (
            "sources:\n"
            f"  - {{name: inbox, kind: inbox, path: '{inbox}', interval_seconds: 0.5, settle_seconds: 0.2}}\n"
            "routes:\n"
            f"  - {{platform: slack, target: {CHANNEL}}}\n"
            "  - {platform: teams, target: TEAMS_WEBHOOK_MARKETS}\n"
        )
        service = service_factory(env, config).start()
        drop(inbox, "acme.txt", transcript("Acme Widgets", "1,234.5"))
        wait_until(lambda: slack.calls("chat.postMessage"), 30, "a (failing) Slack post")
        wait_until(lambda: teams.requests, 30, "a Teams post")
        body, auth = _forged_teams_request()
        assert httpx.post(service.url("/teams/messages"), content=body, headers={"Authorization": auth},
                          timeout=5).status_code == 401
        unsigned = {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1"}
        forged = httpx.post(service.url("/slack/events"), content=f"token={bot_token}&command=/earnings",
                            headers=unsigned, timeout=5)
        assert forged.status_code == 401
        for path in ("/", "/metrics", "/readyz", "/healthz"):
            assert httpx.get(service.url(path), timeout=5).status_code == 200
        wait_until(lambda: "delivery" in service.stderr() and "failed" in service.stderr(), 30,
                   "the failed deliveries to be logged")
        assert service.stop() == 0
    lines = service.log_lines()  # every stderr line is a JSON object
    assert any(line.get("delivery_id") for line in lines)
    output = service.all_output()
    for secret in (bot_token, signing, teams_secret, webhook, sig, db_password, bot_token.split("-", 2)[2]):
        assert secret not in output, "a secret value reached the output"
