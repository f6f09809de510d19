"""The scheduler: independent polls, clean stop, `poll --once` and the CLI views, and replicas sharing one
database through leases. Run as a script, this file is one replica process (see `_replica`)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import release_text, rss_feed
from httpserver import LocalServer, Recorded, Reply

from bot import cli_sources
from bot.cli import main as cli_main
from bot.config import BotConfig, Route
from bot.errors import InputError
from bot.scheduler import Scheduler
from bot.sources.base import FetchedDocument, PollResult, SourceSpec, SourceState
from bot.sources.rss import RssSource, RssSpec
from bot.store import Store

HERE = Path(__file__).resolve()
CONFIG = BotConfig(routes=(Route(platform="slack", target="C1"),))


class Timed:
    """A source whose every poll takes `seconds` and finds nothing; it counts its polls, notes when each
    started and how many of its kind ran at once (`running` is shared by every Timed source)."""

    running = 0
    most_running = 0

    def __init__(self, name: str, seconds: float, interval: float) -> None:
        self.spec = SourceSpec(name=name, kind="timed", interval_seconds=interval, jitter_seconds=0)
        self.seconds = seconds
        self.started = 0
        self.finished = 0
        self.starts: list[float] = []

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        self.started += 1
        self.starts.append(time.monotonic())
        Timed.running += 1
        Timed.most_running = max(Timed.most_running, Timed.running)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            Timed.running -= 1
        self.finished += 1
        return PollResult(documents=(), state=state)

    async def backfill(self, client: httpx.AsyncClient, ticker: str, quarters: int) -> tuple[FetchedDocument, ...]:
        return ()


async def _until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def test_a_hanging_source_does_not_delay_the_others(store: Store) -> None:
    interval = 0.3
    slow, fast = Timed("slow", 60.0, interval), Timed("fast", 0.0, interval)
    scheduler = Scheduler(store, CONFIG, owner="me", sources=[slow, fast], lease_seconds=30)
    scheduler.start()
    try:
        # the fast source keeps its rhythm while the slow one hangs: at least once per 4 intervals (with a
        # start-up allowance), however loaded the machine
        await _until(lambda: slow.started == 1 and fast.finished >= 4, timeout=4 * 4 * interval + 5)
        assert scheduler.running
        assert (slow.started, slow.finished) == (1, 0)
    finally:
        await scheduler.stop(grace=0.2)  # the hanging poll is cancelled after the grace
    assert not scheduler.running
    # and never twice in one interval: a tick may come 5% early, the next poll is due 90% of an interval
    # after the fetch at the soonest; a slow machine only makes the gaps longer
    gaps = [b - a for a, b in itertools.pairwise(fast.starts)]
    assert min(gaps) >= 0.8 * interval, gaps
    assert {s.name: s.lease_owner for s in await store.source_status()} == {"fast": None, "slow": None}


async def test_stop_lets_a_running_poll_finish_and_releases_its_lease(store: Store) -> None:
    source = Timed("feed", 0.6, 60.0)
    scheduler = Scheduler(store, CONFIG, owner="me", sources=[source])
    scheduler.start()
    await _until(lambda: source.started == 1)
    await scheduler.stop()
    assert source.finished == 1
    (status,) = await store.source_status()
    assert status.last_success_at is not None and status.lease_owner is None


async def test_run_once_polls_every_source_now_even_when_not_due(store: Store) -> None:
    one, two = Timed("one", 0.0, 3600.0), Timed("two", 0.0, 3600.0)
    scheduler = Scheduler(store, CONFIG, owner="me", sources=[one, two])
    assert [o.status for o in await scheduler.run_once()] == ["ok", "ok"]
    assert [o.status for o in await scheduler.run_once("two")] == ["ok"]  # due in an hour, polled anyway
    assert (one.finished, two.finished) == (1, 2)
    with pytest.raises(InputError, match="no source named 'three' \\(configured: one, two\\)"):
        await scheduler.run_once("three")


async def test_run_once_polls_a_bounded_number_of_sources_at_a_time(store: Store) -> None:
    sources = [Timed(f"feed{n}", 0.05, 3600.0) for n in range(12)]
    scheduler = Scheduler(store, CONFIG, owner="me", sources=sources, concurrency=3)
    Timed.running = Timed.most_running = 0
    outcomes = await scheduler.run_once()
    assert [o.status for o in outcomes] == ["ok"] * 12
    assert Timed.most_running == 3  # all twelve wait for one of three slots; none is left out
    assert all(s.finished == 1 for s in sources)
    with pytest.raises(ValueError, match="concurrency must be at least 1, got 0"):
        Scheduler(store, CONFIG, owner="me", sources=sources, concurrency=0)


# --------------------------------------------------------------------------- the CLI views


@pytest.fixture
def cli_env(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A config with one RSS source on a local server, the database at store_url, logging left to pytest."""
    with LocalServer() as server:
        config = tmp_path / "bot.yaml"
        config.write_text(
            f"sources:\n  - name: acme-news\n    kind: rss\n    url: {server.url('/feed.xml')}\n"
            "    tickers: [ACME]\nroutes:\n  - platform: slack\n    target: C-EARNINGS\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("DATABASE_URL", store_url)
        monkeypatch.setenv("BOT_CONFIG", str(config))
        monkeypatch.setattr(cli_sources, "_logging", lambda settings, config: None)
        yield server


def test_backoff_is_visible_in_sources_output(cli_env: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    cli_env.route("/feed.xml", Reply.status(503, headers={"Retry-After": "120"}))
    assert cli_main(["poll", "--once"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("acme-news: failed: ") and "503" in out
    assert "1 of 1 sources failed: acme-news" in err

    assert cli_main(["sources"]) == 0
    out, _ = capsys.readouterr()
    row = next(line for line in out.splitlines() if "acme-news" in line)
    assert "rss" in row and "backing_off" in row and "503" in row and "(in " in row
    assert cli_main(["sources", "--json"]) == 0
    (status,) = json.loads(capsys.readouterr().out)
    assert (status["health"], status["failures"]) == ("backing_off", 1)


def test_events_and_status_show_documents_and_delivery_states(
    cli_env: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.route("/q1.txt", Reply.ok(release_text("Acme Widgets, Inc.", "ACME", 2024, 1, 120.5), "text/plain"))
    cli_env.route("/feed.xml", Reply.ok(rss_feed([("acme-q1", cli_env.url("/q1.txt"), "Acme Q1")]), "text/xml"))
    assert cli_main(["poll", "--once", "--source", "acme-news"]) == 0
    assert "acme-news: ok, 1 documents: 1 new" in capsys.readouterr().out

    assert cli_main(["events", "--json"]) == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["ticker"], event["fiscal_year"], event["fiscal_quarter"]) == ("ACME", 2024, 1)
    assert [(d["key"], d["metrics"] > 0) for d in event["documents"]] == [("acme-q1", True)]
    assert [(d["target"], d["kind"], d["state"]) for d in event["deliveries"]] == [
        ("C-EARNINGS", "new_event", "pending")
    ]
    assert cli_main(["events"]) == 0
    assert "event 1: ACME" in capsys.readouterr().out

    assert cli_main(["status"]) == 0
    out = capsys.readouterr().out
    assert "1 pending, 0 sent, 0 failed" in out and "slack:C-EARNINGS" in out and "acme-news" in out
    assert cli_main(["poll", "--once", "--source", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "earnings-bot: no source named 'nope' (configured: acme-news)"


def test_backfill_stores_a_tickers_recent_quarters(cli_env: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    entries = []
    for q in (1, 2):
        cli_env.route(
            f"/q{q}.txt", Reply.ok(release_text("Acme Widgets, Inc.", "ACME", 2024, q, 100.0 + q), "text/plain")
        )
        entries.append((f"acme-q{q}", cli_env.url(f"/q{q}.txt"), f"Acme Q{q}"))
    cli_env.route("/feed.xml", Reply.ok(rss_feed(entries), "text/xml"))
    assert cli_main(["backfill", "acme", "--quarters", "2"]) == 0
    assert "acme-news: ok, 2 documents: 2 new" in capsys.readouterr().out
    assert cli_main(["events", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert sorted(e["fiscal_quarter"] for e in events) == [1, 2]
    assert all(e["deliveries"] == [] for e in events)  # history is stored for queries, never posted
    assert cli_main(["backfill", "K C"]) == 2
    assert "ticker 'K C' is not a valid ticker" in capsys.readouterr().err
    assert cli_main(["backfill", "ACME", "--quarters", "0"]) == 2
    assert "--quarters must be at least 1, got 0" in capsys.readouterr().err


# --------------------------------------------------------------------------- replicas (processes)


def _replica() -> int:
    """One replica: poll the given feeds until SIGTERM, then stop cleanly. Writes <owner>.started."""
    parser = argparse.ArgumentParser()
    for flag in ("--url", "--server", "--owner", "--marks"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--feeds", nargs="+", required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--jitter", type=float, required=True)
    parser.add_argument("--lease", type=float, required=True)
    args = parser.parse_args(sys.argv[2:])

    async def run() -> int:
        store = await Store.open(args.url)
        specs = [
            RssSpec(
                name=feed,
                url=f"{args.server}/{feed}.xml",
                interval_seconds=args.interval,
                jitter_seconds=args.jitter,
                tickers=("ACME",),
            )
            for feed in args.feeds
        ]
        client = httpx.AsyncClient(headers={"User-Agent": args.owner})
        scheduler = Scheduler(
            store,
            CONFIG,
            owner=args.owner,
            sources=[RssSource(s) for s in specs],
            client=client,
            lease_seconds=args.lease,
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        scheduler.start()
        Path(args.marks, f"{args.owner}.started").write_text(str(time.monotonic()))
        await stop.wait()
        await scheduler.stop()
        await client.aclose()
        await store.close()
        return 0

    return asyncio.run(run())


def _start(
    url: str, server: LocalServer, owner: str, marks: Path, feeds: list[str], **opts: float
) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        str(HERE),
        "replica",
        "--url",
        url,
        "--server",
        server.base_url,
        "--owner",
        owner,
        "--marks",
        str(marks),
        "--feeds",
        *feeds,
    ]
    for key, value in opts.items():
        argv += [f"--{key}", str(value)]
    return subprocess.Popen(argv, env={**os.environ, "LOG_LEVEL": "WARNING"}, stderr=subprocess.PIPE)


def _started(marks: Path, owner: str) -> float | None:
    mark = marks / f"{owner}.started"
    return float(mark.read_text()) if mark.exists() and mark.read_text() else None


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode in (0, -signal.SIGKILL), err.decode()


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _feed_server(server: LocalServer, feeds: list[str], first: Reply | None = None) -> None:
    for feed in feeds:
        body = release_text("Acme Widgets, Inc.", "ACME", 2024, 1 + feeds.index(feed), 120.0)
        server.route(f"/{feed}-q.txt", Reply.ok(body, "text/plain"))
        xml = rss_feed([(f"{feed}-entry", server.url(f"/{feed}-q.txt"), feed)])
        replies = [Reply.ok(xml, "application/rss+xml", etag=f'"{feed}"')]
        server.route(f"/{feed}.xml", *([first] if first else []), *replies)


async def test_three_replicas_poll_each_source_once_per_interval(store_url: str, tmp_path: Path) -> None:
    interval, jitter, feeds = 1.5, 0.1, ["feed-a", "feed-b"]
    owners = ["replica-1", "replica-2", "replica-3"]
    with LocalServer() as server:
        _feed_server(server, feeds)
        await (await Store.open(store_url)).close()  # migrate once up front; replicas then start alike
        procs = [
            _start(store_url, server, o, tmp_path, feeds, interval=interval, jitter=jitter, lease=30) for o in owners
        ]
        try:
            _wait(lambda: all(_started(tmp_path, o) for o in owners), 90)
            window_start = max(_started(tmp_path, o) or 0.0 for o in owners) + 1.0
            time.sleep(5 * interval)
            window_end = time.monotonic()
        finally:
            _stop(procs)
        requests = list(server.requests)

    window = window_end - window_start
    for feed in feeds:
        times = sorted(r.time for r in requests if r.path == f"/{feed}.xml")
        gaps = [b - a for a, b in itertools.pairwise(times)]
        inside = [t for t in times if window_start <= t <= window_end]
        # never two polls of a source in one interval, though three replicas tick on it (uncoordinated,
        # they would poll about every interval/3): the next poll is due 90% of an interval after a fetch
        # at the soonest; the margin below that is for request latency on a loaded machine
        assert min(gaps) >= 0.6 * interval, (feed, gaps)
        # and no interval left out for long: at least one poll per two intervals over the window
        assert window / (2 * interval) - 1 <= len(inside) <= window / (0.6 * interval) + 1, (feed, len(inside))
    store = await Store.open(store_url)
    try:
        docs = sum(len(e.documents) for e in await store.events())
        assert docs == len(feeds) and len(await store.deliveries()) == len(feeds)
        assert all(s.lease_owner is None and s.health == "ok" for s in await store.source_status())
    finally:
        await store.close()


def _owner(request: Recorded) -> str:
    return request.headers.get("user-agent", "")


async def test_a_killed_replica_lease_expires_and_another_takes_over(store_url: str, tmp_path: Path) -> None:
    lease, interval = 5.0, 0.5
    owners = ["replica-a", "replica-b"]
    with LocalServer() as server:
        _feed_server(server, ["feed"])
        await (await Store.open(store_url)).close()
        procs = {
            o: _start(store_url, server, o, tmp_path, ["feed"], interval=interval, jitter=0, lease=lease)
            for o in owners
        }
        try:
            _wait(lambda: all(_started(tmp_path, o) for o in owners), 90)
            # from now on the next poll hangs on the feed: whoever makes it is killed holding the lease
            seen = len(server.requests_to("/feed.xml"))
            _feed_server(server, ["feed"], first=Reply.ok(b"<rss/>", "application/rss+xml", delay=60))
            _wait(lambda: len(server.requests_to("/feed.xml")) > seen, 30)
            hung = server.requests_to("/feed.xml")[seen]
            victim = _owner(hung)
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait(10)
            survivor = next(o for o in owners if o != victim)
            _wait(lambda: len(server.requests_to("/feed.xml")) > seen + 1, lease + 30)
            takeover = server.requests_to("/feed.xml")[seen + 1]
        finally:
            _stop(list(procs.values()))

    assert _owner(takeover) == survivor
    waited = takeover.time - hung.time
    # kept off while the lease held (it started just before the hung request), then took over within a few
    # ticks (a loaded machine may be late by seconds)
    assert lease - 0.3 <= waited <= lease + 2 * interval + 5
    store = await Store.open(store_url)
    try:
        (status,) = await store.source_status()
        assert status.health == "ok" and status.lease_owner is None  # the survivor stopped cleanly
        assert sum(len(e.documents) for e in await store.events()) == 1
    finally:
        await store.close()


if __name__ == "__main__" and sys.argv[1:2] == ["replica"]:
    raise SystemExit(_replica())
