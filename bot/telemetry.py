"""Prometheus metrics: the counters and histograms every part of the bot reports to, and /metrics' text."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import REGISTRY, CollectorRegistry

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Counters count what this process did; they start at zero with each process (Prometheus handles resets).
POLLS = Counter("earnings_bot_polls", "Source polls by outcome (ok, error).", ["source", "outcome"])
DOCUMENTS = Counter("earnings_bot_documents", "Documents stored, by source.", ["source"])
EVENTS = Counter("earnings_bot_events", "New earnings events opened (first document of a company's period).")
DELIVERIES = Counter(
    "earnings_bot_deliveries",
    "Delivery attempts by platform and outcome (sent, retry, failed).",
    ["platform", "outcome"],
)
COMMAND_LATENCY = Histogram(
    "earnings_bot_command_latency_seconds",
    "Time from a command's arrival to its answer, by platform.",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
)

# Source gauges mirror the shared database at scrape time, so every replica reports the same state.
SOURCE_UP = Gauge("earnings_bot_source_up", "1 when the source's last poll succeeded, else 0.", ["source"])
SOURCE_FAILURES = Gauge(
    "earnings_bot_source_consecutive_failures", "Failed polls since the last success.", ["source"]
)
READY = Gauge("earnings_bot_ready", "1 when /readyz answers 200.")

DELIVERY_OUTCOMES = ("sent", "retry", "failed")


def record_poll(source: str, *, ok: bool) -> None:
    POLLS.labels(source=source, outcome="ok" if ok else "error").inc()


def record_document(source: str, *, new_event: bool) -> None:
    DOCUMENTS.labels(source=source).inc()
    if new_event:
        EVENTS.inc()


def record_delivery(platform: str, outcome: str) -> None:
    """`outcome` is one of DELIVERY_OUTCOMES."""
    if outcome not in DELIVERY_OUTCOMES:
        raise ValueError(f"delivery outcome {outcome!r} is not one of {', '.join(DELIVERY_OUTCOMES)}")
    DELIVERIES.labels(platform=platform, outcome=outcome).inc()


def set_source_health(rows: Iterable[tuple[str, bool, int]]) -> None:
    """Mirror (name, healthy, consecutive failures) of every source into the gauges."""
    for name, healthy, failures in rows:
        SOURCE_UP.labels(source=name).set(1 if healthy else 0)
        SOURCE_FAILURES.labels(source=name).set(failures)


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The text exposition format for GET /metrics."""
    return generate_latest(registry)
