"""The store: documents, events, the delivery outbox, source state and watchlists (SQLite or PostgreSQL)."""

from __future__ import annotations

from bot.store.repository import Store, database_url, make_engine
from bot.store.types import (
    DeliveryItem,
    DeliveryKind,
    DeliveryState,
    DeliverySummary,
    DocumentSummary,
    EventSummary,
    Health,
    IngestResult,
    IngestStatus,
    PollLease,
    SourceStatus,
)

__all__ = [
    "DeliveryItem",
    "DeliveryKind",
    "DeliveryState",
    "DeliverySummary",
    "DocumentSummary",
    "EventSummary",
    "Health",
    "IngestResult",
    "IngestStatus",
    "PollLease",
    "SourceStatus",
    "Store",
    "database_url",
    "make_engine",
]
