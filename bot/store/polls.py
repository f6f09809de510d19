"""Per-source poll state, health and leases (one replica polls a source at a time)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sources.base import SourceState
from bot.store.schema import insert_ignoring, source_state
from bot.store.types import Health, SourceStatus

log = logging.getLogger(__name__)

FAILING_AFTER = 5  # consecutive failures after which a source shows as "failing" rather than "backing_off"
ERROR_LIMIT = 500


def one_line(message: str, limit: int = ERROR_LIMIT) -> str:
    """An error message fit for a status column: first line only, bounded length."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return first if len(first) <= limit else first[: limit - 1] + "…"


def health_after(failures: int) -> Health:
    if failures == 0:
        return "ok"
    return "failing" if failures >= FAILING_AFTER else "backing_off"


async def _ensure(conn: AsyncConnection, name: str, now: datetime) -> None:
    await conn.execute(
        insert_ignoring(conn.dialect.name, source_state, ["name"]).values(
            name=name, state=SourceState().model_dump_json(), health="ok", failures=0, updated_at=now
        )
    )


async def load_state(conn: AsyncConnection, name: str) -> SourceState:
    """The state the source persisted last; a fresh state when none (or an unreadable one) is stored."""
    raw = (await conn.execute(select(source_state.c.state).where(source_state.c.name == name))).scalar()
    if raw is None:
        return SourceState()
    try:
        return SourceState.model_validate_json(raw)
    except ValidationError as exc:
        log.warning(
            "source %s: stored poll state unreadable (%s errors); starting afresh",
            name,
            exc.error_count(),
            extra={"source": name},
        )
        return SourceState()


async def record_poll(
    conn: AsyncConnection,
    name: str,
    *,
    state: SourceState | None,
    error: str | None,
    next_poll_at: datetime,
    now: datetime,
) -> None:
    """Record one poll: success resets the failure count, an error adds one; `state` is saved when given."""
    await _ensure(conn, name, now)
    query = select(source_state.c.failures).where(source_state.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    failures = int((await conn.execute(query)).scalar_one())
    values: dict[str, object] = {"last_attempt_at": now, "next_poll_at": next_poll_at, "updated_at": now}
    if error is None:
        values.update(health="ok", failures=0, last_success_at=now, last_error=None)
    else:
        failures += 1
        values.update(health=health_after(failures), failures=failures, last_error=one_line(error))
    if state is not None:
        values["state"] = state.model_dump_json()
    await conn.execute(update(source_state).where(source_state.c.name == name).values(**values))


async def source_status(conn: AsyncConnection, name: str | None = None) -> list[SourceStatus]:
    """Every source's status (or one source's), by name."""
    query = select(source_state).order_by(source_state.c.name)
    if name is not None:
        query = query.where(source_state.c.name == name)
    return [
        SourceStatus(
            name=row.name,
            health=row.health,
            failures=row.failures,
            last_success_at=row.last_success_at,
            last_attempt_at=row.last_attempt_at,
            last_error=row.last_error,
            next_poll_at=row.next_poll_at,
            lease_owner=row.lease_owner,
            lease_expires_at=row.lease_expires_at,
        )
        for row in await conn.execute(query)
    ]


async def acquire_lease(conn: AsyncConnection, name: str, owner: str, ttl: float, now: datetime) -> bool:
    """Take (or extend) the lease in one atomic UPDATE: free, expired, or already ours."""
    await _ensure(conn, name, now)
    result = await conn.execute(
        update(source_state)
        .where(
            source_state.c.name == name,
            or_(
                source_state.c.lease_owner.is_(None),
                source_state.c.lease_expires_at.is_(None),
                source_state.c.lease_expires_at < now,
                source_state.c.lease_owner == owner,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl))
    )
    return result.rowcount == 1


async def release_lease(conn: AsyncConnection, name: str, owner: str) -> None:
    await conn.execute(
        update(source_state)
        .where(source_state.c.name == name, source_state.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )
