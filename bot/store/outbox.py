"""The delivery outbox: due rows in order per event and target, claims across replicas, sent and failed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StoreError
from bot.models import Report
from bot.store.polls import one_line
from bot.store.schema import deliveries, documents, events
from bot.store.types import DeliveryItem

MAX_ATTEMPTS = 8  # a row failing this many times is given up (state "failed")
RETRY_BASE = 30.0  # seconds before the first retry when the sender names no time; doubles per attempt
RETRY_CAP = 3600.0


def retry_delay(attempts: int) -> float:
    """Seconds to wait before retry number `attempts` (1-based) when the platform did not say."""
    return float(min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1)))


def _item_query() -> Select[Any]:
    parent = deliveries.alias("parent")
    thread = (
        select(parent.c.external_id)
        .where(
            parent.c.event_id == deliveries.c.event_id,
            parent.c.platform == deliveries.c.platform,
            parent.c.target == deliveries.c.target,
            parent.c.state == "sent",
            parent.c.external_id.is_not(None),
            parent.c.id < deliveries.c.id,
        )
        .order_by(parent.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            deliveries,
            thread.label("thread_id"),
            documents.c.report,
            documents.c.revision,
            documents.c.source,
            events.c.ticker,
            events.c.company,
        )
        .join(documents, documents.c.id == deliveries.c.document_id)
        .join(events, events.c.id == deliveries.c.event_id)
    )


def _item(row: Row[Any]) -> DeliveryItem:
    return DeliveryItem(
        id=row.id,
        event_id=row.event_id,
        document_id=row.document_id,
        kind=row.kind,
        platform=row.platform,
        target=row.target,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        external_id=row.external_id,
        thread_id=row.thread_id,
        created_at=row.created_at,
        sent_at=row.sent_at,
        ticker=row.ticker,
        company=row.company,
        revision=row.revision,
        source=row.source,
        report=Report.model_validate_json(row.report),
    )


async def pending(conn: AsyncConnection, platform: str | None, limit: int, now: datetime) -> list[DeliveryItem]:
    """Due, unclaimed pending rows, oldest first; a row waits while an earlier row of its event and target
    is still pending, so a thread reply never goes out before the post it replies to."""
    earlier = deliveries.alias("earlier")
    blocked = exists().where(
        earlier.c.event_id == deliveries.c.event_id,
        earlier.c.platform == deliveries.c.platform,
        earlier.c.target == deliveries.c.target,
        earlier.c.id < deliveries.c.id,
        earlier.c.state == "pending",
    )
    query = (
        _item_query()
        .where(
            deliveries.c.state == "pending",
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.claim_expires_at.is_(None), deliveries.c.claim_expires_at < now),
            ~blocked,
        )
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    if platform is not None:
        query = query.where(deliveries.c.platform == platform)
    return [_item(row) for row in await conn.execute(query)]


async def listing(conn: AsyncConnection, state: str | None, limit: int) -> list[DeliveryItem]:
    """Outbox rows, newest first, optionally of one state."""
    query = _item_query().order_by(deliveries.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    return [_item(row) for row in await conn.execute(query)]


async def claim(conn: AsyncConnection, delivery_id: int, owner: str, ttl: float, now: datetime) -> bool:
    """Claim a pending row for `ttl` seconds in one atomic UPDATE; False when done or claimed by another."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state == "pending",
            or_(
                deliveries.c.claim_owner.is_(None),
                deliveries.c.claim_expires_at.is_(None),
                deliveries.c.claim_expires_at < now,
                deliveries.c.claim_owner == owner,
            ),
        )
        .values(claim_owner=owner, claim_expires_at=now + timedelta(seconds=ttl))
    )
    return result.rowcount == 1


async def mark_sent(conn: AsyncConnection, delivery_id: int, external_id: str | None, now: datetime) -> None:
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(
            state="sent",
            sent_at=now,
            external_id=external_id,
            attempts=deliveries.c.attempts + 1,
            last_error=None,
            claim_owner=None,
            claim_expires_at=None,
        )
    )
    if result.rowcount != 1:
        raise StoreError(f"delivery {delivery_id} does not exist")


async def mark_failed(
    conn: AsyncConnection,
    delivery_id: int,
    error: str,
    *,
    permanent: bool,
    retry_at: datetime | None,
    now: datetime,
) -> None:
    """Record a failed attempt: permanent errors (or the MAX_ATTEMPTS-th failure) end the row as "failed";
    others wait until `retry_at` (or an exponential default) and stay pending."""
    attempts = (await conn.execute(select(deliveries.c.attempts).where(deliveries.c.id == delivery_id))).scalar()
    if attempts is None:
        raise StoreError(f"delivery {delivery_id} does not exist")
    attempts = int(attempts) + 1
    message = one_line(error)
    values: dict[str, object] = {"attempts": attempts, "claim_owner": None, "claim_expires_at": None}
    if permanent:
        values.update(state="failed", last_error=message)
    elif attempts >= MAX_ATTEMPTS:
        values.update(state="failed", last_error=one_line(f"gave up after {attempts} attempts: {message}"))
    else:
        due = retry_at if retry_at is not None else now + timedelta(seconds=retry_delay(attempts))
        values.update(state="pending", last_error=message, next_attempt_at=due)
    await conn.execute(
        update(deliveries).where(and_(deliveries.c.id == delivery_id, deliveries.c.state != "sent")).values(**values)
    )
