"""Polling at scale: one cycle over 1,000 feeds answering 304, and the delay from a new item to the outbox.

The store is a SQLite file in a temporary folder; with DATABASE_URL=postgresql://user@host:port/db set, each
run uses a scratch database created on that server for the run and dropped after it (the named database
itself is only used to connect).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import asyncpg
from aiohttp import web
from sqlalchemy.engine import make_url

SOURCES = 1000
TRANSCRIPT = (
    "Operator\nGood day and welcome to the Example Corp first quarter {year} earnings conference call.\n"
    "Jane Doe - Chief Financial Officer\nTotal revenues were $412.5 million this quarter, up 8% year over year, "
    "compared with $381.9 million in the same period of last year.\n"
)


def _feed(base: str, items: int) -> str:
    entries = "".join(
        f"<item><title>Example Corp results {n}</title><link>{base}/doc/{n}</link><guid>doc-{n}</guid>"
        f"<pubDate>{format_datetime(datetime.now(UTC))}</pubDate></item>"
        for n in range(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>IR news</title>'
        f"<link>{base}</link><description>feed</description>{entries}</channel></rss>"
    )


def _serve(port_queue: multiprocessing.Queue[int], items_flag: Synchronized[int]) -> None:
    """A local feed server in its own process: ETag 304s for the scale test, one switchable feed for latency."""

    async def feed(request: web.Request) -> web.Response:
        items = items_flag.value if request.match_info["n"] == "live" else 0
        etag = f'"v{items}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        base = f"http://127.0.0.1:{request.url.port}"
        return web.Response(text=_feed(base, items), content_type="application/rss+xml", headers={"ETag": etag})

    async def doc(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        return web.Response(text=TRANSCRIPT.format(year=1990 + int(n)), content_type="text/plain")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", feed)
        app.router.add_get("/doc/{n}", doc)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


@asynccontextmanager
async def _database(name: str) -> AsyncIterator[tuple[str, str]]:
    """(store URL, backend name) of a fresh database for one run; see the module docstring."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/{name}.db", "SQLite"
        return
    url = make_url(server)
    scratch = f"bench_{name}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await admin.execute(f'CREATE DATABASE "{scratch}"')
        try:
            store_url = url.set(drivername="postgresql+asyncpg", database=scratch)
            yield store_url.render_as_string(hide_password=False), "PostgreSQL"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        await admin.close()


async def _scale(port: int) -> None:
    from bot.config import BotConfig, Route
    from bot.scheduler import Scheduler
    from bot.sources.rss import RssSpec
    from bot.store import Store

    async with _database("scale") as (url, backend):
        store = await Store.open(url)
        specs = tuple(
            RssSpec(name=f"feed{i}", url=f"http://127.0.0.1:{port}/feed/{i}", interval_seconds=300, jitter_seconds=0)
            for i in range(SOURCES)
        )
        config = BotConfig(sources=specs, routes=(Route(platform="console", target="stdout"),))
        scheduler = Scheduler(store, config, owner="bench")
        t0 = time.perf_counter()
        first = await scheduler.run_once()
        t1 = time.perf_counter()
        scheduler = Scheduler(store, config, owner="bench")
        second = await scheduler.run_once()
        t2 = time.perf_counter()
        await store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    failed = [sum(1 for o in cycle if o.status != "ok") for cycle in (first, second)]
    print(f"sources ({backend}): first cycle over {len(first)} feeds (200 + ETag) {t1 - t0:.2f} s, "
          f"{failed[0]} not ok")
    print(f"sources ({backend}): poll cycle over {len(second)} feeds answering 304: {t2 - t1:.2f} s wall, "
          f"{failed[1]} not ok, peak RSS {rss_mb:.0f} MB; targets <= 5 s, <= 150 MB")


async def _latency(port: int, items_flag: Synchronized[int], interval: float) -> None:
    from bot.config import BotConfig, Route
    from bot.scheduler import Scheduler
    from bot.sources.rss import RssSpec
    from bot.store import Store

    delays: list[float] = []
    backends: set[str] = set()
    for attempt in range(3):
        async with _database("latency") as (url, backend):
            backends.add(backend)
            items_flag.value = attempt * 10
            store = await Store.open(url)
            spec = RssSpec(name="live", url=f"http://127.0.0.1:{port}/feed/live", interval_seconds=interval,
                           jitter_seconds=0)
            config = BotConfig(sources=(spec,), routes=(Route(platform="console", target="stdout"),))
            scheduler = Scheduler(store, config, owner="bench")
            scheduler.start()
            await asyncio.sleep(interval * 1.5)  # the first poll has seen the feed as it is
            baseline = len(await store.pending_deliveries(limit=1000))
            items_flag.value = attempt * 10 + 1
            t0 = time.perf_counter()
            while len(await store.pending_deliveries(limit=1000)) <= baseline:
                await asyncio.sleep(0.02)
                if time.perf_counter() - t0 > interval * 4 + 10:
                    break
            delays.append(time.perf_counter() - t0)
            await scheduler.stop()
            await store.close()
    print(f"sources ({', '.join(sorted(backends))}): new feed item to outbox, poll interval {interval:.0f} s: "
          f"median {statistics.median(delays):.2f} s, "
          f"max {max(delays):.2f} s over {len(delays)} runs; target <= interval + 1 s")


def _run_scale(port: int) -> None:
    asyncio.run(_scale(port))


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    items_flag: Synchronized[int] = ctx.Value("i", 0)
    server = ctx.Process(target=_serve, args=(ports, items_flag), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        scale = ctx.Process(target=_run_scale, args=(port,))  # its own process: its peak RSS is the bot's alone
        scale.start()
        scale.join()
        asyncio.run(_latency(port, items_flag, interval=2.0))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
