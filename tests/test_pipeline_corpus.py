"""Real earnings releases (../shared, read at run time) through real sources, loader, extractor and store."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import rss_feed
from httpserver import LocalServer, Reply

from bot.config import BotConfig, Route
from bot.pipeline import poll_source
from bot.sources.inbox import InboxSource, InboxSpec
from bot.sources.rss import RssSource, RssSpec
from bot.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RELEASES = SHARED / "corpus" / "press_releases"
ADOBE = "edgartools__adbeex991q123.htm"  # Adobe Q1 FY2023 EX-99.1
BUCKLE = "edgartools__BuckleInc.8-K.EX99.1.html"  # The Buckle Q3 FY2024 EX-99.1

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not RELEASES.is_dir(), reason=f"corpus folder {RELEASES} is absent"),
]

CONFIG = BotConfig(routes=(Route(platform="slack", target="C-ALL"), Route(platform="console", target="stdout")))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


async def test_a_release_through_a_feed_and_an_inbox_is_one_event_delivered_once(
    store: Store, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(RELEASES / ADOBE, inbox / "adobe-q1-fy2023.htm")  # the same exhibit, dropped by hand
    with LocalServer() as server:
        for name in (ADOBE, BUCKLE):
            server.route(f"/{name}", Reply.ok((RELEASES / name).read_bytes(), "text/html"))
        feed = rss_feed([(name, server.url(f"/{name}"), name) for name in (BUCKLE, ADOBE)])
        server.route("/feed.xml", Reply.ok(feed, "application/rss+xml"))
        wire = RssSource(RssSpec(name="wire", url=server.url("/feed.xml")))
        folder = InboxSource(InboxSpec(name="inbox", path=inbox, settle_seconds=0))

        from_wire = await poll_source(store, wire, client, config=CONFIG, owner="me")
        from_inbox = await poll_source(store, folder, client, config=CONFIG, owner="me")

    assert (from_wire.status, from_wire.stored) == ("ok", 2)
    assert (from_inbox.status, from_inbox.fetched, from_inbox.stored, from_inbox.duplicates) == ("ok", 1, 0, 1)
    events = {(e.ticker, e.fiscal_year, e.fiscal_quarter): e for e in await store.events()}
    assert set(events) == {("ADBE", 2023, 1), ("BKE", 2024, 3)}
    adobe = events[("ADBE", 2023, 1)]
    assert [d.source for d in adobe.documents] == ["wire"]
    assert sorted((d.target, d.kind) for d in adobe.deliveries) == [("C-ALL", "new_event"), ("stdout", "new_event")]
    report = await store.latest_report("ADBE")
    assert report is not None and report.metric("revenue") is not None and report.guidance
