"""The pipeline: process one document, poll one source (leases, due times, backoff, state after storage)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import release_text, rss_feed
from httpserver import LocalServer, Reply

from bot.config import BotConfig, Route
from bot.errors import SourceError, StoreError
from bot.pipeline import backoff_delay, is_due, next_poll, poll_source, process
from bot.sources.base import FetchedDocument, PollResult, SourceSpec, SourceState
from bot.sources.rss import RssSource, RssSpec
from bot.store import Store

CONFIG = BotConfig(routes=(Route(platform="slack", target="C1"),))
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def doc(key: str, ticker: str = "ACME", quarter: int = 1, revenue: float = 120.5) -> FetchedDocument:
    body = release_text("Acme Widgets, Inc.", ticker, 2024, quarter, revenue)
    return FetchedDocument(
        source="scripted", key=key, url=f"https://x.test/{key}.txt", content=body.encode(), content_type="text/plain"
    )


BAD = FetchedDocument(source="scripted", key="bad", content=b"", content_type="text/plain")


class Scripted:
    """A source whose polls follow a script: a PollResult, an exception to raise, or seconds to hang."""

    def __init__(self, *steps: PollResult | Exception | float, interval: float = 60.0) -> None:
        self.spec = SourceSpec(name="scripted", kind="scripted", interval_seconds=interval, jitter_seconds=0)
        self.steps = list(steps)
        self.states: list[SourceState] = []

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        self.states.append(state)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, float):
            await asyncio.sleep(step)
            raise AssertionError("should have been timed out")
        return step

    async def backfill(self, client: httpx.AsyncClient, ticker: str, quarters: int) -> tuple[FetchedDocument, ...]:
        return ()


def result(*docs: FetchedDocument, seen: tuple[str, ...] = ()) -> PollResult:
    return PollResult(documents=docs, state=SourceState(seen=seen or tuple(d.key for d in docs)))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.mark.parametrize(
    ("interval", "failures", "retry_after", "rand", "expected"),
    [
        (60, 1, None, 0.5, 120),  # base = interval, doubled per consecutive failure
        (60, 2, None, 0.5, 240),
        (60, 3, None, 0.0, 432),  # -10% jitter
        (60, 3, None, 1.0, 528),  # +10% jitter
        (60, 10, None, 0.5, 3600),  # capped at an hour
        (300, 1, 900, 0.5, 900),  # a longer Retry-After wins
        (300, 1, 30, 0.5, 600),  # a shorter one does not shorten the backoff
        (60, 2, 7 * 86400, 0.5, 86400),  # Retry-After honoured up to a day
        (60, 100, None, 0.5, 3600),  # no overflow on long outages
    ],
)
def test_backoff_delay(interval: float, failures: int, retry_after: float | None, rand: float, expected: float) -> None:
    assert backoff_delay(interval, failures, retry_after, lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("next_poll_at", "now", "tolerance", "due"),
    [
        (None, T0, 0, True),
        (T0, T0, 0, True),
        (T0 + timedelta(seconds=10), T0, 0, False),
        (T0 + timedelta(seconds=10), T0, 10, True),
        (T0 + timedelta(seconds=10), T0, 9.5, False),
        (T0 - timedelta(hours=1), T0, 0, True),
    ],
)
def test_is_due(next_poll_at: datetime | None, now: datetime, tolerance: float, due: bool) -> None:
    assert is_due(next_poll_at, now, tolerance) is due


@pytest.mark.parametrize(
    ("fetch_delay", "interval", "due_after"),
    [
        (0.0, 60, 60),  # one interval after the tick
        (0.5, 60, 60),  # a fetch a little after its tick keeps the tick rhythm
        (10.0, 60, 64),  # a fetch long after its tick: the next no sooner than 90% of an interval later
        (1.0, 1, 1.9),
    ],
)
def test_next_poll(fetch_delay: float, interval: float, due_after: float) -> None:
    fetched = T0 + timedelta(seconds=fetch_delay)
    assert next_poll(T0, fetched, interval) == T0 + timedelta(seconds=due_after)


async def test_process_stores_a_readable_document_and_skips_an_unreadable_one(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.pipeline")
    stored = await process(store, doc("q1"), config=CONFIG)
    assert stored is not None and stored.status == "new_event" and len(stored.deliveries) == 1
    assert await process(store, BAD, config=CONFIG) is None
    skipped = [r for r in caplog.records if "skipped bad" in r.getMessage()]
    assert skipped and skipped[0].levelno == logging.WARNING and skipped[0].__dict__["key"] == "bad"
    (event,) = await store.events()
    assert (event.ticker, event.fiscal_year, event.fiscal_quarter) == ("ACME", 2024, 1)
    report = await store.latest_report("ACME")
    assert report is not None and report.metric("revenue") is not None


async def test_poll_stores_every_good_document_and_then_saves_the_state(
    store: Store, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = Scripted(result(doc("q1"), BAD, doc("q2", quarter=2, revenue=130.0)))
    outcome = await poll_source(store, source, client, config=CONFIG, owner="me")
    assert (outcome.status, outcome.fetched, outcome.stored, outcome.rejected, outcome.queued) == ("ok", 3, 2, 1, 2)
    assert await store.load_state("scripted") == SourceState(seen=("q1", "bad", "q2"))
    (status,) = await store.source_status()
    assert status.health == "ok" and status.lease_owner is None  # the lease is released
    assert outcome.next_poll_at is not None and status.next_poll_at == outcome.next_poll_at
    pipeline_records = [r for r in caplog.records if r.name == "bot.pipeline"]
    assert pipeline_records and all(r.__dict__.get("source") == "scripted" for r in pipeline_records)


async def test_a_failing_poll_backs_off_keeps_the_state_and_shows_in_status(
    store: Store, client: httpx.AsyncClient
) -> None:
    source = Scripted(
        result(doc("q1")),
        SourceError("GET https://x.test/feed: HTTP 503", status=503),
        SourceError("GET https://x.test/feed: HTTP 429", status=429, retry_after=3000),
        result(doc("q2", quarter=2)),
        interval=60,
    )
    await poll_source(store, source, client, config=CONFIG, owner="me")
    good_state = await store.load_state("scripted")

    before = datetime.now(UTC)
    failed = await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
    assert failed.status == "failed" and failed.reason == "GET https://x.test/feed: HTTP 503"
    (status,) = await store.source_status()
    assert (status.health, status.failures) == ("backing_off", 1)
    wait = (status.next_poll_at - before).total_seconds()  # type: ignore[operator]
    assert 108 <= wait <= 133  # 60 s · 2, ±10%
    assert await store.load_state("scripted") == good_state

    # not due while backing off: the scheduled tick skips without polling
    skipped = await poll_source(store, source, client, config=CONFIG, owner="me")
    assert (skipped.status, skipped.reason, len(source.states)) == ("skipped", "not due", 2)

    await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
    (status,) = await store.source_status()
    assert status.failures == 2 and (status.next_poll_at - datetime.now(UTC)).total_seconds() > 2900  # type: ignore[operator]

    ok = await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
    assert ok.status == "ok" and source.states[-1] == good_state  # the state saved before the failures
    (status,) = await store.source_status()
    assert (status.health, status.failures, status.last_error) == ("ok", 0, None)


async def test_a_source_held_by_another_replica_is_not_polled(store: Store, client: httpx.AsyncClient) -> None:
    source = Scripted(result(doc("q1")))
    assert await store.acquire_lease("scripted", "other-replica", ttl=60)
    outcome = await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
    assert (outcome.status, source.states) == ("skipped", [])
    assert (outcome.reason or "").startswith("polled by another replica (other-replica, lease until ")
    (status,) = await store.source_status()
    assert status.lease_owner == "other-replica"  # not released by the replica that did not hold it


async def test_a_hanging_poll_is_cut_off_and_backs_off(store: Store, client: httpx.AsyncClient) -> None:
    source = Scripted(30.0)
    outcome = await poll_source(store, source, client, config=CONFIG, owner="me", lease_seconds=0.5)
    assert outcome.status == "failed" and "longer than 0.4s" in (outcome.reason or "")
    (status,) = await store.source_status()
    assert status.health == "backing_off" and status.lease_owner is None


async def test_a_crashing_source_is_recorded_without_its_message(store: Store, client: httpx.AsyncClient) -> None:
    source = Scripted(KeyError("token=hunter2"))
    outcome = await poll_source(store, source, client, config=CONFIG, owner="me")
    assert outcome.reason == "internal error (KeyError)"
    (status,) = await store.source_status()
    assert status.last_error == "internal error (KeyError)"


async def test_store_failure_mid_poll_keeps_the_old_state_so_nothing_is_lost(
    store: Store, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Scripted(result(doc("q1"), doc("q2", quarter=2)), result(doc("q1"), doc("q2", quarter=2)))
    real_ingest = store.ingest
    calls = 0

    async def flaky_ingest(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StoreError("store: ingest failed: connection lost")
        return await real_ingest(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "ingest", flaky_ingest)
    with pytest.raises(StoreError):
        await poll_source(store, source, client, config=CONFIG, owner="me")
    assert await store.load_state("scripted") == SourceState()  # not advanced past the lost document
    (status,) = await store.source_status()
    assert status.lease_owner is None

    outcome = await poll_source(store, source, client, config=CONFIG, owner="me")
    assert (outcome.stored, outcome.duplicates) == (1, 1)  # the retry stores q2, q1 is known
    assert len(await store.deliveries()) == 2


async def test_rss_source_over_local_http_end_to_end(store: Store, client: httpx.AsyncClient) -> None:
    with LocalServer() as server:
        server.route("/q1.txt", Reply.ok(release_text("Acme Widgets, Inc.", "ACME", 2024, 1, 120.5), "text/plain"))
        server.route(
            "/q2.txt",
            Reply.status(500),
            Reply.ok(release_text("Acme Widgets, Inc.", "ACME", 2024, 2, 131.0), "text/plain"),
        )
        feed = rss_feed([("acme-q2", server.url("/q2.txt"), "Acme Q2"), ("acme-q1", server.url("/q1.txt"), "Acme Q1")])
        server.route("/feed.xml", Reply.ok(feed, "application/rss+xml", etag='"f1"'))
        source = RssSource(RssSpec(name="acme-news", url=server.url("/feed.xml"), tickers=("ACME",)))

        first = await poll_source(store, source, client, config=CONFIG, owner="me")
        assert (first.status, first.stored) == ("ok", 1)  # q2's link failed: left for the next poll
        second = await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
        assert (second.status, second.stored) == ("ok", 1)
        third = await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
        assert (third.status, third.fetched) == ("ok", 0)  # 304 Not Modified

    reports = await store.reports("ACME")
    assert [(r.period.fiscal_quarter, r.metric("revenue").value) for r in reports] == [(2, 131.0e6), (1, 120.5e6)]  # type: ignore[union-attr]
    assert len(await store.deliveries()) == 2


async def test_a_poll_that_finds_nothing_new_saves_no_state_and_one_that_does_saves_it(
    store: Store, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    unchanged = SourceState(seen=("q1",))
    await store.record_poll("scripted", state=unchanged, error=None, next_poll_at=T0)
    source = Scripted(PollResult(documents=(), state=unchanged), result(doc("q2", quarter=2), seen=("q1", "q2")))
    saved: list[SourceState | None] = []
    real_finish = store.finish_poll

    async def finish_poll(name: str, owner: str, **record: object) -> None:
        saved.append(record["state"])  # type: ignore[arg-type]
        await real_finish(name, owner, **record)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "finish_poll", finish_poll)
    quiet = await poll_source(store, source, client, config=CONFIG, owner="me")  # e.g. a 304 Not Modified
    busy = await poll_source(store, source, client, config=CONFIG, owner="me", force=True)
    assert (quiet.status, quiet.fetched, busy.status, busy.stored) == ("ok", 0, "ok", 1)
    assert saved == [None, SourceState(seen=("q1", "q2"))]  # only the record of the quiet poll is written
    assert await store.load_state("scripted") == SourceState(seen=("q1", "q2"))
    (status,) = await store.source_status()
    assert status.lease_owner is None and status.last_success_at is not None


async def test_a_source_another_replica_polled_since_the_first_look_is_not_polled_again(
    store: Store, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Scripted(result(doc("q1")))
    later = datetime.now(UTC) + timedelta(seconds=60)
    await store.record_poll("scripted", state=None, error=None, next_poll_at=later)  # the other replica's poll

    async def before_that(name: str) -> None:  # what this replica read just before
        return None

    monkeypatch.setattr(store, "status_of", before_that)
    outcome = await poll_source(store, source, client, config=CONFIG, owner="me")
    assert (outcome.status, outcome.reason, source.states) == ("skipped", "not due", [])
    assert outcome.next_poll_at is not None and abs((outcome.next_poll_at - later).total_seconds()) < 1
    (status,) = await store.source_status()
    assert status.lease_owner is None  # the due check and the lease are one statement: nothing to release
