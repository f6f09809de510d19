"""Schema migrations on SQLite and PostgreSQL: upgrading keeps the data, head matches the code's tables."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.errors import StoreError
from bot.models import Metric, Period, Report
from bot.sources.base import SourceState, Validator
from bot.store import Store, make_engine
from bot.store.migrate import current, head, upgrade
from bot.store.schema import metadata

REPORT = Report(
    company="Kingsoft Cloud",
    ticker="KC",
    kind="press_release",
    period=Period(fiscal_year=2024, fiscal_quarter=1, label="Q1 2024"),
    metrics=(
        Metric(
            key="revenue", name="Revenue", value=1.77e9, unit="CNY", quote="q", value_text="1.77 bn", start=0, end=1
        ),
    ),
)
STATE = SourceState(validators={"https://feed.test/x": Validator(etag='"e1"')}, seen=("k1",))
WHEN = datetime(2024, 5, 21, 12, 0, 0)


async def _fill_first_revision(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine, "0001")
        assert await current(engine) == "0001"
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO events (id, key, ticker, company, company_norm, fiscal_year, fiscal_quarter,"
                    " created_at, updated_at) VALUES (1, 't:KC:2024:Q1', 'KC', 'Kingsoft Cloud',"
                    " 'kingsoft cloud', 2024, 1, :t, :t)"
                ),
                {"t": WHEN},
            )
            await conn.execute(
                text(
                    "INSERT INTO documents (id, event_id, source, source_key, content_hash, text, kind, url, title,"
                    " form, ticker, company, fetched_at, revision, report, metrics, guidance, flags) VALUES"
                    " (1, 1, 'rss', 'entry-1', :h, 'Revenue was RMB1.77 billion.', 'press_release', NULL,"
                    " 'Q1 results', NULL, 'KC', 'Kingsoft Cloud', :t, 1, :r, 1, 0, 0)"
                ),
                {"h": "0" * 64, "t": WHEN, "r": REPORT.model_dump_json()},
            )
            await conn.execute(
                text(
                    "INSERT INTO deliveries (id, event_id, document_id, platform, target, kind, state, attempts,"
                    " next_attempt_at, created_at) VALUES (1, 1, 1, 'slack', 'C1', 'new_event', 'pending', 0,"
                    " :t, :t)"
                ),
                {"t": WHEN},
            )
            await conn.execute(
                text(
                    "INSERT INTO source_state (name, state, health, failures, updated_at)"
                    " VALUES ('rss', :s, 'ok', 0, :t)"
                ),
                {"s": STATE.model_dump_json(), "t": WHEN},
            )
    finally:
        await engine.dispose()


async def test_upgrade_keeps_rows_written_at_the_first_revision(store_url: str) -> None:
    await _fill_first_revision(store_url)
    store = await Store.open(store_url)
    try:
        assert await current(store.engine) == head() != "0001"
        (event,) = await store.events()
        assert (event.ticker, event.fiscal_year, event.fiscal_quarter) == ("KC", 2024, 1)
        assert [d.key for d in event.documents] == ["entry-1"]
        (due,) = await store.pending_deliveries()  # the new claim columns start empty
        assert (due.id, due.target, due.report) == (1, "C1", REPORT)
        assert await store.load_state("rss") == STATE
        assert await store.latest_report("KC") == REPORT
        assert await store.watch("slack", "C1", "KC")  # the table the second revision adds
        assert await store.claim_delivery(1, "me", ttl=30)
    finally:
        await store.close()


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrations_build_exactly_the_tables_the_code_uses(store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await store.close()


async def test_replicas_opening_a_fresh_database_together_migrate_it_once(store_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(store_url) for _ in range(4)))
    try:
        assert {await current(s.engine) for s in stores} == {head()}
        reopened = await Store.open(store_url)  # already at head: nothing to do
        await reopened.close()
    finally:
        for s in stores:
            await s.close()


async def test_a_schema_newer_than_this_release_is_a_clear_store_error(store_url: str) -> None:
    store = await Store.open(store_url)
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await store.close()
    with pytest.raises(StoreError, match=r"cannot migrate database .*9999"):
        await Store.open(store_url)


async def test_opening_an_up_to_date_database_logs_nothing_at_info_and_a_migration_does(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await (await Store.open(store_url)).close()  # a fresh database: every revision runs
    ran = [r for r in caplog.records if r.name.startswith("alembic") and r.levelno >= logging.INFO]
    assert [r.getMessage().split(",")[0] for r in ran] == [
        "Running upgrade  -> 0001",
        "Running upgrade 0001 -> 0002",
    ]
    caplog.clear()
    await (await Store.open(store_url)).close()  # at head: Alembic's set-up lines only, at DEBUG
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
    caplog.set_level(logging.DEBUG, logger="alembic")
    await (await Store.open(store_url)).close()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("alembic")]
    assert [message.split()[0] for _, message in lines] == ["Context", "Will"]  # "Context impl ...", "Will assume ..."
    assert {level for level, _ in lines} == {"DEBUG"}
