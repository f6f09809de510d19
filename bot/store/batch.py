"""Group commit of poll bookkeeping: concurrent polls take their leases and record themselves in shared
transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StoreError
from bot.sources.base import SourceState
from bot.store import polls
from bot.store.polls import BeginPoll, FinishPoll
from bot.store.schema import utcnow
from bot.store.types import PollLease

Transaction = Callable[[str], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True)
class _Waiting:
    request: BeginPoll | FinishPoll
    done: asyncio.Future[Any]


class PollBook:
    """Queues each poll's two writes (take the lease; record the poll and give the lease back) and commits
    everything queued in one transaction, while the next batch queues. One poll alone waits for no one; a
    thousand polls at once cost a few transactions instead of two thousand (each costs about a millisecond
    of event-loop time through SQLAlchemy's async drivers, far more than the one-row statements inside).
    A failed transaction fails every poll of its batch with the StoreError."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction
        self._queue: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

    async def begin(self, name: str, owner: str, ttl: float, due_by: datetime | None) -> PollLease:
        lease: PollLease = await self._submit(BeginPoll(name, owner, ttl, due_by))
        return lease

    async def finish(
        self, name: str, owner: str, *, state: SourceState | None, error: str | None, next_poll_at: datetime
    ) -> None:
        await self._submit(FinishPoll(name, owner, state, error, next_poll_at))

    async def close(self) -> None:
        """Wait for the batch being written, if any."""
        if self._flusher is not None:
            await asyncio.wait([self._flusher])

    async def _submit(self, request: BeginPoll | FinishPoll) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(request, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="store: poll bookkeeping")
        return await done

    async def _flush(self) -> None:
        while self._queue:
            batch = _waiting(self._queue)  # a cancelled poll's request is dropped
            self._queue = []
            if not batch:
                continue
            try:
                results = await self._write([w.request for w in batch])
            except StoreError as exc:  # every poll of the batch learns it
                for w in _waiting(batch):
                    w.done.set_exception(StoreError(str(exc)))
                continue
            except Exception as exc:  # a bug: raised in every poll of the batch
                for w in _waiting(batch):
                    w.done.set_exception(exc)
                continue
            except BaseException:  # this task cancelled (the loop closing): no poll waits forever
                for w in _waiting([*batch, *self._queue]):
                    w.done.set_exception(StoreError("store: poll bookkeeping cancelled"))
                self._queue = []
                raise
            for w, result in zip(batch, results, strict=True):
                if not w.done.done():
                    w.done.set_result(result)

    async def _write(self, requests: list[BeginPoll | FinishPoll]) -> list[PollLease | None]:
        """One transaction for the batch: records first (their leases end), then the lease takes. A source's
        first poll adds its row in a transaction of its own, then takes the lease in another."""
        begins = [r for r in requests if isinstance(r, BeginPoll)]
        finishes = [r for r in requests if isinstance(r, FinishPoll)]
        async with self._transaction("poll bookkeeping") as conn:
            now = utcnow()
            await polls.lock_sources(conn, [r.name for r in requests])
            await polls.finish_polls(conn, finishes, now)
            leases = await polls.begin_polls(conn, begins, now)
        new = [b for b, lease in zip(begins, leases, strict=True) if lease is None]
        if new:
            async with self._transaction("add sources") as conn:
                await polls.add_sources(conn, [r.name for r in new], utcnow())
            async with self._transaction("poll bookkeeping") as conn:
                await polls.lock_sources(conn, [r.name for r in new])
                retried = iter(await polls.begin_polls(conn, new, utcnow()))
            leases = [lease if lease is not None else next(retried) for lease in leases]
        if None in leases:
            raise StoreError("store: a source's row is missing right after it was added")
        taken = iter(leases)
        return [next(taken) if isinstance(r, BeginPoll) else None for r in requests]


def _waiting(requests: list[_Waiting]) -> list[_Waiting]:
    """The requests whose poll still waits for an answer."""
    return [w for w in requests if not w.done.done()]
