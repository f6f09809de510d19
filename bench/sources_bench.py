"""Polling at scale: one cycle over 1,000 feeds answering 304, and the delay from a new item to the outbox."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web

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


def _serve(port_queue: multiprocessing.Queue[int], items_flag: multiprocessing.Value) -> None:  # type: ignore[type-arg]
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


async def _scale(port: int) -> None:
    from bot.config import BotConfig, Route
    from bot.scheduler import Scheduler
    from bot.sources.rss import RssSpec
    from bot.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp}/bench.db")
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
        failed = sum(1 for o in second if getattr(o, "error", None))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"sources: first cycle over {len(first)} feeds (200 + ETag) {t1 - t0:.2f} s")
        print(f"sources: poll cycle over {len(second)} feeds answering 304: {t2 - t1:.2f} s wall, "
              f"{failed} failed, peak RSS {rss_mb:.0f} MB; targets <= 5 s, <= 150 MB")
        await store.close()


async def _latency(port: int, items_flag: multiprocessing.Value, interval: float) -> None:  # type: ignore[type-arg]
    from bot.config import BotConfig, Route
    from bot.scheduler import Scheduler
    from bot.sources.rss import RssSpec
    from bot.store import Store

    delays: list[float] = []
    for attempt in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            items_flag.value = attempt * 10
            store = await Store.open(f"sqlite+aiosqlite:///{tmp}/latency.db")
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
    print(f"sources: new feed item to outbox, poll interval {interval:.0f} s: "
          f"median {statistics.median(delays):.2f} s, "
          f"max {max(delays):.2f} s over {len(delays)} runs; target <= interval + 1 s")


def _run_scale(port: int) -> None:
    asyncio.run(_scale(port))


def _run_scale(port: int) -> None:
    asyncio.run(_scale(port))


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    items_flag = ctx.Value("i", 0)
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
