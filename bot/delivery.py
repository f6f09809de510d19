"""The outbox dispatcher and the Sink protocol: due deliveries claimed, rendered, sent and recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.digest.build import build_digest
from bot.digest.model import Digest
from bot.errors import DeliveryError, StoreError
from bot.store.types import DeliveryItem

log = logging.getLogger(__name__)

# How long a claimed row is ours. A row younger than this cannot have been claimed and abandoned by a
# crashed sender, so sinks skip their "was it already posted?" lookup for it (see SlackSink).
CLAIM_TTL = 120.0
BATCH = 50
INTERVAL = 5.0


class Sink(Protocol):
    """One chat platform's sender. `send` returns the external message id (e.g. a Slack ts) and raises
    DeliveryError(permanent=..., retry_after=...) when the platform refuses or is unreachable."""

    platform: str

    async def send(self, item: DeliveryItem, digest: Digest) -> str | None: ...


class OutboxStore(Protocol):
    """The part of the Store the dispatcher uses."""

    async def pending_deliveries(self, platform: str | None = None, limit: int = 50) -> list[DeliveryItem]: ...
    async def claim_delivery(self, delivery_id: int, owner: str, ttl: float) -> bool: ...
    async def mark_sent(self, delivery_id: int, external_id: str | None) -> None: ...
    async def mark_failed(
        self, delivery_id: int, error: str, *, permanent: bool, retry_at: datetime | None
    ) -> None: ...


class Dispatcher:
    """Sends due outbox rows, one platform after another, each row claimed first so two replicas never
    send the same one. Transient failures wait `retry_after` when the platform said so, else the store's
    exponential backoff; a platform that asked us to slow down is paused until then. Permanent failures
    are recorded with their reason. One bad row never stops the others."""

    def __init__(
        self,
        store: OutboxStore,
        sinks: Mapping[str, Sink],
        owner: str,
        *,
        claim_ttl: float = CLAIM_TTL,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._sinks = dict(sinks)
        self._owner = owner
        self._claim_ttl = claim_ttl
        self._batch = batch
        self._paused_until: dict[str, float] = {}

    def paused(self, platform: str, target: str | None = None) -> bool:
        """Whether a platform (or, for sinks limited per target, one of its targets) asked us to wait."""
        now = time.monotonic()
        return self._paused_until.get(platform, 0.0) > now or (
            target is not None and self._paused_until.get(f"{platform}:{target}", 0.0) > now
        )

    def _pause_key(self, sink: Sink, item: DeliveryItem) -> str:
        # Slack rate-limits the app as a whole; a Teams Workflows webhook is limited on its own.
        return f"{item.platform}:{item.target}" if getattr(sink, "limited_per_target", False) else item.platform

    async def run_once(self) -> int:
        """Send every due row once; returns how many were sent."""
        sent = 0
        for platform, sink in self._sinks.items():
            if self.paused(platform):
                continue
            for item in await self._store.pending_deliveries(platform, limit=self._batch):
                if self.paused(platform):
                    break
                if self.paused(platform, item.target):
                    continue
                if not await self._store.claim_delivery(item.id, self._owner, self._claim_ttl):
                    continue
                sent += await self._deliver(sink, item)
        return sent

    async def _deliver(self, sink: Sink, item: DeliveryItem) -> int:
        context = {"delivery_id": item.id, "event_id": item.event_id, "platform": item.platform,
                   "ticker": item.ticker}
        try:
            digest = build_digest(item.report)
            external_id = await sink.send(item, digest)
        except DeliveryError as exc:
            retry_at = None
            if exc.retry_after is not None and not exc.permanent:
                retry_at = datetime.now(UTC) + timedelta(seconds=max(0.0, exc.retry_after))
                self._paused_until[self._pause_key(sink, item)] = time.monotonic() + max(0.0, exc.retry_after)
            log.warning("delivery %s to %s %s failed%s: %s", item.id, item.platform, item.target,
                        " (permanent)" if exc.permanent else "", exc, extra=context)
            await self._store.mark_failed(item.id, str(exc), permanent=exc.permanent, retry_at=retry_at)
            return 0
        except Exception as exc:
            # A bug rendering or sending one report: record it (no message text: it may hold anything) and go on.
            log.exception("delivery %s to %s %s crashed", item.id, item.platform, item.target, extra=context)
            await self._store.mark_failed(
                item.id, f"internal error: {type(exc).__name__}", permanent=False, retry_at=None
            )
            return 0
        await self._store.mark_sent(item.id, external_id)
        log.info("delivery %s sent to %s %s", item.id, item.platform, item.target, extra=context)
        return 1

    async def run_forever(self, stop_event: asyncio.Event, *, interval: float = INTERVAL) -> None:
        """run_once until `stop_event` is set; a full batch is followed at once by the next."""
        while not stop_event.is_set():
            sent = 0
            try:
                sent = await self.run_once()
            except StoreError as exc:
                log.warning("dispatcher: %s", exc)
            except Exception:
                log.exception("dispatcher: run failed")
            if sent >= self._batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=interval)
