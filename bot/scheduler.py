"""The scheduler: one APScheduler job per source, leases so one replica polls a source at a time, clean stop."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import BotConfig, Settings
from bot.errors import BotError, InputError
from bot.pipeline import PollOutcome, poll_source
from bot.sources import build_source
from bot.sources.base import Source
from bot.sources.http import DEFAULT_USER_AGENT
from bot.store import Store

log = logging.getLogger(__name__)

STOP_GRACE = 30.0  # seconds a running poll gets to finish on stop before it is cancelled
POLL_CONCURRENCY = 100  # polls in flight at once (sockets, store connections); the rest wait their turn


def replica_id(settings: Settings | None) -> str:
    """This process's name among replicas: REPLICA_ID when set, else hostname-pid."""
    if settings is not None and settings.replica_id:
        return settings.replica_id
    return f"{socket.gethostname()}-{os.getpid()}"


def http_client() -> httpx.AsyncClient:
    """The client every source shares; per-request timeouts and redirects are the sources' own."""
    return httpx.AsyncClient(headers={"User-Agent": DEFAULT_USER_AGENT}, follow_redirects=False, timeout=60.0)


class Scheduler:
    """Polls every configured source on its interval. Call `start()` inside the running loop, `await stop()`."""

    def __init__(
        self,
        store: Store,
        config: BotConfig,
        *,
        owner: str | None = None,
        settings: Settings | None = None,
        sources: Sequence[Source] | None = None,
        client: httpx.AsyncClient | None = None,
        lease_seconds: float | None = None,
        concurrency: int = POLL_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.store = store
        self.config = config
        self.owner = owner or replica_id(settings)
        built = list(sources) if sources is not None else [build_source(spec) for spec in config.sources]
        self.sources: dict[str, Source] = {s.spec.name: s for s in built}
        self._client = client
        self._own_client = client is None
        self._lease_seconds = lease_seconds
        self._aps: AsyncIOScheduler | None = None
        self._inflight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running and not self._stopping

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client()
        return self._client

    def start(self) -> None:
        """Add one job per source (first run within its jitter) and start; needs a running event loop."""
        if self._aps is not None:
            raise RuntimeError("scheduler already started")
        self._aps = AsyncIOScheduler(timezone="UTC")
        now = datetime.now().astimezone()
        for name, source in self.sources.items():
            spec = source.spec
            self._aps.add_job(
                self._tick,
                IntervalTrigger(seconds=spec.interval_seconds, jitter=spec.jitter_seconds or None),
                args=(name,),
                id=name,
                name=f"poll {name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, math.ceil(spec.interval_seconds / 2)),
                next_run_time=now + timedelta(seconds=random.uniform(0, min(spec.jitter_seconds, 5.0))),
            )
        self._aps.start()
        log.info("scheduler: %d sources, replica %s", len(self.sources), self.owner)

    async def _tick(self, name: str) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._poll(name, force=False)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _poll(self, name: str, *, force: bool) -> PollOutcome:
        async with self._slots:  # waiting here holds no lease: its clock starts with the poll
            if self._stopping and not force:  # stop() came while this tick waited for a slot
                return PollOutcome(source=name, status="skipped", reason="stopping")
            return await self._poll_now(name, force=force)

    async def _poll_now(self, name: str, *, force: bool) -> PollOutcome:
        try:
            return await poll_source(
                self.store,
                self.sources[name],
                self._http(),
                config=self.config,
                owner=self.owner,
                force=force,
                lease_seconds=self._lease_seconds,
            )
        except BotError as exc:  # the store is down: logged, retried on the next tick
            log.error("source %s: poll aborted: %s", name, exc, extra={"source": name})
            return PollOutcome(source=name, status="failed", reason=str(exc))
        except Exception as exc:
            log.exception("source %s: poll aborted", name, extra={"source": name})
            return PollOutcome(source=name, status="failed", reason=f"internal error ({type(exc).__name__})")

    async def run_once(self, source_name: str | None = None) -> list[PollOutcome]:
        """Poll every source (or one) now, whether due or not, at most `concurrency` at a time; for
        `poll --once`."""
        if source_name is not None and source_name not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none"
            raise InputError(f"no source named {source_name!r} (configured: {known})")
        names = [source_name] if source_name is not None else list(self.sources)
        try:
            return list(await asyncio.gather(*(self._poll(name, force=True) for name in names)))
        finally:
            if self._own_client and self._aps is None:
                await self._close_client()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop starting polls, let running ones finish (cancelled after `grace` s), release leases."""
        self._stopping = True
        if self._aps is not None and self._aps.running:
            self._aps.pause()
        running = {t for t in self._inflight if not t.done()}
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                log.warning("scheduler: cancelling a poll still running after %.0fs", grace)
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        try:
            await self.store.release_leases(list(self.sources), self.owner)
        except BotError as exc:  # the leases expire on their own
            log.warning("scheduler: could not release the leases of replica %s: %s", self.owner, exc)
        if self._own_client:
            await self._close_client()
        log.info("scheduler: stopped (replica %s)", self.owner)

    async def _close_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
