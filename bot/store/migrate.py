"""Schema migrations (Alembic, scripts in bot/store/migrations) run from code on the store's own engine."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# Any constant: PostgreSQL advisory lock id held while migrating, so replicas starting together take turns.
_LOCK_ID = 0x0EA2_1165
_MIGRATION_LOG = logging.getLogger("alembic.runtime.migration")
# What Alembic says at INFO each time it looks at a database, migrating or not ("Running upgrade" stays INFO).
_SETUP_MESSAGES = frozenset({"Context impl %s.", "Will assume %s DDL."})


class _SetupAtDebug(logging.Filter):
    """Turns Alembic's per-connection setup lines into DEBUG records (dropped unless DEBUG is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in _SETUP_MESSAGES:
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return _MIGRATION_LOG.isEnabledFor(logging.DEBUG)


@contextmanager
def _setup_lines_at_debug() -> Iterator[None]:
    quiet = _SetupAtDebug()
    _MIGRATION_LOG.addFilter(quiet)
    try:
        yield
    finally:
        _MIGRATION_LOG.removeFilter(quiet)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` in one transaction (PostgreSQL DDL is transactional too)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        await conn.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    with _setup_lines_at_debug():
        command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    with _setup_lines_at_debug():
        return MigrationContext.configure(connection).get_current_revision()


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
