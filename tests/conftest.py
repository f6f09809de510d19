"""Shared fixtures: a fresh PostgreSQL database per test (failing when the server is missing), a SQLite file,
a `store_url` over both, an open `store` on it, the fake Slack and the Adaptive Card schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from fakeslack import FakeSlack
from faketeams import card_schema
from httpserver import LocalServer
from jsonschema.protocols import Validator

from bot.store import Store

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USERS = ("postgres", "root")
PG_ADMIN_DB = "test"


async def _admin(statement: str) -> str:
    """Run one statement on the admin database as the first user that can log in; return that user."""
    errors: list[str] = []
    for user in PG_USERS:
        try:
            conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database=PG_ADMIN_DB, timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            errors.append(f"{user}: {type(exc).__name__}: {exc}")
            continue
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
        return user
    raise ConnectionError("; ".join(errors))


def _run_admin(statement: str) -> str:
    # In a thread of its own: the test's event loop (if any) is left alone.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _admin(statement)).result()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on 127.0.0.1:5432, dropped afterwards. Fails when unreachable."""
    name = f"ebt_{uuid.uuid4().hex[:16]}"
    try:
        user = _run_admin(f'CREATE DATABASE "{name}"')
    except ConnectionError as exc:
        pytest.fail(
            f"PostgreSQL is required on {PG_HOST}:{PG_PORT} (database {PG_ADMIN_DB!r}, trust auth) "
            f"and is not reachable: {exc}. Start it (see .ci/run).",
            pytrace=False,
        )
    yield f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in a folder that does not exist yet (the store creates it)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bot.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


# --------------------------------------------------------------------------- document builders
# Small invented earnings releases and feeds (never text from ../shared), for pipeline, crash and
# scheduler tests. Importable as `from conftest import release_text, rss_feed`.


def release_text(company: str, ticker: str, year: int, quarter: int, revenue_m: float, *, note: str = "") -> str:
    """A short plain-text earnings release the real loader and extractor read (revenue, EPS, guidance)."""
    ordinal = {1: "First", 2: "Second", 3: "Third", 4: "Fourth"}[quarter]
    return (
        f"{company} Reports {ordinal} Quarter {year} Results\n\n"
        f"SPRINGFIELD, {year} -- {company} (NASDAQ: {ticker}) today announced results for the "
        f"{ordinal.lower()} quarter of fiscal {year}.\n\n"
        f"Revenue was ${revenue_m:.1f} million, up 12% year over year. {note}\n\n"
        f"For the next quarter, the company expects revenue of ${revenue_m + 5:.0f} million to "
        f"${revenue_m + 10:.0f} million.\n"
    )


def rss_feed(entries: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 feed of (guid, link, title) entries, newest first."""
    items = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><link>{link}</link><title>{title}</title></item>"
        for guid, link, title in entries
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=False) as c:  # plain http to 127.0.0.1 only
        yield c


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def schema() -> Validator:
    """The Adaptive Card 1.5 schema (the test is skipped when ../shared is absent)."""
    return card_schema()
