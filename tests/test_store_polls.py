"""Poll bookkeeping on SQLite and PostgreSQL: a poll's lease and record, shared transactions for concurrent
polls (group commit), replicas taking turns, and reads that never wait for writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.errors import StoreError
from bot.sources.base import SourceState, Validator
from bot.store import Store
from bot.store import polls as polls_module

STATE = SourceState(validators={"https://x.test/feed": Validator(etag='"v1"')}, seen=("a",))


def soon(seconds: float = 300) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_a_poll_takes_the_lease_reads_the_state_and_gives_the_lease_back_with_its_record(
    store: Store,
) -> None:
    first = await store.begin_poll("rss", "me", ttl=60)
    assert first.leased and first.state == SourceState()  # a source's first poll starts afresh
    assert (first.status.lease_owner, first.status.failures) == ("me", 0)
    held = await store.begin_poll("rss", "other", ttl=60)
    assert not held.leased and held.status.lease_owner == "me"

    await store.finish_poll("rss", "me", state=STATE, error=None, next_poll_at=soon())
    status = await store.status_of("rss")
    assert status is not None and (status.lease_owner, status.health) == (None, "ok")
    assert status.last_success_at is not None and await store.load_state("rss") == STATE

    second = await store.begin_poll("rss", "other", ttl=60)
    assert second.leased and second.state == STATE
    await store.finish_poll("rss", "other", state=None, error="HTTP 503\ndetail", next_poll_at=soon())
    status = await store.status_of("rss")
    assert status is not None
    assert (status.lease_owner, status.health, status.failures, status.last_error) == (
        None,
        "backing_off",
        1,
        "HTTP 503",
    )
    assert await store.load_state("rss") == STATE  # a failed poll keeps the last good state


async def test_an_unreadable_stored_state_is_replaced_by_a_fresh_one_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.record_poll("rss", state=STATE, error=None, next_poll_at=soon())
    async with store.engine.begin() as conn:  # e.g. written by a future release with another shape
        await conn.execute(text("""UPDATE source_state SET state = '{"seen": 5}' WHERE name = 'rss'"""))
    lease = await store.begin_poll("rss", "me", ttl=60)
    assert lease.leased and lease.state == SourceState()
    warned = [r for r in caplog.records if "stored poll state unreadable" in r.getMessage()]
    assert len(warned) == 1 and warned[0].__dict__["source"] == "rss"
    await store.finish_poll("rss", "me", state=None, error=None, next_poll_at=soon())
    assert await store.load_state("rss") == SourceState()  # the fresh state is stored: no warning next time
    assert len([r for r in caplog.records if "stored poll state unreadable" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("next_poll_in", "due_by_in", "leased"),
    [
        (None, 0, True),  # never polled
        (-5, 0, True),  # overdue
        (30, 0, False),  # another replica just polled it
        (30, 31, True),  # due within the caller's tolerance
        (30, None, True),  # forced: due or not
    ],
)
async def test_a_lease_is_taken_only_when_the_source_is_due(
    store: Store, next_poll_in: float | None, due_by_in: float | None, leased: bool
) -> None:
    if next_poll_in is not None:
        await store.record_poll("rss", state=None, error=None, next_poll_at=soon(next_poll_in))
    due_by = None if due_by_in is None else soon(due_by_in)
    lease = await store.begin_poll("rss", "me", ttl=60, due_by=due_by)
    assert lease.leased is leased
    assert lease.status.lease_owner == ("me" if leased else None)


async def test_finishing_ends_only_the_callers_own_lease(store: Store) -> None:
    assert (await store.begin_poll("rss", "me", ttl=0.2)).leased
    await asyncio.sleep(0.4)
    assert (await store.begin_poll("rss", "other", ttl=60)).leased  # mine expired; another replica took over
    await store.finish_poll("rss", "me", state=None, error=None, next_poll_at=soon())  # my late record
    status = await store.status_of("rss")
    assert status is not None and status.lease_owner == "other"


async def test_a_stopping_replica_gives_back_all_its_leases_at_once(store: Store) -> None:
    for name, owner in (("a", "me"), ("b", "me"), ("c", "other")):
        assert (await store.begin_poll(name, owner, ttl=60)).leased
    await store.release_leases(["a", "b", "c", "never-polled"], "me")
    assert {s.name: s.lease_owner for s in await store.source_status()} == {"a": None, "b": None, "c": "other"}
    await store.release_leases([], "me")


async def test_a_thousand_concurrent_polls_each_get_their_own_lease_and_record(store: Store) -> None:
    names = [f"feed{n}" for n in range(1000)]
    assert (await store.begin_poll("feed7", "other-replica", ttl=60)).leased
    await store.record_poll("feed8", state=None, error=None, next_poll_at=soon(600))

    async def poll(name: str) -> bool:
        lease = await store.begin_poll(name, "me", ttl=60, due_by=soon(1))
        if lease.leased:
            failed = name.endswith("3")  # records of several shapes share the transactions
            state = None if failed else SourceState(seen=(name,))
            error = "HTTP 500" if failed else None
            await store.finish_poll(name, "me", state=state, error=error, next_poll_at=soon())
        return lease.leased

    leased = dict(zip(names, await asyncio.gather(*(poll(n) for n in names)), strict=True))
    assert {n for n, ok in leased.items() if not ok} == {"feed7", "feed8"}  # held elsewhere; not due
    statuses = {s.name: s for s in await store.source_status()}
    assert len(statuses) == 1000
    assert statuses["feed7"].lease_owner == "other-replica"
    assert {s.lease_owner for n, s in statuses.items() if n != "feed7"} == {None}
    assert statuses["feed13"].failures == 1 and statuses["feed12"].failures == 0
    assert await store.load_state("feed12") == SourceState(seen=("feed12",))
    assert await store.load_state("feed13") == SourceState()


async def test_replicas_polling_the_same_sources_at_once_never_share_one(store_url: str) -> None:
    replicas = [await Store.open(store_url) for _ in range(3)]
    names = [f"feed{n}" for n in range(200)]
    try:
        for _ in range(2):  # the second round finds every row in place
            won = await asyncio.gather(
                *(r.begin_poll(n, f"replica-{i}", ttl=60) for n in names for i, r in enumerate(replicas))
            )
            winners = {n: [i for i in range(3) if won[k * 3 + i].leased] for k, n in enumerate(names)}
            assert all(len(w) == 1 for w in winners.values()), winners
            await asyncio.gather(
                *(
                    replicas[i].finish_poll(n, f"replica-{i}", state=None, error=None, next_poll_at=soon())
                    for n, (i,) in winners.items()
                )
            )
        assert {s.lease_owner for s in await replicas[0].source_status()} == {None}
    finally:
        for r in replicas:
            await r.close()


async def test_a_failed_transaction_fails_the_polls_waiting_on_it_and_the_next_ones_work(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = polls_module.begin_polls
    calls = 0

    async def broken_once(*args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("UPDATE source_state", {}, Exception("database is locked"))
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(polls_module, "begin_polls", broken_once)
    polls = [store.begin_poll(f"feed{n}", "me", ttl=60) for n in range(5)]
    results = await asyncio.gather(*polls, return_exceptions=True)
    assert all(isinstance(r, StoreError) and "database is locked" in str(r) for r in results), results
    assert (await store.begin_poll("feed0", "me", ttl=60)).leased


async def test_reads_do_not_wait_for_a_writer_holding_the_database(store_url: str) -> None:
    store = await Store.open(store_url)
    other = await Store.open(store_url)  # another replica, in the middle of a long write
    try:
        await store.record_poll("rss", state=STATE, error=None, next_poll_at=soon())
        async with other.engine.begin() as conn:
            await conn.execute(text("UPDATE source_state SET failures = 7 WHERE name = 'rss'"))
            # a read queued behind the writer would wait out the 30 s busy timeout
            async with asyncio.timeout(5):
                assert await store.load_state("rss") == STATE
                status = await store.status_of("rss")
                assert status is not None and status.failures == 0  # the committed row, not the pending write
                assert await store.latest_report("KC") is None and await store.ping()
    finally:
        await other.close()
        await store.close()
