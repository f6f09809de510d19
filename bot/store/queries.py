"""Read side of the store: stored events, the best report per period, known companies, channel watchlists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Row, Select, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import InputError
from bot.models import Report
from bot.store.keys import normalise_company, normalise_ticker, report_rank, require_ticker
from bot.store.schema import deliveries, documents, events, insert_ignoring, watchlists
from bot.store.types import DeliverySummary, DocumentSummary, EventSummary

# Platforms whose channels keep watchlists. Teams channels get digests through configured webhook routes only
# (a row keyed by a Teams channel id would queue deliveries no webhook can carry).
WATCH_PLATFORMS = ("slack",)


async def event_summaries(conn: AsyncConnection, limit: int) -> list[EventSummary]:
    """The newest events (by last change) with their documents and outbox rows."""
    rows = (
        await conn.execute(select(events).order_by(events.c.updated_at.desc(), events.c.id.desc()).limit(limit))
    ).all()
    ids = [row.id for row in rows]
    docs: dict[int, list[DocumentSummary]] = {i: [] for i in ids}
    for d in await conn.execute(select(documents).where(documents.c.event_id.in_(ids)).order_by(documents.c.id)):
        docs[d.event_id].append(
            DocumentSummary(
                id=d.id,
                source=d.source,
                key=d.source_key,
                kind=d.kind,
                form=d.form,
                url=d.url,
                title=d.title,
                fetched_at=d.fetched_at,
                revision=d.revision,
                revision_of=d.revision_of,
                metrics=d.metrics,
                guidance=d.guidance,
                flags=d.flags,
            )
        )
    outbox: dict[int, list[DeliverySummary]] = {i: [] for i in ids}
    for r in await conn.execute(select(deliveries).where(deliveries.c.event_id.in_(ids)).order_by(deliveries.c.id)):
        outbox[r.event_id].append(
            DeliverySummary(
                id=r.id,
                document_id=r.document_id,
                platform=r.platform,
                target=r.target,
                kind=r.kind,
                state=r.state,
                attempts=r.attempts,
                last_error=r.last_error,
                external_id=r.external_id,
            )
        )
    return [
        EventSummary(
            id=row.id,
            key=row.key,
            ticker=row.ticker,
            company=row.company,
            fiscal_year=row.fiscal_year,
            fiscal_quarter=row.fiscal_quarter,
            created_at=row.created_at,
            updated_at=row.updated_at,
            documents=tuple(docs[row.id]),
            deliveries=tuple(outbox[row.id]),
        )
        for row in rows
    ]


# The reads behind chat answers, built once (parameters bound at execution).
_EVENT_IDS: BindParameter[Any] = bindparam("p_events", expanding=True)
_REPORT_ROWS = (
    documents.c.id,
    documents.c.event_id,
    documents.c.revision_of,
    documents.c.fetched_at,
    documents.c.report,
)
_NEWEST_EVENT = (
    select(events.c.id)
    .where(events.c.ticker == bindparam("p_ticker"))
    .order_by(
        events.c.fiscal_year.desc().nulls_last(),
        events.c.fiscal_quarter.desc().nulls_last(),
        events.c.created_at.desc(),
        events.c.id.desc(),
    )
    .limit(1)
    .scalar_subquery()
)
_LATEST_REPORTS: Select[Any] = select(*_REPORT_ROWS).where(documents.c.event_id == _NEWEST_EVENT)
_PERIODS = (
    select(events.c.id)
    .where(
        events.c.ticker == bindparam("p_ticker"),
        events.c.fiscal_year.is_not(None),
        events.c.fiscal_quarter.is_not(None),
    )
    .order_by(events.c.fiscal_year.desc(), events.c.fiscal_quarter.desc())
    .limit(bindparam("p_limit"))
)
_PERIOD_REPORTS: Select[Any] = (
    select(*_REPORT_ROWS, events.c.fiscal_year, events.c.fiscal_quarter)
    .join(events, events.c.id == documents.c.event_id)
    .where(documents.c.event_id.in_(_PERIODS))
)
_REPORTS_OF: Select[Any] = select(*_REPORT_ROWS).where(documents.c.event_id.in_(_EVENT_IDS))


def _best(rows: Sequence[Row[Any]]) -> dict[int, Report]:
    """Each event's best current report among its document rows (superseded revisions left out; order of
    `keys.report_rank`)."""
    superseded = {row.revision_of for row in rows if row.revision_of is not None}
    best: dict[int, tuple[tuple[int, int, int, datetime], Report]] = {}
    for row in rows:
        if row.id in superseded:
            continue
        report = Report.model_validate_json(row.report)
        rank = report_rank(report, row.fetched_at)
        if row.event_id not in best or rank > best[row.event_id][0]:
            best[row.event_id] = (rank, report)
    return {event_id: report for event_id, (_, report) in best.items()}


async def best_reports(conn: AsyncConnection, event_ids: Sequence[int]) -> dict[int, Report]:
    """Each event's best current report; events without a document are left out."""
    if not event_ids:
        return {}
    return _best((await conn.execute(_REPORTS_OF, {"p_events": list(event_ids)})).all())


async def latest_report(conn: AsyncConnection, ticker: str) -> Report | None:
    """The best report of the ticker's newest event: the latest fiscal period, undated events last."""
    symbol = normalise_ticker(ticker)
    if symbol is None:
        return None
    best = _best((await conn.execute(_LATEST_REPORTS, {"p_ticker": symbol})).all())
    return next(iter(best.values()), None)


async def period_reports(conn: AsyncConnection, ticker: str, limit: int) -> list[Report]:
    """One best report per fiscal period of the ticker, newest period first."""
    symbol = normalise_ticker(ticker)
    if symbol is None or limit < 1:
        return []
    rows = (await conn.execute(_PERIOD_REPORTS, {"p_ticker": symbol, "p_limit": limit})).all()
    periods = {row.event_id: (row.fiscal_year, row.fiscal_quarter) for row in rows}
    best = _best(rows)
    return [best[i] for i in sorted(best, key=lambda i: periods[i], reverse=True)]


async def companies(conn: AsyncConnection) -> list[tuple[str | None, str | None]]:
    """(ticker, company) pairs known from stored events: one per ticker (latest name), then names alone.

    The database hands over each distinct (ticker, company) pair once, with when it was last seen."""
    last_seen = func.max(events.c.updated_at)
    rows = await conn.execute(
        select(events.c.ticker, events.c.company)
        .where((events.c.ticker.is_not(None)) | (events.c.company.is_not(None)))
        .group_by(events.c.ticker, events.c.company)
        .order_by(last_seen, func.max(events.c.id))
    )
    by_ticker: dict[str, str | None] = {}
    by_name: dict[str, str] = {}
    for row in rows:  # oldest first: a later name wins
        if row.ticker is not None:
            by_ticker[row.ticker] = row.company or by_ticker.get(row.ticker)
        elif row.company is not None:
            by_name[normalise_company(row.company) or row.company] = row.company
    named = {normalise_company(name) for name in by_ticker.values() if name is not None}
    pairs: list[tuple[str | None, str | None]] = [(t, by_ticker[t]) for t in sorted(by_ticker)]
    pairs.extend((None, by_name[n]) for n in sorted(by_name) if n not in named)
    return pairs


def _watch_key(platform: str, channel: str, ticker: str) -> tuple[str, str, str]:
    if platform not in WATCH_PLATFORMS:
        if platform == "teams":
            raise InputError("platform 'teams' has no channel watchlists: Teams channels get digests through routes")
        raise InputError(f"platform {platform!r} has no channel watchlists (use slack)")
    if not channel.strip():
        raise InputError("channel is empty")
    return platform, channel.strip(), require_ticker(ticker)


async def watch(conn: AsyncConnection, platform: str, channel: str, ticker: str, now: datetime) -> bool:
    """Add a ticker to a channel's watchlist; False when it was already there."""
    platform, channel, symbol = _watch_key(platform, channel, ticker)
    result = await conn.execute(
        insert_ignoring(conn.dialect.name, watchlists, ["platform", "channel", "ticker"]).values(
            platform=platform, channel=channel, ticker=symbol, created_at=now
        )
    )
    return result.rowcount == 1


async def unwatch(conn: AsyncConnection, platform: str, channel: str, ticker: str) -> bool:
    """Remove a ticker from a channel's watchlist; False when it was not there."""
    platform, channel, symbol = _watch_key(platform, channel, ticker)
    result = await conn.execute(
        delete(watchlists).where(
            watchlists.c.platform == platform, watchlists.c.channel == channel, watchlists.c.ticker == symbol
        )
    )
    return result.rowcount == 1


async def watchlist(conn: AsyncConnection, platform: str, channel: str) -> list[str]:
    rows = await conn.execute(
        select(watchlists.c.ticker)
        .where(watchlists.c.platform == platform, watchlists.c.channel == channel.strip())
        .order_by(watchlists.c.ticker)
    )
    return list(rows.scalars())
