"""The pipeline: a fetched document loaded, extracted and stored; one poll of one source, end to end."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from bot.config import BotConfig
from bot.errors import BotError, SourceError
from bot.extract import extract
from bot.extract.load import load_bytes
from bot.models import Document, Frozen, Report
from bot.sources.base import FetchedDocument, Source, SourceSpec
from bot.store import IngestResult, SourceStatus, Store
from bot.store.schema import utcnow

log = logging.getLogger(__name__)

BACKOFF_CAP = 3600.0  # a failing source is retried at least hourly
RETRY_AFTER_CAP = 24 * 3600.0  # a server's Retry-After is honoured up to a day
MIN_LEASE = 60.0
MIN_SPACING = 0.9  # of the interval: the least time between two fetches of one source


class PollOutcome(Frozen):
    """What one `poll_source` call did, for logs, `poll --once` and tests."""

    source: str
    status: Literal["ok", "failed", "skipped"]
    reason: str | None = None  # why it was skipped, or the error
    fetched: int = 0  # documents the source emitted
    stored: int = 0  # of those, stored as new documents (new events, updates, revisions)
    duplicates: int = 0  # already stored
    rejected: int = 0  # could not be loaded or extracted (logged, skipped)
    queued: int = 0  # outbox rows created
    next_poll_at: datetime | None = None


def backoff_delay(
    interval: float, failures: int, retry_after: float | None, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `failures` consecutive failed polls: interval·2^failures, ±10% jitter, capped at
    an hour; a longer Retry-After from the server wins (up to a day)."""
    delay: float = interval * 2.0 ** min(max(failures, 1), 32) * (0.9 + 0.2 * rand())
    delay = min(delay, BACKOFF_CAP)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


def due_tolerance(spec: SourceSpec) -> float:
    """How early a tick may poll: timer slack only (5% of the interval, at most a second). The trigger's
    jitter only ever delays a tick, and the interval is measured from tick to tick."""
    return min(0.05 * spec.interval_seconds, 1.0)


def is_due(next_poll_at: datetime | None, now: datetime, tolerance: float) -> bool:
    return next_poll_at is None or now >= next_poll_at - timedelta(seconds=tolerance)


def next_poll(ticked: datetime, fetched_at: datetime, interval: float) -> datetime:
    """One interval after the tick that polled, so ticks keep their rhythm; but never sooner than
    MIN_SPACING of an interval after the fetch itself, so a slow start does not bunch two fetches."""
    return max(ticked + timedelta(seconds=interval), fetched_at + timedelta(seconds=MIN_SPACING * interval))


def lease_ttl(spec: SourceSpec) -> float:
    """How long a poll may hold its source: room for several requests at the source's timeout."""
    return max(MIN_LEASE, 4 * spec.timeout_seconds)


def _name(fetched: FetchedDocument) -> str:
    """A file-name hint for the loader: the URL's last path segment, else the source key."""
    if fetched.url:
        name = PurePosixPath(unquote(urlsplit(fetched.url).path)).name
        if name:
            return name
    return fetched.key


def understand(fetched: FetchedDocument, config: BotConfig) -> tuple[Document, Report]:
    """Load and extract one fetched document (CPU-bound; run it in a thread). Raises InputError."""
    document = load_bytes(
        fetched.content,
        name=_name(fetched),
        content_type=fetched.content_type,
        url=fetched.url,
        source=fetched.source,
    )
    known = {
        "ticker": fetched.ticker,
        "company": fetched.company,
        "title": fetched.title,
        "published": fetched.published,
        "fiscal_year": fetched.fiscal_year,
        "fiscal_quarter": fetched.fiscal_quarter,
    }
    missing = {k: v for k, v in known.items() if v is not None and getattr(document, k) is None}
    if missing:
        document = document.model_copy(update=missing)
    return document, extract(document, companies=config.companies, metrics=config.metrics)


async def process(
    store: Store, fetched: FetchedDocument, *, config: BotConfig, deliver: bool = True
) -> IngestResult | None:
    """Load, extract and store one document. A document that cannot be read is logged and skipped (None);
    a StoreError propagates (the poll's state must then not be saved)."""
    where = {"source": fetched.source, "key": fetched.key}
    try:
        document, report = await asyncio.to_thread(understand, fetched, config)
    except BotError as exc:
        log.warning("source %s: skipped %s: %s", fetched.source, fetched.key, exc, extra=where)
        return None
    except Exception:  # an extractor bug on one document must not stop the others
        log.exception("source %s: skipped %s: extraction failed", fetched.source, fetched.key, extra=where)
        return None
    result = await store.ingest(fetched, document, report, config.routes, deliver=deliver)
    log.info(
        "source %s: %s %s (event %d, document %d, %d queued)",
        fetched.source,
        result.status,
        fetched.key,
        result.event_id,
        result.document_id,
        len(result.deliveries),
        extra={**where, "event_id": result.event_id, "document_id": result.document_id, "ticker": report.ticker},
    )
    return result


async def poll_source(
    store: Store,
    source: Source,
    client: httpx.AsyncClient,
    *,
    config: BotConfig,
    owner: str,
    force: bool = False,
    lease_seconds: float | None = None,
) -> PollOutcome:
    """One poll under the source's lease: skip when another replica holds it or (unless `force`) when the
    source is not due; else poll, store every document, and only then save the source's new state.
    A SourceError (or a poll running past the lease) is recorded with an exponential backoff.

    Store round trips: a read when not forced (most ticks end there), one write to take the lease and read
    the state, one write to record the poll and give the lease back; a poll that finds nothing new saves
    no state."""
    spec = source.spec
    name = spec.name
    ttl = lease_seconds if lease_seconds is not None else lease_ttl(spec)
    extra = {"source": name}
    ticked = utcnow()  # the next poll is due one interval after this one was
    tolerance = due_tolerance(spec)
    due_by: datetime | None = None
    if not force:  # a cheap read first: most ticks of most replicas end here, without a write
        status = await store.status_of(name)
        if status is not None and not is_due(status.next_poll_at, utcnow(), tolerance):
            return PollOutcome(source=name, status="skipped", reason="not due", next_poll_at=status.next_poll_at)
        due_by = utcnow() + timedelta(seconds=tolerance)  # checked again with the lease: another replica
    lease = await store.begin_poll(name, owner, ttl, due_by=due_by)  # may just have polled it
    if lease.state is None:
        return _not_leased(name, lease.status, due_by)
    fetched_at = utcnow()
    previous_failures = lease.status.failures
    finished = False  # once the poll is recorded, its lease is given back with it
    try:
        error: tuple[str, float | None] | None = None
        try:
            async with asyncio.timeout(ttl * 0.8):
                result = await source.poll(client, lease.state)
        except SourceError as exc:
            error = (str(exc), exc.retry_after)
        except TimeoutError:
            error = (f"poll took longer than {ttl * 0.8:g}s", None)
        except Exception as exc:  # a bug in one source must not stop the scheduler
            log.exception("source %s: poll crashed", name, extra=extra)
            error = (f"internal error ({type(exc).__name__})", None)
        if error is not None:
            failed = await _failed(store, spec, owner, previous_failures, *error)
            finished = True
            return failed

        async def keep_lease() -> bool:
            return await store.acquire_lease(name, owner, ttl)

        outcome = await _store_all(store, result.documents, config, keep_lease)
        if outcome.status != "ok":  # someone took over: the state is theirs to save
            log.warning("source %s: lease lost while storing; state not saved", name, extra=extra)
            return outcome.model_copy(update={"source": name})
        next_poll_at = next_poll(ticked, fetched_at, spec.interval_seconds)
        changed = result.state if result.state != lease.state else None  # a 304 saves no state
        await store.finish_poll(name, owner, state=changed, error=None, next_poll_at=next_poll_at)
        finished = True
    finally:
        if not finished:  # lease lost, a store failure, or a cancelled poll: nothing recorded
            await _release(store, name, owner)
    log.info(
        "source %s: polled, %d documents, %d new, %d duplicates, %d rejected",
        name,
        outcome.fetched,
        outcome.stored,
        outcome.duplicates,
        outcome.rejected,
        extra=extra,
    )
    return outcome.model_copy(update={"source": name, "next_poll_at": next_poll_at})


def _not_leased(name: str, status: SourceStatus, due_by: datetime | None) -> PollOutcome:
    """Why `begin_poll` did not hand over the lease: not due (any more), or another replica holds it."""
    if due_by is not None and not is_due(status.next_poll_at, due_by, 0.0):
        return PollOutcome(source=name, status="skipped", reason="not due", next_poll_at=status.next_poll_at)
    reason = "polled by another replica"
    if status.lease_owner and status.lease_expires_at:
        reason += f" ({status.lease_owner}, lease until {status.lease_expires_at:%Y-%m-%d %H:%M:%S}Z)"
    log.debug("source %s: skipped, %s", name, reason, extra={"source": name})
    return PollOutcome(source=name, status="skipped", reason=reason)


async def _store_all(
    store: Store,
    documents: Sequence[FetchedDocument],
    config: BotConfig,
    keep_lease: Callable[[], Awaitable[bool]] | None = None,
    *,
    deliver: bool = True,
) -> PollOutcome:
    """Process each document; with `keep_lease`, extend the lease after each and stop when it is lost."""
    stored = duplicates = rejected = queued = 0
    lost = False
    for fetched in documents:
        result = await process(store, fetched, config=config, deliver=deliver)
        if result is None:
            rejected += 1
        elif result.stored:
            stored += 1
            queued += len(result.deliveries)
        else:
            duplicates += 1
        if keep_lease is not None and not await keep_lease():
            lost = True
            break
    return PollOutcome(
        source="",
        status="skipped" if lost else "ok",
        reason="lease lost" if lost else None,
        fetched=len(documents),
        stored=stored,
        duplicates=duplicates,
        rejected=rejected,
        queued=queued,
    )


async def _failed(
    store: Store, spec: SourceSpec, owner: str, previous_failures: int, error: str, retry_after: float | None
) -> PollOutcome:
    """Record a failed poll with its backoff and give the lease back (one write)."""
    failures = previous_failures + 1
    delay = backoff_delay(spec.interval_seconds, failures, retry_after)
    next_poll_at = utcnow() + timedelta(seconds=delay)
    await store.finish_poll(spec.name, owner, state=None, error=error, next_poll_at=next_poll_at)
    log.warning(
        "source %s: poll failed (%d in a row), next try in %.0fs: %s",
        spec.name,
        failures,
        delay,
        error,
        extra={"source": spec.name},
    )
    return PollOutcome(source=spec.name, status="failed", reason=error, next_poll_at=next_poll_at)


async def _release(store: Store, name: str, owner: str) -> None:
    try:
        await store.release_lease(name, owner)
    except BotError as exc:  # the lease expires on its own
        log.warning("source %s: could not release the lease: %s", name, exc, extra={"source": name})


async def backfill(
    store: Store, source: Source, client: httpx.AsyncClient, ticker: str, quarters: int, *, config: BotConfig
) -> PollOutcome:
    """Fetch and store the documents of a ticker's last `quarters` quarters from one source.

    History is stored for queries (`/earnings KC revenue history`), not posted: nothing is queued.
    """
    documents = await source.backfill(client, ticker, quarters)
    outcome = await _store_all(store, documents, config, deliver=False)
    return outcome.model_copy(update={"source": source.spec.name})
