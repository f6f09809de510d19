"""Per-source poll state, health and leases (one replica polls a source at a time)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BindParameter, Row, Select, Update, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sources.base import SourceState
from bot.store.schema import insert_ignoring, source_state
from bot.store.types import Health, PollLease, SourceStatus

log = logging.getLogger(__name__)

FAILING_AFTER = 5  # consecutive failures after which a source shows as "failing" rather than "backing_off"
ERROR_LIMIT = 500

# The statements of every poll, built once (parameters bound at execution): building SQLAlchemy statements
# costs more than running these one-row statements on SQLite.
_c = source_state.c
_ROW: Select[Any] = select(source_state).where(_c.name == bindparam("p_name"))
_LEASE_FREE = or_(
    _c.lease_owner.is_(None),
    _c.lease_expires_at.is_(None),
    _c.lease_expires_at < bindparam("p_now"),
    _c.lease_owner == bindparam("p_owner"),
)
_TAKE: Update = (
    update(source_state)
    .where(_c.name == bindparam("p_name"), _LEASE_FREE)
    .values(lease_owner=bindparam("p_owner"), lease_expires_at=bindparam("p_until"))
)
_NAMES: BindParameter[Any] = bindparam("p_names", expanding=True)
_ROWS: Select[Any] = select(source_state).where(_c.name.in_(_NAMES))
_LOCK: Select[Any] = select(_c.name).where(_c.name.in_(_NAMES)).order_by(_c.name).with_for_update()
_TAKE_MANY = (
    update(source_state)
    .where(_c.name.in_(_NAMES), _LEASE_FREE)
    .values(lease_owner=bindparam("p_owner"), lease_expires_at=bindparam("p_until"))
    .returning(*source_state.c)
)
_TAKE_MANY_IF_DUE = _TAKE_MANY.where(or_(_c.next_poll_at.is_(None), _c.next_poll_at <= bindparam("p_due_by")))
_SAVE_STATE: Update = update(source_state).where(_c.name == bindparam("p_name")).values(state=bindparam("p_state"))
_RELEASE: Update = (
    update(source_state)
    .where(_c.name == bindparam("p_name"), _c.lease_owner == bindparam("p_owner"))
    .values(lease_owner=None, lease_expires_at=None)
)
_RELEASE_MANY: Update = (
    update(source_state)
    .where(_c.name.in_(_NAMES), _c.lease_owner == bindparam("p_owner"))
    .values(lease_owner=None, lease_expires_at=None)
)


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


def _state(name: str, raw: str) -> SourceState | None:
    """The stored state parsed; None (logged) when it cannot be read."""
    try:
        return SourceState.model_validate_json(raw)
    except ValidationError as exc:
        log.warning(
            "source %s: stored poll state unreadable (%s errors); starting afresh",
            name,
            exc.error_count(),
            extra={"source": name},
        )
        return None


def _status(row: Row[Any]) -> SourceStatus:
    return SourceStatus(
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


async def load_state(conn: AsyncConnection, name: str) -> SourceState:
    """The state the source persisted last; a fresh state when none (or an unreadable one) is stored."""
    row = (await conn.execute(_ROW, {"p_name": name})).first()
    return (_state(name, row.state) if row is not None else None) or SourceState()


@dataclass(frozen=True)
class BeginPoll:
    """A request to take `name`'s lease for `owner` (see `begin_polls`)."""

    name: str
    owner: str
    ttl: float
    due_by: datetime | None  # None: whether due or not (a forced poll)


@dataclass(frozen=True)
class FinishPoll:
    """A poll's record, ending `owner`'s lease on `name` (see `finish_polls`)."""

    name: str
    owner: str
    state: SourceState | None
    error: str | None
    next_poll_at: datetime


async def lock_sources(conn: AsyncConnection, names: Sequence[str]) -> None:
    """PostgreSQL: lock the rows of `names` in name order, so transactions that each write several sources
    never wait on one another in a cycle. SQLite write transactions hold the whole database already."""
    if conn.dialect.name == "postgresql" and names:
        await conn.execute(_LOCK, {"p_names": sorted(set(names))})


async def add_sources(conn: AsyncConnection, names: Sequence[str], now: datetime) -> None:
    """Rows for sources never polled before (existing rows are left alone), in name order."""
    fresh = SourceState().model_dump_json()
    rows = [{"name": n, "state": fresh, "health": "ok", "failures": 0, "updated_at": now} for n in sorted(set(names))]
    if rows:
        await conn.execute(insert_ignoring(conn.dialect.name, source_state, ["name"]), rows)


async def begin_polls(conn: AsyncConnection, requests: Sequence[BeginPoll], now: datetime) -> list[PollLease | None]:
    """Take each requested lease unless another replica holds it or (with `due_by`) the source is due only
    later, and read the status and state under it: one UPDATE ... RETURNING per owner, ttl and due time.
    None for a source that has no row yet (`add_sources`, then ask again)."""
    groups: dict[tuple[str, float, datetime | None], list[str]] = {}
    for request in requests:
        groups.setdefault((request.owner, request.ttl, request.due_by), []).append(request.name)
    taken: dict[tuple[str, float, datetime | None], dict[str, Row[Any]]] = {}
    for (owner, ttl, due_by), names in groups.items():
        params: dict[str, Any] = {"p_names": sorted(set(names)), "p_owner": owner, "p_now": now}
        params["p_until"] = now + timedelta(seconds=ttl)
        if due_by is not None:
            params["p_due_by"] = due_by
        take = _TAKE_MANY if due_by is None else _TAKE_MANY_IF_DUE
        taken[owner, ttl, due_by] = {row.name: row for row in await conn.execute(take, params)}
    missed = sorted({r.name for r in requests if r.name not in taken[r.owner, r.ttl, r.due_by]})
    held = {row.name: row for row in await conn.execute(_ROWS, {"p_names": missed})} if missed else {}
    leases: list[PollLease | None] = []
    for request in requests:
        row = taken[request.owner, request.ttl, request.due_by].get(request.name)
        if row is None:
            other = held.get(request.name)
            leases.append(None if other is None else PollLease(status=_status(other), state=None))
            continue
        state = _state(request.name, row.state)
        if state is None:  # saved afresh at once, so the poll's state compares with what is stored
            state = SourceState()
            await conn.execute(_SAVE_STATE, {"p_name": request.name, "p_state": state.model_dump_json()})
        leases.append(PollLease(status=_status(row), state=state))
    return leases


@functools.cache
def _record(failed: bool, with_state: bool, release: bool) -> Update:
    """The one UPDATE recording a poll, built once per shape. A failure adds one to the stored count (read
    by the UPDATE itself); `release` ends the lease of owner `p_owner` in the same statement."""
    values: dict[str, Any] = {
        "last_attempt_at": bindparam("p_now"),
        "next_poll_at": bindparam("p_next"),
        "updated_at": bindparam("p_now"),
    }
    if failed:
        failures = _c.failures + 1
        values.update(
            failures=failures,
            health=case((failures >= FAILING_AFTER, "failing"), else_="backing_off"),
            last_error=bindparam("p_error"),
        )
    else:
        values.update(health="ok", failures=0, last_success_at=bindparam("p_now"), last_error=None)
    if with_state:
        values["state"] = bindparam("p_state")
    if release:
        held = _c.lease_owner == bindparam("p_owner")
        values.update(
            lease_owner=case((held, None), else_=_c.lease_owner),
            lease_expires_at=case((held, None), else_=_c.lease_expires_at),
        )
    return update(source_state).where(_c.name == bindparam("p_name")).values(**values)


async def record_poll(
    conn: AsyncConnection,
    name: str,
    *,
    state: SourceState | None,
    error: str | None,
    next_poll_at: datetime,
    now: datetime,
) -> None:
    """Record one poll in one UPDATE: success resets the failure count, an error adds one; `state` is saved
    when given."""
    params: dict[str, Any] = {"p_name": name, "p_now": now, "p_next": next_poll_at}
    if error is not None:
        params["p_error"] = one_line(error)
    if state is not None:
        params["p_state"] = state.model_dump_json()
    record = _record(error is not None, state is not None, False)
    if (await conn.execute(record, params)).rowcount == 0:
        await _ensure(conn, name, now)
        await conn.execute(record, params)


async def finish_polls(conn: AsyncConnection, requests: Sequence[FinishPoll], now: datetime) -> None:
    """Record each poll and end its owner's lease: one executemany per shape of record, in name order."""
    shapes: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
    for r in sorted(requests, key=lambda r: r.name):
        params: dict[str, Any] = {"p_name": r.name, "p_owner": r.owner, "p_now": now, "p_next": r.next_poll_at}
        if r.error is not None:
            params["p_error"] = one_line(r.error)
        if r.state is not None:
            params["p_state"] = r.state.model_dump_json()
        shapes.setdefault((r.error is not None, r.state is not None), []).append(params)
    for (failed, with_state), rows in shapes.items():
        await conn.execute(_record(failed, with_state, True), rows)


async def source_status(conn: AsyncConnection, name: str | None = None) -> list[SourceStatus]:
    """Every source's status (or one source's), by name."""
    if name is not None:
        return [_status(row) for row in await conn.execute(_ROW, {"p_name": name})]
    return [_status(row) for row in await conn.execute(select(source_state).order_by(_c.name))]


async def acquire_lease(conn: AsyncConnection, name: str, owner: str, ttl: float, now: datetime) -> bool:
    """Take (or extend) the lease in one atomic UPDATE: free, expired, or already ours."""
    await _ensure(conn, name, now)
    params = {"p_name": name, "p_owner": owner, "p_now": now, "p_until": now + timedelta(seconds=ttl)}
    return (await conn.execute(_TAKE, params)).rowcount == 1


async def release_lease(conn: AsyncConnection, name: str, owner: str) -> None:
    await conn.execute(_RELEASE, {"p_name": name, "p_owner": owner})


async def release_leases(conn: AsyncConnection, names: Sequence[str], owner: str) -> None:
    """End `owner`'s leases on `names` in one UPDATE (rows locked in name order on PostgreSQL)."""
    await lock_sources(conn, names)
    await conn.execute(_RELEASE_MANY, {"p_names": sorted(set(names)), "p_owner": owner})
