"""What the store hands out: frozen results of ingest, the outbox, source health and stored events."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bot.models import DocumentKind, Frozen, Report
from bot.sources.base import SourceState

DeliveryKind = Literal["new_event", "event_update", "revision"]
DeliveryState = Literal["pending", "sent", "failed"]
Health = Literal["ok", "backing_off", "failing"]
IngestStatus = Literal["new_event", "event_update", "revision", "attached", "duplicate"]


class IngestResult(Frozen):
    """What `Store.ingest` did with one document.

    status: "new_event" (first document of its event), "event_update" (a later document that adds figures,
    guidance or another kind), "revision" (changed content under a source key already stored),
    "attached" (stored with its event, adds nothing, not delivered again), "duplicate" (content already
    stored: nothing written; `document_id` is the stored copy).
    """

    status: IngestStatus
    event_id: int
    document_id: int
    revision: int
    deliveries: tuple[int, ...] = ()

    @property
    def stored(self) -> bool:
        return self.status != "duplicate"


class SourceStatus(Frozen):
    """One source's poll health, as `earnings-bot sources` shows it."""

    name: str
    health: Health
    failures: int
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None


class PollLease(Frozen):
    """What `Store.begin_poll` found: the source's status and, when the caller now holds its lease, the
    state its last successful poll saved. `state` is None when the lease was not taken (another replica
    holds it, or the source is not due yet)."""

    status: SourceStatus
    state: SourceState | None

    @property
    def leased(self) -> bool:
        return self.state is not None


class DeliveryItem(Frozen):
    """One outbox row with what a sender needs.

    `thread_id` is the external id (e.g. Slack message ts) of the event's first message already sent to
    this platform and target: later documents of the event reply to it (and may update it).
    """

    id: int
    event_id: int
    document_id: int
    kind: DeliveryKind
    platform: str
    target: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    external_id: str | None
    thread_id: str | None
    created_at: datetime
    sent_at: datetime | None
    ticker: str | None
    company: str | None
    revision: int
    source: str
    report: Report


class DocumentSummary(Frozen):
    """A stored document, without its text."""

    id: int
    source: str
    key: str
    kind: DocumentKind
    form: str | None
    url: str | None
    title: str | None
    fetched_at: datetime
    revision: int
    revision_of: int | None
    metrics: int
    guidance: int
    flags: int


class DeliverySummary(Frozen):
    """An outbox row of an event, without its report."""

    id: int
    document_id: int
    platform: str
    target: str
    kind: DeliveryKind
    state: DeliveryState
    attempts: int
    last_error: str | None
    external_id: str | None


class EventSummary(Frozen):
    """One company's fiscal period (or one stand-alone document) with its documents and deliveries."""

    id: int
    key: str
    ticker: str | None
    company: str | None
    fiscal_year: int | None
    fiscal_quarter: int | None
    created_at: datetime
    updated_at: datetime
    documents: tuple[DocumentSummary, ...]
    deliveries: tuple[DeliverySummary, ...]
