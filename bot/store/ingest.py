"""Ingest: one document, its event and its outbox rows, written in the caller's single transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Route
from bot.models import Document, Report
from bot.sources.base import FetchedDocument
from bot.store.keys import EventIdentity, adds_information, content_hash, identify, standalone_key
from bot.store.queries import WATCH_PLATFORMS
from bot.store.schema import deliveries, documents, events, insert_ignoring, watchlists
from bot.store.types import DeliveryKind, IngestResult, IngestStatus


async def ingest(
    conn: AsyncConnection,
    fetched: FetchedDocument,
    document: Document,
    report: Report,
    routes: Sequence[Route],
    now: datetime,
    *,
    deliver: bool = True,
) -> IngestResult:
    """Store `document` unless its content is already known; queue it for every target that wants it
    (none when `deliver` is False: a backfill stores history without posting it).

    Rules, in order:
    - same source key and same content hash as the newest stored revision: duplicate, nothing written;
    - same content hash within the same event (same company and period, whatever the source): duplicate;
    - a document naming no company or period: duplicate when the same text is stored anywhere;
    - same source key, changed content: a revision (revision number + 1, `revision_of` the previous copy),
      queued as "revision" for targets that already got the event;
    - otherwise the document joins its event; a target that has not had the event yet gets "new_event",
      one that has gets "event_update" when the report adds figures, guidance or a new kind, else nothing.
    """
    identity = identify(fetched, document, report)
    digest = content_hash(document.text)
    previous = await _newest_revision(conn, fetched.source, fetched.key)
    if previous is not None and previous.content_hash == digest:
        return IngestResult(
            status="duplicate",
            event_id=previous.event_id,
            document_id=previous.id,
            revision=previous.revision,
        )
    if identity.key is None and previous is None:  # no company or period to scope it: same text anywhere
        copy = (
            await conn.execute(
                select(documents.c.id, documents.c.event_id, documents.c.revision)
                .where(documents.c.content_hash == digest)
                .order_by(documents.c.id)
                .limit(1)
            )
        ).first()
        if copy is not None:
            return IngestResult(status="duplicate", event_id=copy.event_id, document_id=copy.id, revision=copy.revision)
    if identity.key is not None:
        event_id = await _event_for(conn, identity, now)
    elif previous is not None:
        event_id = previous.event_id
    else:
        event_id = await _get_or_create_event(conn, standalone_key(fetched.source, fetched.key), identity, now)
    await _lock_event(conn, event_id)

    earlier = (
        await conn.execute(
            select(documents.c.id, documents.c.content_hash, documents.c.revision, documents.c.report)
            .where(documents.c.event_id == event_id)
            .order_by(documents.c.id)
        )
    ).all()
    same = next((row for row in earlier if row.content_hash == digest), None)
    if same is not None:
        return IngestResult(status="duplicate", event_id=event_id, document_id=same.id, revision=same.revision)
    novel = adds_information(report, (Report.model_validate_json(row.report) for row in earlier))
    revision = previous.revision + 1 if previous is not None else 1

    document_id = (
        await conn.execute(
            insert(documents)
            .values(
                event_id=event_id,
                source=fetched.source,
                source_key=fetched.key,
                content_hash=digest,
                text=document.text,
                kind=report.kind,
                url=fetched.url or document.url,
                title=fetched.title or report.title or document.title,
                form=fetched.form,
                ticker=identity.ticker,
                company=identity.company,
                published_at=fetched.published or document.published,
                fetched_at=now,
                revision=revision,
                revision_of=previous.id if previous is not None else None,
                report=report.model_dump_json(),
                metrics=len(report.metrics),
                guidance=len(report.guidance),
                flags=len(report.flags),
            )
            .returning(documents.c.id)
        )
    ).scalar_one()

    queued: list[int] = []
    reached = await _targets_reached(conn, event_id)
    for platform, target in await _targets(conn, identity.ticker, routes) if deliver else []:
        kind: DeliveryKind
        if (platform, target) not in reached:
            kind = "new_event"
        elif previous is not None:
            kind = "revision"
        elif novel:
            kind = "event_update"
        else:
            continue
        queued.append(await _queue(conn, event_id, document_id, platform, target, kind, now))

    await _touch_event(conn, event_id, identity, now)
    status: IngestStatus
    if previous is not None:
        status = "revision"
    elif not earlier:
        status = "new_event"
    else:
        status = "event_update" if novel else "attached"
    return IngestResult(
        status=status, event_id=event_id, document_id=document_id, revision=revision, deliveries=tuple(queued)
    )


@dataclass(frozen=True)
class _Stored:
    id: int
    event_id: int
    content_hash: str
    revision: int


async def _newest_revision(conn: AsyncConnection, source: str, key: str) -> _Stored | None:
    row = (
        await conn.execute(
            select(documents.c.id, documents.c.event_id, documents.c.content_hash, documents.c.revision)
            .where(documents.c.source == source, documents.c.source_key == key)
            .order_by(documents.c.revision.desc(), documents.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _Stored(row.id, row.event_id, row.content_hash, row.revision)


async def _event_for(conn: AsyncConnection, identity: EventIdentity, now: datetime) -> int:
    """The event of a company's fiscal period: found by ticker, else by normalised company name, else new."""
    period = and_(events.c.fiscal_year == identity.fiscal_year, events.c.fiscal_quarter == identity.fiscal_quarter)
    if identity.ticker is not None:
        found = (
            await conn.execute(
                select(events.c.id).where(events.c.ticker == identity.ticker, period).order_by(events.c.id).limit(1)
            )
        ).scalar()
        if found is not None:
            return int(found)
    if identity.company_norm is not None:
        same_company = [events.c.company_norm == identity.company_norm, period]
        if identity.ticker is not None:  # an event known only by company name becomes this ticker's
            same_company.append(events.c.ticker.is_(None))
        found = (await conn.execute(select(events.c.id).where(*same_company).order_by(events.c.id).limit(1))).scalar()
        if found is not None:
            return int(found)
    assert identity.key is not None
    return await _get_or_create_event(conn, identity.key, identity, now)


async def _get_or_create_event(conn: AsyncConnection, key: str, identity: EventIdentity, now: datetime) -> int:
    await conn.execute(
        insert_ignoring(conn.dialect.name, events, ["key"]).values(
            key=key,
            ticker=identity.ticker,
            company=identity.company,
            company_norm=identity.company_norm,
            fiscal_year=identity.fiscal_year if identity.key is not None else None,
            fiscal_quarter=identity.fiscal_quarter if identity.key is not None else None,
            created_at=now,
            updated_at=now,
        )
    )
    return int((await conn.execute(select(events.c.id).where(events.c.key == key))).scalar_one())


async def _lock_event(conn: AsyncConnection, event_id: int) -> None:
    """Serialise ingests of one event across replicas (SQLite transactions already hold the write lock)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(events.c.id).where(events.c.id == event_id).with_for_update())


async def _targets(conn: AsyncConnection, ticker: str | None, routes: Sequence[Route]) -> list[tuple[str, str]]:
    """(platform, target) pairs that want `ticker`: configured routes first, then Slack channels watching it
    (watchlist rows of other platforms, e.g. Teams rows from before it was left out, are not delivered to)."""
    pairs = [(route.platform, route.target) for route in routes if route.wants(ticker)]
    if ticker is not None:
        rows = await conn.execute(
            select(watchlists.c.platform, watchlists.c.channel)
            .where(watchlists.c.ticker == ticker, watchlists.c.platform.in_(WATCH_PLATFORMS))
            .order_by(watchlists.c.id)
        )
        pairs.extend((row.platform, row.channel) for row in rows)
    return list(dict.fromkeys(pairs))


async def _targets_reached(conn: AsyncConnection, event_id: int) -> set[tuple[str, str]]:
    rows = await conn.execute(
        select(deliveries.c.platform, deliveries.c.target).where(deliveries.c.event_id == event_id).distinct()
    )
    return {(row.platform, row.target) for row in rows}


async def _queue(
    conn: AsyncConnection,
    event_id: int,
    document_id: int,
    platform: str,
    target: str,
    kind: str,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(deliveries)
        .values(
            event_id=event_id,
            document_id=document_id,
            platform=platform,
            target=target,
            kind=kind,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(deliveries.c.id)
    )
    return int(result.scalar_one())


async def _touch_event(conn: AsyncConnection, event_id: int, identity: EventIdentity, now: datetime) -> None:
    """Mark the event updated and fill in the ticker or company name it did not know yet."""
    await conn.execute(update(events).where(events.c.id == event_id).values(updated_at=now))
    if identity.ticker is not None:
        await conn.execute(
            update(events).where(events.c.id == event_id, events.c.ticker.is_(None)).values(ticker=identity.ticker)
        )
    if identity.company is not None:
        await conn.execute(
            update(events)
            .where(events.c.id == event_id, events.c.company.is_(None))
            .values(company=identity.company, company_norm=identity.company_norm)
        )
