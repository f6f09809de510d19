"""`earnings-bot poll|sources|events|backfill|status`: the sources, the store and the outbox from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import BotConfig, Settings, config_path, load_config, load_settings
from bot.errors import InputError, SourceError

if TYPE_CHECKING:  # imported when a command runs, not when the CLI parser is built
    from bot.pipeline import PollOutcome
    from bot.scheduler import Scheduler
    from bot.store import DeliveryItem, EventSummary, SourceStatus, Store

CONFIG_HELP = "config file (default: BOT_CONFIG, else ./config/bot.yaml, else the embedded default)"


def _context(args: argparse.Namespace) -> tuple[Settings, BotConfig]:
    settings = load_settings()
    path = Path(args.config) if getattr(args, "config", None) else config_path(settings)
    return settings, load_config(path, inbox=settings.inbox_dir)


def _with_store(args: argparse.Namespace, work: Callable[[Settings, BotConfig, Store], Awaitable[int]]) -> int:
    settings, config = _context(args)

    async def main() -> int:
        from bot.store import Store

        store = await Store.open(settings.database_url)
        try:
            return await work(settings, config, store)
        finally:
            await store.close()

    return asyncio.run(main())


def _logging(settings: Settings, config: BotConfig) -> None:
    from bot.config import log_secrets
    from bot.logs import configure_logging

    configure_logging(settings.log_level, log_secrets(settings, config))


def _console(out: TextIO) -> Console:
    return Console(file=out, width=None if out.isatty() else 200, highlight=False, soft_wrap=False)


def when(moment: datetime | None, now: datetime) -> str:
    """A timestamp for tables: UTC to the second, with how long ago or how soon."""
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    if span < 90:
        ago = f"{span:.0f}s"
    elif span < 5400:
        ago = f"{span / 60:.0f}m"
    elif span < 172800:
        ago = f"{span / 3600:.0f}h"
    else:
        ago = f"{span / 86400:.0f}d"
    relative = f"in {ago}" if seconds > 0 else f"{ago} ago"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z ({relative})"


def outcome_line(outcome: PollOutcome, now: datetime) -> str:
    if outcome.status == "failed":
        return f"{outcome.source}: failed: {outcome.reason} (next try {when(outcome.next_poll_at, now)})"
    if outcome.status == "skipped":
        return f"{outcome.source}: skipped ({outcome.reason})"
    return (
        f"{outcome.source}: ok, {outcome.fetched} documents: {outcome.stored} new, {outcome.duplicates} known, "
        f"{outcome.rejected} unreadable; {outcome.queued} messages queued"
    )


# --------------------------------------------------------------------------- poll


def _poll(args: argparse.Namespace) -> int:
    from bot.scheduler import Scheduler

    if not args.once and args.source is not None:
        raise InputError("--source goes with --once (a continuous poll runs every source)")

    async def work(settings: Settings, config: BotConfig, store: Store) -> int:
        _logging(settings, config)
        scheduler = Scheduler(store, config, settings=settings)
        if not args.once:
            return await _poll_forever(scheduler)
        outcomes = await scheduler.run_once(args.source)
        now = datetime.now(UTC)
        for outcome in outcomes:
            print(outcome_line(outcome, now))
        failed = [o.source for o in outcomes if o.status == "failed"]
        if failed:
            print(
                f"earnings-bot: {len(failed)} of {len(outcomes)} sources failed: {', '.join(failed)}", file=sys.stderr
            )
            return 1
        return 0

    return _with_store(args, work)


async def _poll_forever(scheduler: Scheduler) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    print(f"polling {len(scheduler.sources)} sources as {scheduler.owner}; Ctrl-C to stop", file=sys.stderr)
    try:
        await stop.wait()
    finally:
        await scheduler.stop()
    return 0


# --------------------------------------------------------------------------- sources and status


def sources_table(config: BotConfig, statuses: Sequence[SourceStatus], now: datetime) -> Table:
    """Each configured source (and any the store knows that the config no longer names) with its health."""
    by_name = {s.name: s for s in statuses}
    table = Table(title="sources")
    for column in ("source", "kind", "health", "failures", "last success", "last error", "next poll"):
        table.add_column(column)
    kinds = {spec.name: spec.kind for spec in config.sources}
    for name in [*kinds, *(n for n in by_name if n not in kinds)]:
        status = by_name.get(name)
        kind = kinds.get(name, "(not configured)")
        if status is None:
            table.add_row(name, kind, "never polled", "0", "-", "-", "-")
            continue
        table.add_row(
            name,
            kind,
            status.health,
            str(status.failures),
            when(status.last_success_at, now),
            escape(status.last_error or "-"),
            when(status.next_poll_at, now),
        )
    return table


def _sources(args: argparse.Namespace) -> int:
    async def work(settings: Settings, config: BotConfig, store: Store) -> int:
        statuses = await store.source_status()
        if args.json:
            print(json.dumps([s.model_dump(mode="json") for s in statuses], indent=2))
        else:
            _console(sys.stdout).print(sources_table(config, statuses, datetime.now(UTC)))
        return 0

    return _with_store(args, work)


def deliveries_table(items: Sequence[DeliveryItem], now: datetime) -> Table:
    table = Table(title="deliveries (newest first)")
    for column in ("id", "company", "kind", "to", "state", "attempts", "next attempt / sent", "reason"):
        table.add_column(column)
    for d in items:
        who = d.ticker or d.company or f"event {d.event_id}"
        moment = d.sent_at if d.state == "sent" else (d.next_attempt_at if d.state == "pending" else None)
        table.add_row(
            str(d.id),
            escape(who),
            d.kind,
            escape(f"{d.platform}:{d.target}"),
            d.state,
            str(d.attempts),
            when(moment, now),
            escape(d.last_error or "-"),
        )
    return table


def _status(args: argparse.Namespace) -> int:
    async def work(settings: Settings, config: BotConfig, store: Store) -> int:
        items = await store.deliveries(limit=args.limit)
        statuses = await store.source_status()
        counts = Counter(d.state for d in items)
        if args.json:
            body = {
                "deliveries": [d.model_dump(mode="json", exclude={"report"}) for d in items],
                "counts": {state: counts.get(state, 0) for state in ("pending", "sent", "failed")},
                "sources": [s.model_dump(mode="json") for s in statuses],
            }
            print(json.dumps(body, indent=2))
            return 0
        now = datetime.now(UTC)
        console = _console(sys.stdout)
        console.print(
            f"deliveries (last {len(items)}): {counts.get('pending', 0)} pending, "
            f"{counts.get('sent', 0)} sent, {counts.get('failed', 0)} failed"
        )
        if items:
            console.print(deliveries_table(items, now))
        console.print(sources_table(config, statuses, now))
        return 0

    return _with_store(args, work)


# --------------------------------------------------------------------------- events


def event_lines(event: EventSummary) -> list[str]:
    period = f"Q{event.fiscal_quarter} {event.fiscal_year}" if event.fiscal_year is not None else "no period"
    who = " ".join(x for x in (event.ticker, f"({event.company})" if event.company else None) if x) or "unknown"
    lines = [f"event {event.id}: {who}, {period}"]
    for d in event.documents:
        revised = f", revision {d.revision} of document {d.revision_of}" if d.revision_of is not None else ""
        lines.append(
            f"  document {d.id}: {d.source} {d.key} [{d.form or d.kind}]{revised}: "
            f"{d.metrics} figures, {d.guidance} guidance, {d.flags} flags"
        )
    for r in event.deliveries:
        error = f" ({r.last_error})" if r.last_error else ""
        lines.append(f"  -> {r.platform}:{r.target} {r.kind} of document {r.document_id}: {r.state}{error}")
    return lines


def _events(args: argparse.Namespace) -> int:
    async def work(settings: Settings, config: BotConfig, store: Store) -> int:
        events = await store.events(limit=args.limit)
        if args.json:
            print(json.dumps([e.model_dump(mode="json") for e in events], indent=2))
        elif not events:
            print("no events stored yet")
        else:
            print("\n".join(line for event in events for line in event_lines(event)))
        return 0

    return _with_store(args, work)


# --------------------------------------------------------------------------- backfill


def _backfill(args: argparse.Namespace) -> int:
    from bot.pipeline import backfill
    from bot.scheduler import http_client
    from bot.sources import build_source
    from bot.store.keys import require_ticker

    ticker = require_ticker(args.ticker)
    if args.quarters < 1:
        raise InputError(f"--quarters must be at least 1, got {args.quarters}")

    async def work(settings: Settings, config: BotConfig, store: Store) -> int:
        _logging(settings, config)
        sources = {spec.name: build_source(spec) for spec in config.sources}
        if args.source is not None and args.source not in sources:
            raise InputError(f"no source named {args.source!r} (configured: {', '.join(sorted(sources))})")
        failed = 0
        async with http_client() as client:
            for name, source in sources.items():
                if args.source is not None and name != args.source:
                    continue
                try:
                    outcome = await backfill(store, source, client, ticker, args.quarters, config=config)
                except SourceError as exc:
                    failed += 1
                    print(f"{name}: failed: {exc}")
                    continue
                print(outcome_line(outcome, datetime.now(UTC)))
        return 1 if failed else 0

    return _with_store(args, work)


# --------------------------------------------------------------------------- registration


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `poll`, `sources`, `events`, `backfill` and `status` on the CLI's subparsers."""
    p = sub.add_parser("poll", help="poll the sources and store what they find (no delivery)")
    p.add_argument("--once", action="store_true", help="poll every source once now, then exit")
    p.add_argument("--source", default=None, help="only this source (with --once)")
    p.add_argument("--config", default=None, help=CONFIG_HELP)
    p.set_defaults(func=_poll)

    p = sub.add_parser("sources", help="each source's kind, health, last success, last error and next poll")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--config", default=None, help=CONFIG_HELP)
    p.set_defaults(func=_sources)

    p = sub.add_parser("events", help="stored events with their documents, figures and delivery states")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", type=int, default=50, help="how many events (newest first)")
    p.add_argument("--config", default=None, help=CONFIG_HELP)
    p.set_defaults(func=_events)

    p = sub.add_parser("backfill", help="fetch and store a company's recent quarters from the sources")
    p.add_argument("ticker", help="the company's ticker")
    p.add_argument("--quarters", type=int, default=4, help="how many recent quarters (default 4)")
    p.add_argument("--source", default=None, help="only this source")
    p.add_argument("--config", default=None, help=CONFIG_HELP)
    p.set_defaults(func=_backfill)

    p = sub.add_parser("status", help="the outbox (pending, sent, failed with the reason) and source health")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", type=int, default=100, help="how many deliveries (newest first)")
    p.add_argument("--config", default=None, help=CONFIG_HELP)
    p.set_defaults(func=_status)
