"""The database tables at the newest migration (SQLAlchemy Core), shared by every store query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back timezone-aware, alike on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite rows written by hand
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), nullable=False),
    Column("ticker", String(32)),
    Column("company", String(300)),
    Column("company_norm", String(300)),
    Column("fiscal_year", Integer),
    Column("fiscal_quarter", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("key", name="uq_events_key"),
    Index("ix_events_ticker_period", "ticker", "fiscal_year", "fiscal_quarter"),
    Index("ix_events_company_period", "company_norm", "fiscal_year", "fiscal_quarter"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("source", String(100), nullable=False),
    Column("source_key", String(2000), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("url", Text),
    Column("title", Text),
    Column("form", String(40)),
    Column("ticker", String(32)),
    Column("company", String(300)),
    Column("published_at", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("revision_of", Integer, ForeignKey("documents.id")),
    Column("report", Text, nullable=False),
    Column("metrics", Integer, nullable=False),
    Column("guidance", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    UniqueConstraint("event_id", "content_hash", name="uq_documents_event_content"),
    Index("ix_documents_source_key", "source", "source_key"),
    Index("ix_documents_content_hash", "content_hash"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("target", String(300), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("external_id", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("claim_owner", String(200)),
    Column("claim_expires_at", UTCDateTime),
    UniqueConstraint("document_id", "platform", "target", name="uq_deliveries_document_target"),
    Index("ix_deliveries_due", "state", "next_attempt_at"),
    Index("ix_deliveries_event_target", "event_id", "platform", "target"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("state", Text, nullable=False),
    Column("health", String(20), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_success_at", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("next_poll_at", UTCDateTime),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

watchlists = Table(
    "watchlists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("channel", String(300), nullable=False),
    Column("ticker", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "channel", "ticker", name="uq_watchlists_channel_ticker"),
    Index("ix_watchlists_ticker", "ticker"),
)


def insert_ignoring(dialect: str, table: Table, conflict: list[str]) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING, on PostgreSQL and SQLite alike."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict)
    raise ValueError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")
