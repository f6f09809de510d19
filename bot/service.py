"""The one process of `earnings-bot run`: web endpoints, scheduler, dispatcher and Slack on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TextIO

import uvicorn
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.routing import BaseRoute, Route

from bot import telemetry
from bot.config import BotConfig, Settings, log_secrets, secret_env_names
from bot.config import Route as RouteSpec
from bot.delivery import Dispatcher, Sink
from bot.errors import ConfigError
from bot.logs import Redactor
from bot.models import Document, Report
from bot.platforms.console import ConsoleSink
from bot.platforms.manifest import EVENTS_PATH
from bot.platforms.slack import SlackApp, build_slack
from bot.platforms.teams import TeamsSink, teams_endpoint
from bot.scheduler import Scheduler, replica_id
from bot.sources import FetchedDocument, SourceState
from bot.sources.inbox import InboxSpec
from bot.store import IngestResult, Store
from bot.store.types import DeliveryItem
from bot.web import ReadinessCheck, build_app

log = logging.getLogger(__name__)

DRAIN_SECONDS = 25.0  # an in-flight delivery gets this long to finish after SIGTERM
HTTP_GRACE_SECONDS = 5.0  # in-flight HTTP requests (a Slack command) get this long
DISPATCH_INTERVAL = 1.0  # how often the outbox is checked: a stored document is announced within about this


# --------------------------------------------------------------------------- the store, metered


class ServiceStore(Store):
    """The Store as the service uses it: counts polls, documents, events and deliveries for /metrics, and
    once `drain()` is called claims no more outbox rows (a row being sent finishes, the rest stay pending)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)
        self._platforms: dict[int, str] = {}
        self.draining = False

    def drain(self) -> None:
        self.draining = True

    async def finish_poll(
        self, source: str, owner: str, *, state: SourceState | None, error: str | None, next_poll_at: datetime
    ) -> None:
        await super().finish_poll(source, owner, state=state, error=error, next_poll_at=next_poll_at)
        telemetry.record_poll(source, ok=error is None)

    async def ingest(
        self, fetched: FetchedDocument, document: Document, report: Report, routes: Sequence[RouteSpec],
        *, deliver: bool = True,
    ) -> IngestResult:
        result = await super().ingest(fetched, document, report, routes, deliver=deliver)
        if result.stored:
            telemetry.record_document(fetched.source, new_event=result.status == "new_event")
        return result

    async def pending_deliveries(self, platform: str | None = None, limit: int = 50) -> list[DeliveryItem]:
        if self.draining:
            return []
        items = await super().pending_deliveries(platform, limit)
        self._platforms.update((item.id, item.platform) for item in items)
        return items

    async def claim_delivery(self, delivery_id: int, owner: str, ttl: float) -> bool:
        if self.draining:
            return False
        return await super().claim_delivery(delivery_id, owner, ttl)

    async def mark_sent(self, delivery_id: int, external_id: str | None) -> None:
        await super().mark_sent(delivery_id, external_id)
        telemetry.record_delivery(self._platforms.pop(delivery_id, "unknown"), "sent")

    async def mark_failed(
        self, delivery_id: int, error: str, *, permanent: bool, retry_at: datetime | None
    ) -> None:
        await super().mark_failed(delivery_id, error, permanent=permanent, retry_at=retry_at)
        outcome = "failed" if permanent else "retry"
        telemetry.record_delivery(self._platforms.pop(delivery_id, "unknown"), outcome)


# --------------------------------------------------------------------------- what runs


def _secret_set(value: SecretStr | None) -> bool:
    """Set and not blank: an empty environment variable counts as unset."""
    return value is not None and bool(value.get_secret_value().strip())


@dataclass(frozen=True)
class Plan:
    """What `earnings-bot run` starts with these settings and this config (also shown by check-config)."""

    config_file: Path | None
    database: str
    sources: tuple[str, ...]
    inboxes: tuple[Path, ...]
    routes: tuple[str, ...]
    sinks: tuple[str, ...]
    slack: str  # "off", "http" or "socket"
    teams_commands: bool
    status_url: str
    secrets_set: tuple[str, ...]
    companies: tuple[str, ...]

    @property
    def embedded(self) -> bool:
        return self.config_file is None

    def banner(self) -> str:
        """One line for a person: what runs, where to drop files, where the status page is."""
        parts = [f"earnings-bot is running: {len(self.sources)} source(s) ({', '.join(self.sources)})"]
        if self.inboxes:
            parts.append("drop transcripts or press releases into " + ", ".join(str(p) for p in self.inboxes))
        targets = [s for s in self.sinks if s != "console"]
        if "console" in self.sinks:
            targets.insert(0, "this terminal")
        parts.append("digests go to " + (", ".join(targets) or "nowhere (no route)"))
        if self.slack != "off":
            parts.append(f"Slack commands over {'Socket Mode' if self.slack == 'socket' else 'HTTP'}")
        if self.teams_commands:
            parts.append("Teams @mentions at /teams/messages")
        parts.append(f"status page {self.status_url}")
        if self.embedded:
            parts.append("no config file, so the embedded default")
        return "; ".join(parts)


SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TEAMS_OUTGOING_WEBHOOK_SECRET")


def make_plan(
    settings: Settings, config: BotConfig, config_file: Path | None, environ: Mapping[str, str] | None = None
) -> Plan:
    """Check that the settings can run this config (ConfigError naming the field if not); describe it."""
    env = os.environ if environ is None else environ
    where = str(config_file) if config_file is not None else "embedded default config"
    slack_token = _secret_set(settings.slack_bot_token)
    for i, route in enumerate(config.routes):
        if route.platform == "slack" and not slack_token:
            raise ConfigError(f"{where}: routes.{i}: a Slack route needs SLACK_BOT_TOKEN in the environment")
        if route.platform == "teams" and not env.get(route.target, "").strip():
            raise ConfigError(
                f"{where}: routes.{i}.target: environment variable {route.target} (a webhook URL) is not set"
            )
    slack = "off"
    if slack_token:
        if _secret_set(settings.slack_app_token):
            slack = "socket"
        elif _secret_set(settings.slack_signing_secret):
            slack = "http"
        else:
            raise ConfigError(
                "environment: SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) "
                "nor SLACK_APP_TOKEN (Socket Mode) is"
            )
    platforms = {r.platform for r in config.routes}
    if slack != "off":
        platforms.add("slack")  # watchlist channels receive digests even with no Slack route
    sinks = tuple(p for p in ("console", "slack", "teams") if p in platforms)
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "localhost"
    secret_values = (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
                     settings.teams_outgoing_webhook_secret)
    return Plan(
        config_file=config_file,
        database=_safe_database_url(settings.database_url),
        sources=tuple(f"{s.name} ({s.kind})" for s in config.sources),
        inboxes=tuple(s.path for s in config.sources if isinstance(s, InboxSpec)),
        routes=tuple(f"{r.platform} {r.target} <- {', '.join(r.tickers)}" for r in config.routes),
        sinks=sinks,
        slack=slack,
        teams_commands=_secret_set(settings.teams_outgoing_webhook_secret),
        status_url=f"http://{host}:{settings.port}/",
        secrets_set=tuple(n for n, v in zip(SECRET_ENV, secret_values, strict=True) if _secret_set(v))
        + tuple(n for n in secret_env_names(config) if env.get(n, "").strip()),
        companies=tuple(f"{c.ticker} ({c.name})" for c in config.companies),
    )


def _safe_database_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise ConfigError("environment variable DATABASE_URL: not a database URL "
                          "(e.g. sqlite+aiosqlite:///./data/bot.db)") from None


def readiness_checks(store: Store, scheduler: Scheduler, slack: SlackApp | None) -> dict[str, ReadinessCheck]:
    """/readyz: the database answers, the scheduler runs and, in Socket Mode, the socket is connected."""

    async def database() -> bool:
        return await store.ping()

    async def scheduler_running() -> bool:
        return bool(scheduler.running)

    checks: dict[str, ReadinessCheck] = {"database": database, "scheduler": scheduler_running}
    if slack is not None and slack.socket_mode:

        async def slack_socket() -> bool:
            return slack.connected

        checks["slack_socket"] = slack_socket
    return checks


# --------------------------------------------------------------------------- the process


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns SIGTERM/SIGINT and stops everything."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts so a busy port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"environment HOST/PORT: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, config: BotConfig, plan: Plan, *, out: TextIO | None = None) -> int:
    """Run until SIGTERM/SIGINT, then stop cleanly: no new requests or claims, the delivery being sent
    finishes (or stays in the outbox), leases are released. Returns the exit status: 0, or 1 when a part
    of the service died on its own."""
    sock = listen(settings.host, settings.port)
    if settings.port == 0:  # the OS chose the port: say which
        plan = replace(plan, status_url=plan.status_url.replace(":0/", f":{sock.getsockname()[1]}/"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    owner = replica_id(settings)
    store = ServiceStore(await Store.open(settings.database_url))
    slack: SlackApp | None = None
    teams_sink: TeamsSink | None = None
    scheduler: Scheduler | None = None
    server: _Server | None = None
    tasks: list[asyncio.Task[None]] = []
    status = 0
    try:
        routes: list[BaseRoute] = []
        sinks: dict[str, Sink] = {}
        if "console" in plan.sinks:
            sinks["console"] = ConsoleSink(out)
        if plan.slack != "off":
            slack = build_slack(settings, store, config)
            sinks["slack"] = slack.sink
            routes.append(Route(EVENTS_PATH, slack.asgi, methods=["POST"]))
        if "teams" in plan.sinks:
            teams_sink = TeamsSink()
            sinks["teams"] = teams_sink
        if plan.teams_commands:
            routes.append(teams_endpoint(settings, store, config))
        scheduler = Scheduler(store, config, owner=owner, settings=settings)
        redactor = Redactor(log_secrets(settings, config))
        app = build_app(store, readiness_checks(store, scheduler, slack), routes=routes, redact=redactor)
        server = _Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                        timeout_graceful_shutdown=int(HTTP_GRACE_SECONDS)))
        scheduler.start()
        tasks.append(asyncio.create_task(server.serve(sockets=[sock]), name="http"))
        dispatcher = Dispatcher(store, sinks, owner)
        dispatching = dispatcher.run_forever(stop, interval=DISPATCH_INTERVAL)
        tasks.append(asyncio.create_task(dispatching, name="dispatcher"))
        if slack is not None and slack.socket_mode:
            tasks.append(asyncio.create_task(_keep_socket(slack, stop), name="slack-socket"))
        log.info(plan.banner())
        print(plan.banner(), file=out or sys.stdout, flush=True)
        if not await _until_stopped(stop, tasks[:2]):
            log.error("stopping: %s ended on its own", ", ".join(t.get_name() for t in tasks if t.done()))
            status = 1
        log.info("stopping: no new requests or deliveries; waiting for the ones in flight")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        stop.set()  # the dispatcher ends after the row it is sending
        store.drain()  # and claims no other
        if server is not None:
            server.should_exit = True  # stop accepting; requests in flight get HTTP_GRACE_SECONDS
        if scheduler is not None:
            await scheduler.stop()
        await _finish(tasks, DRAIN_SECONDS)
        if slack is not None:
            await _quietly(slack.stop(), "slack")
        if teams_sink is not None:
            await _quietly(teams_sink.aclose(), "teams")
        await store.close()
        sock.close()
    log.info("stopped")
    return status


async def _until_stopped(stop: asyncio.Event, essential: Sequence[asyncio.Task[None]]) -> bool:
    """Wait for a stop signal (True) or for an essential task to end on its own (False)."""
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({stopping, *essential}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return stopping in done


async def _keep_socket(slack: SlackApp, stop: asyncio.Event) -> None:
    """Connect Socket Mode, retrying with backoff until it works or the service stops (the client itself
    reconnects after a later drop). /readyz shows the socket's state meanwhile."""
    delay = 1.0
    while not stop.is_set():
        try:
            await slack.start_socket_mode()
            return
        except Exception as exc:
            reason = type(exc).__name__
            log.error("slack: Socket Mode connection failed (%s); retrying in %.0fs", reason, delay,
                      extra={"platform": "slack"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 60.0)


async def _finish(tasks: Sequence[asyncio.Task[None]], timeout: float) -> None:
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        log.warning("stopping: %s did not finish in %.0fs; cancelled", task.get_name(), timeout)
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("stopping: %s had failed: %r", task.get_name(), task.exception())


async def _quietly(closing: Awaitable[None], what: str) -> None:
    try:
        await closing
    except Exception as exc:
        log.warning("stopping: closing %s failed: %s", what, type(exc).__name__)


def run(settings: Settings, config: BotConfig, config_file: Path | None) -> int:
    """`earnings-bot run`: check the plan, then serve on one asyncio loop until a signal."""
    plan = make_plan(settings, config, config_file)
    return asyncio.run(serve(settings, config, plan))
