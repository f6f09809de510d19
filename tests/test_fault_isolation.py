"""A source that fails (each fault a server can produce) is logged by name and backed off, while the other
sources are polled and everything already stored stays as it was; on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from conftest import release_text, rss_feed
from httpserver import LocalServer, Reply

from bot.config import BotConfig, Route
from bot.scheduler import Scheduler
from bot.sources.rss import RssSpec
from bot.store import Store

FAULTS = {
    "500": Reply.status(500),
    "429 with Retry-After": Reply.status(429, headers={"Retry-After": "120"}),
    "slower than the timeout": Reply.ok(b"late", delay=2.0),
    "malformed XML": Reply.ok(b"<rss><channel><item><title>broken", "application/rss+xml"),
    "30 MB body": Reply.huge(30 * 1024 * 1024, declare_length=False),
    "redirect loop": Reply.redirect("/loop-a"),
    "connection reset": Reply.reset(),
}


def _config(server: LocalServer) -> BotConfig:
    specs = tuple(
        RssSpec(name=name, url=server.url(f"/{name}.xml"), interval_seconds=60, jitter_seconds=0, timeout_seconds=1)
        for name in ("alpha", "beta")
    )
    return BotConfig(sources=specs, routes=(Route(platform="console", target="stdout"),))


def _release(server: LocalServer, name: str, company: str, ticker: str, quarter: int) -> None:
    server.route(f"/{name}-q{quarter}.txt",
                 Reply.ok(release_text(company, ticker, 2024, quarter, 100.0 + quarter), "text/plain"))


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failing_source_leaves_the_others_and_the_store_untouched(
    fault: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalServer() as server:
        server.route("/loop-a", Reply.redirect("/loop-b"))
        server.route("/loop-b", Reply.redirect("/loop-a"))
        for name, company, ticker in (("alpha", "Alpha Corp", "ALPH"), ("beta", "Beta Corp", "BETA")):
            _release(server, name, company, ticker, 1)
            server.route(f"/{name}.xml", Reply.ok(
                rss_feed([(f"{name}-q1", server.url(f"/{name}-q1.txt"), f"{company} Q1")]), "application/rss+xml"))
        config = _config(server)
        first = await Scheduler(store, config, owner="test").run_once()
        assert [o.status for o in first] == ["ok", "ok"]
        stored = await store.events()
        assert len(stored) == 2

        # alpha now fails; beta has a new release.
        server.route("/alpha.xml", FAULTS[fault])
        _release(server, "beta", "Beta Corp", "BETA", 2)
        server.route("/beta.xml", Reply.ok(rss_feed([
            ("beta-q2", server.url("/beta-q2.txt"), "Beta Corp Q2"),
            ("beta-q1", server.url("/beta-q1.txt"), "Beta Corp Q1"),
        ]), "application/rss+xml"))
        with caplog.at_level(logging.WARNING):
            second = {o.source: o for o in await Scheduler(store, config, owner="test").run_once()}

    assert second["beta"].status == "ok"
    assert second["alpha"].status == "failed"
    status = {s.name: s for s in await store.source_status()}
    assert status["alpha"].health != "ok" and status["alpha"].failures == 1
    assert status["alpha"].last_error
    assert status["alpha"].next_poll_at is not None and status["beta"].next_poll_at is not None
    assert status["alpha"].next_poll_at > status["beta"].next_poll_at  # backed off beyond the interval
    assert status["beta"].health == "ok"
    assert any(getattr(r, "source", None) == "alpha" or "alpha" in r.getMessage() for r in caplog.records)
    events = await store.events()
    assert len(events) == 3  # beta's Q2 arrived
    before = {e.id: [d.key for d in e.documents] for e in stored}
    after = {e.id: [d.key for d in e.documents] for e in events}
    assert all(after[i] == keys for i, keys in before.items())  # nothing stored before was changed or lost
