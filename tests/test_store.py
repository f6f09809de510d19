"""Store behaviour on SQLite and PostgreSQL: dedup, events, revisions, outbox, leases, watchlists, reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.config import Route
from bot.errors import ConfigError, InputError, StoreError
from bot.models import Document, DocumentKind, Guidance, Metric, Period, Report
from bot.sources.base import FetchedDocument, SourceState, Validator
from bot.store import Store
from bot.store.schema import watchlists

SLACK = Route(platform="slack", target="C-ALL")
CONSOLE = Route(platform="console", target="stdout")
ROUTES = (SLACK, CONSOLE)


def fetched(source: str, key: str, *, ticker: str | None = "KC", form: str | None = None) -> FetchedDocument:
    return FetchedDocument(
        source=source,
        key=key,
        url=f"https://example.test/{source}/{key}",
        content=b"raw",
        ticker=ticker,
        form=form,
    )


def metric(key: str, value: float) -> Metric:
    text = f"{key} was {value}"
    return Metric(key=key, name=key, value=value, unit="USD", quote=text, value_text=str(value), start=0, end=len(text))


def guidance(low: float, high: float) -> Guidance:
    text = f"revenue of {low} to {high}"
    return Guidance(metric="revenue", low=low, high=high, unit="USD", text=text, quote=text, start=0, end=len(text))


def doc_and_report(
    text: str,
    *,
    ticker: str | None = "KC",
    company: str | None = "Kingsoft Cloud Holdings Ltd",
    year: int | None = 2024,
    quarter: int | None = 1,
    metrics: tuple[Metric, ...] = (metric("revenue", 1.0e9),),
    guide: tuple[Guidance, ...] = (),
    kind: DocumentKind = "press_release",
) -> tuple[Document, Report]:
    document = Document(text=text, kind=kind, format="text")
    report = Report(
        company=company,
        ticker=ticker,
        kind=kind,
        period=Period(fiscal_year=year, fiscal_quarter=quarter),
        metrics=metrics,
        guidance=guide,
    )
    return document, report


async def test_same_release_through_two_sources_is_one_event_delivered_once_per_route(store: Store) -> None:
    document, report = doc_and_report("Kingsoft Cloud Q1 2024 revenue was 1.0 billion.")
    first = await store.ingest(fetched("newswire", "n-1"), document, report, ROUTES)
    again = await store.ingest(fetched("edgar", "0001-24-000001:EX-99.1", form="8-K"), document, report, ROUTES)
    # the 8-K copy wraps the same figures in other words: stored with the event, not delivered again
    wrapped, _ = doc_and_report("FORM 8-K exhibit 99.1. Kingsoft Cloud Q1 2024 revenue was 1.0 billion.")
    copy = await store.ingest(fetched("ir", "ir-page"), wrapped, report, ROUTES)

    assert (first.status, again.status, copy.status) == ("new_event", "duplicate", "attached")
    assert first.event_id == again.event_id == copy.event_id
    assert again.document_id == first.document_id
    events = await store.events()
    assert len(events) == 1 and len(events[0].documents) == 2
    pending = await store.pending_deliveries()
    assert sorted((d.platform, d.target, d.kind) for d in pending) == [
        ("console", "stdout", "new_event"),
        ("slack", "C-ALL", "new_event"),
    ]


async def test_refetched_unchanged_content_writes_nothing(store: Store) -> None:
    document, report = doc_and_report("Revenue was 1.0 billion in the first quarter.")
    await store.ingest(fetched("rss", "entry-1"), document, report, ROUTES)
    for _ in range(3):
        result = await store.ingest(fetched("rss", "entry-1"), document, report, ROUTES)
        assert result.status == "duplicate" and result.deliveries == ()
    # whitespace re-flow is the same content
    reflowed, _ = doc_and_report("Revenue was 1.0 billion\n in the first   quarter.\n")
    assert (await store.ingest(fetched("rss", "entry-1"), reflowed, report, ROUTES)).status == "duplicate"
    assert len((await store.events())[0].documents) == 1
    assert len(await store.deliveries()) == 2


async def test_changed_content_under_same_key_is_a_flagged_revision_queued_once(store: Store) -> None:
    original, report = doc_and_report("Revenue was 1.0 billion.")
    first = await store.ingest(fetched("rss", "entry-1"), original, report, ROUTES)
    corrected, fixed = doc_and_report("Revenue was 1.1 billion (corrected).", metrics=(metric("revenue", 1.1e9),))
    revised = await store.ingest(fetched("rss", "entry-1"), corrected, fixed, ROUTES)
    repeat = await store.ingest(fetched("rss", "entry-1"), corrected, fixed, ROUTES)

    assert revised.status == "revision" and revised.revision == 2 and revised.event_id == first.event_id
    assert repeat.status == "duplicate" and repeat.document_id == revised.document_id
    docs = (await store.events())[0].documents
    assert [(d.revision, d.revision_of) for d in docs] == [(1, None), (2, first.document_id)]
    kinds = sorted(d.kind for d in await store.deliveries() if d.document_id == revised.document_id)
    assert kinds == ["revision", "revision"]
    # the corrected figures win over the superseded ones
    latest = await store.latest_report("kc")
    assert latest is not None and latest.metrics[0].value == 1.1e9


async def test_later_document_adding_figures_is_an_event_update_threaded_under_the_first_post(
    store: Store,
) -> None:
    release, report = doc_and_report("Revenue was 1.0 billion.")
    transcript, call = doc_and_report(
        "Operator: welcome. CFO: revenue was 1.0 billion; we expect 1.1 to 1.2 billion next quarter.",
        kind="transcript",
        guide=(guidance(1.1e9, 1.2e9),),
    )
    first = await store.ingest(fetched("newswire", "n-1"), release, report, (SLACK,))
    update = await store.ingest(fetched("transcripts", "call-1"), transcript, call, (SLACK,))
    assert update.status == "event_update" and update.event_id == first.event_id

    # the update waits until the first post is sent, then threads under it
    due = await store.pending_deliveries()
    assert [d.kind for d in due] == ["new_event"] and due[0].thread_id is None
    await store.mark_sent(due[0].id, "1715000000.000100")
    due = await store.pending_deliveries()
    assert [(d.kind, d.thread_id) for d in due] == [("event_update", "1715000000.000100")]
    assert due[0].report == call  # the report round-trips through JSON intact


@pytest.mark.parametrize(
    ("first", "second", "same_event"),
    [
        (("KC", "Kingsoft Cloud", 2024, 1), ("KC", "Kingsoft Cloud Holdings Limited", 2024, 1), True),
        (("KC", "Kingsoft Cloud", 2024, 1), ("KC", "Kingsoft Cloud", 2024, 2), False),
        (("KC", "Kingsoft Cloud", 2024, 1), ("KC", "Kingsoft Cloud", 2023, 1), False),
        ((None, "Kingsoft Cloud", 2024, 1), ("KC", "Kingsoft Cloud Holdings Ltd.", 2024, 1), True),
        (("KC", "Kingsoft Cloud", 2024, 1), (None, "Kingsoft Cloud Holdings", 2024, 1), True),
        (("KC", "Kingsoft Cloud", 2024, 1), ("ADBE", "Adobe Inc.", 2024, 1), False),
        (("KC", "Kingsoft Cloud", None, None), ("KC", "Kingsoft Cloud", None, None), False),
        (("KC", "Kingsoft Cloud", 2024, None), ("KC", "Kingsoft Cloud", 2024, None), False),
    ],
)
async def test_event_grouping_by_company_and_period(
    store: Store,
    first: tuple[str | None, str, int | None, int | None],
    second: tuple[str | None, str, int | None, int | None],
    same_event: bool,
) -> None:
    results = []
    for n, (ticker, company, year, quarter) in enumerate((first, second)):
        document, report = doc_and_report(
            f"document {n}",
            ticker=ticker,
            company=company,
            year=year,
            quarter=quarter,
            metrics=(metric("eps", n),),
        )
        results.append(await store.ingest(fetched("src", f"k{n}", ticker=None), document, report, ROUTES))
    assert (results[0].event_id == results[1].event_id) is same_event


async def test_a_document_naming_no_company_or_period_is_deduplicated_by_its_text(store: Store) -> None:
    document, report = doc_and_report("Market wrap: shares rose.", ticker=None, company=None, year=None, quarter=None)
    first = await store.ingest(fetched("wire", "w1", ticker=None), document, report, ROUTES)
    copy = await store.ingest(fetched("news", "n9", ticker=None), document, report, ROUTES)
    other, _ = doc_and_report("Market wrap: shares fell.", ticker=None, company=None, year=None, quarter=None)
    third = await store.ingest(fetched("news", "n10", ticker=None), other, report, ROUTES)
    assert (first.status, copy.status, copy.document_id, third.status) == (
        "new_event",
        "duplicate",
        first.document_id,
        "new_event",
    )
    assert first.event_id != third.event_id and len(await store.deliveries()) == 2 * len(ROUTES)


async def test_outbox_targets_routes_that_want_the_ticker_and_watching_slack_channels(store: Store) -> None:
    routes = (
        Route(platform="slack", target="C-KC", tickers=("KC",)),
        Route(platform="slack", target="C-ADBE", tickers=("ADBE",)),
        Route(platform="teams", target="TEAMS_WEBHOOK_KC", tickers=("KC",)),
    )
    assert await store.watch("slack", "C-WATCH", "kc") is True
    assert await store.watch("slack", "C-WATCH", "KC") is False
    assert await store.watch("slack", "C-KC", "KC") is True  # same target as a route: still one row
    async with store.engine.begin() as conn:  # a Teams row left by an older release: never delivered to
        await conn.execute(
            insert(watchlists).values(platform="teams", channel="19:team", ticker="KC", created_at=datetime.now(UTC))
        )
    document, report = doc_and_report("Revenue was 1.0 billion.")
    result = await store.ingest(fetched("rss", "e1"), document, report, routes)
    rows = sorted((d.platform, d.target) for d in await store.deliveries())
    assert rows == [("slack", "C-KC"), ("slack", "C-WATCH"), ("teams", "TEAMS_WEBHOOK_KC")]
    assert len(result.deliveries) == 3

    assert await store.watchlist("slack", "C-WATCH") == ["KC"]
    assert await store.unwatch("slack", "C-WATCH", "KC") is True
    assert await store.unwatch("slack", "C-WATCH", "KC") is False
    assert await store.watchlist("slack", "C-WATCH") == []


@pytest.mark.parametrize(
    ("platform", "channel", "ticker", "message"),
    [
        ("console", "stdout", "KC", "platform 'console'"),
        ("teams", "19:team-channel", "KC", "platform 'teams' has no channel watchlists"),
        ("slack", "  ", "KC", "channel is empty"),
        ("slack", "C1", "K C!", "ticker 'K C!'"),
        ("slack", "C1", "", "ticker ''"),
    ],
)
async def test_watch_rejects_bad_input_with_a_clear_message(
    store: Store, platform: str, channel: str, ticker: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        await store.watch(platform, channel, ticker)


async def test_claims_keep_two_replicas_from_sending_one_row(store: Store) -> None:
    document, report = doc_and_report("Revenue was 1.0 billion.")
    await store.ingest(fetched("rss", "e1"), document, report, (SLACK,))
    (item,) = await store.pending_deliveries()
    assert await store.claim_delivery(item.id, "replica-a", ttl=60) is True
    assert await store.claim_delivery(item.id, "replica-b", ttl=60) is False
    assert await store.pending_deliveries() == []  # claimed rows are not handed out again
    await store.mark_sent(item.id, "ts-1")
    assert await store.claim_delivery(item.id, "replica-a", ttl=60) is False  # sent rows cannot be claimed
    (sent,) = await store.deliveries("sent")
    assert (sent.external_id, sent.attempts, sent.sent_at is not None) == ("ts-1", 1, True)


async def test_expired_claim_can_be_taken_over(store: Store) -> None:
    document, report = doc_and_report("Revenue was 1.0 billion.")
    await store.ingest(fetched("rss", "e1"), document, report, (SLACK,))
    (item,) = await store.pending_deliveries()
    assert await store.claim_delivery(item.id, "dead-replica", ttl=0.2)
    await asyncio.sleep(0.4)
    assert [d.id for d in await store.pending_deliveries()] == [item.id]
    assert await store.claim_delivery(item.id, "replica-b", ttl=60)


async def test_failures_retry_later_and_permanent_ones_stop(store: Store) -> None:
    for key in ("e1", "e2"):
        document, report = doc_and_report(f"Revenue was 1.0 billion. {key}", ticker=key.upper())
        await store.ingest(fetched("rss", key, ticker=key.upper()), document, report, (SLACK,))
    first, second = await store.pending_deliveries()
    later = datetime.now(UTC) + timedelta(minutes=5)
    await store.mark_failed(first.id, "rate limited (429)", permanent=False, retry_at=later)
    await store.mark_failed(second.id, "channel_not_found", permanent=True, retry_at=None)
    assert await store.pending_deliveries() == []
    (retrying,) = await store.deliveries("pending")
    assert (retrying.attempts, retrying.last_error) == (1, "rate limited (429)")
    assert abs((retrying.next_attempt_at - later).total_seconds()) < 1
    (failed,) = await store.deliveries("failed")
    assert (failed.id, failed.last_error) == (second.id, "channel_not_found")


async def test_delivery_gives_up_after_repeated_failures(store: Store) -> None:
    document, report = doc_and_report("Revenue was 1.0 billion.")
    await store.ingest(fetched("rss", "e1"), document, report, (SLACK,))
    (item,) = await store.pending_deliveries()
    now = datetime.now(UTC)
    for _ in range(8):
        await store.mark_failed(item.id, "timeout\nwith detail", permanent=False, retry_at=now)
    (failed,) = await store.deliveries("failed")
    assert failed.attempts == 8 and failed.last_error == "gave up after 8 attempts: timeout"


async def test_mark_sent_of_unknown_row_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="delivery 999 does not exist"):
        await store.mark_sent(999, None)


async def test_source_state_round_trips_and_health_follows_failures(store: Store) -> None:
    assert await store.load_state("rss") == SourceState()
    state = SourceState(validators={"https://x.test/feed": Validator(etag='"v1"')}, seen=("a", "b"), cursor="c")
    soon = datetime.now(UTC) + timedelta(seconds=300)
    await store.record_poll("rss", state=state, error=None, next_poll_at=soon)
    assert await store.load_state("rss") == state
    for n in range(1, 6):
        await store.record_poll("rss", state=None, error=f"HTTP 503 from x.test\ntrace {n}", next_poll_at=soon)
        (status,) = await store.source_status()
        assert status.failures == n
        assert status.health == ("failing" if n >= 5 else "backing_off")
        assert status.last_error == "HTTP 503 from x.test"
    assert await store.load_state("rss") == state  # failed polls keep the last good state
    await store.record_poll("rss", state=None, error=None, next_poll_at=soon)
    (status,) = await store.source_status()
    assert (status.health, status.failures, status.last_error) == ("ok", 0, None)
    assert status.last_success_at is not None and abs((status.next_poll_at - soon).total_seconds()) < 1  # type: ignore[operator]


async def test_lease_is_exclusive_until_released_or_expired(store: Store) -> None:
    assert await store.acquire_lease("rss", "a", ttl=30)
    assert not await store.acquire_lease("rss", "b", ttl=30)
    assert await store.acquire_lease("rss", "a", ttl=30)  # the holder extends it
    await store.release_lease("rss", "b")  # not the holder: no effect
    assert not await store.acquire_lease("rss", "b", ttl=30)
    await store.release_lease("rss", "a")
    assert await store.acquire_lease("rss", "b", ttl=0.2)
    await asyncio.sleep(0.4)
    assert await store.acquire_lease("rss", "c", ttl=30)  # b's lease expired


async def test_concurrent_lease_attempts_have_one_winner(store_url: str) -> None:
    stores = [await Store.open(store_url) for _ in range(4)]
    try:
        won = await asyncio.gather(*(s.acquire_lease("edgar", f"r{i}", ttl=30) for i, s in enumerate(stores)))
        assert sorted(won) == [False, False, False, True]
    finally:
        for s in stores:
            await s.close()


async def test_reports_one_per_period_newest_first_and_latest_report(store: Store) -> None:
    for year, quarter, value in ((2023, 4, 0.9e9), (2024, 2, 1.2e9), (2024, 1, 1.0e9)):
        document, report = doc_and_report(
            f"Revenue {value}", year=year, quarter=quarter, metrics=(metric("revenue", value),)
        )
        await store.ingest(fetched("rss", f"{year}q{quarter}"), document, report, ROUTES)
    # a thinner transcript of the newest quarter does not displace its release
    thin, call = doc_and_report("call", year=2024, quarter=2, kind="transcript", metrics=())
    await store.ingest(fetched("transcripts", "2024q2"), thin, call, ROUTES)
    # a document with no period is its own event and never a period's report
    undated, news = doc_and_report("news", year=None, quarter=None, metrics=(metric("revenue", 5.0),))
    await store.ingest(fetched("news", "n"), undated, news, ROUTES)

    history = await store.reports("KC")
    assert [(r.period.fiscal_year, r.period.fiscal_quarter) for r in history] == [
        (2024, 2),
        (2024, 1),
        (2023, 4),
    ]
    assert [r.metrics[0].value for r in history] == [1.2e9, 1.0e9, 0.9e9]
    assert len(await store.reports("KC", limit=2)) == 2
    latest = await store.latest_report("KC")
    assert latest is not None and latest.kind == "press_release" and latest.period.fiscal_quarter == 2
    assert await store.latest_report("NOPE") is None and await store.reports("NOPE") == []


async def test_companies_known_to_the_store(store: Store) -> None:
    pairs = [("KC", "Kingsoft Cloud"), ("ADBE", "Adobe Inc."), (None, "Linklogis Inc.")]
    for n, (ticker, company) in enumerate(pairs):
        document, report = doc_and_report(f"doc {n}", ticker=ticker, company=company)
        await store.ingest(fetched("rss", f"e{n}", ticker=None), document, report, ROUTES)
    assert await store.companies() == [
        ("ADBE", "Adobe Inc."),
        ("KC", "Kingsoft Cloud"),
        (None, "Linklogis Inc."),
    ]


async def test_event_summary_lists_documents_and_delivery_states(store: Store) -> None:
    document, report = doc_and_report("Revenue was 1.0 billion.", guide=(guidance(1.0, 2.0),))
    await store.ingest(fetched("rss", "e1", form="press_release"), document, report, ROUTES)
    (item, _) = await store.pending_deliveries()
    await store.mark_failed(item.id, "invalid_auth", permanent=True, retry_at=None)
    (event,) = await store.events()
    assert (event.ticker, event.company, event.fiscal_year, event.fiscal_quarter) == (
        "KC",
        "Kingsoft Cloud Holdings Ltd",
        2024,
        1,
    )
    (doc,) = event.documents
    assert (doc.source, doc.key, doc.form, doc.metrics, doc.guidance, doc.flags) == (
        "rss",
        "e1",
        "press_release",
        1,
        1,
        0,
    )
    assert sorted((d.target, d.state) for d in event.deliveries) == [
        ("C-ALL", "failed"),
        ("stdout", "pending"),
    ]


async def test_ping_and_bad_urls(store: Store, tmp_path: object) -> None:
    assert await store.ping() is True
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        await Store.open("mysql://u:secret@localhost/db")
    with pytest.raises(ConfigError, match="not a database URL"):
        await Store.open("not a url")
    with pytest.raises(StoreError, match="cannot open database") as info:
        await Store.open("postgresql://someone:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in str(info.value)
