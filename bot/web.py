"""The HTTP side of the service: /healthz, /readyz, /metrics and the read-only status page at /."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot import __version__, telemetry
from bot.digest.build import build_digest
from bot.digest.html import render_digest, safe_href
from bot.errors import StoreError
from bot.models import Report
from bot.store.types import DeliveryItem, DocumentSummary, EventSummary, SourceStatus

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT = 3.0
EVENTS_SHOWN = 20
DELIVERIES_SHOWN = 50


class StatusStore(Protocol):
    """The part of the Store the web side reads."""

    async def source_status(self) -> list[SourceStatus]: ...
    async def events(self, limit: int = 50) -> list[EventSummary]: ...
    async def deliveries(self, state: str | None = None, limit: int = 100) -> list[DeliveryItem]: ...
    async def event_reports(self, event_ids: Sequence[int]) -> dict[int, Report]: ...


async def _run_check(name: str, check: ReadinessCheck, timeout: float) -> bool:
    try:
        return bool(await asyncio.wait_for(check(), timeout=timeout))
    except TimeoutError:
        log.warning("readiness: %s did not answer in %.0fs", name, timeout)
    except Exception as exc:
        log.warning("readiness: %s check failed: %s", name, type(exc).__name__)
    return False


async def readiness(checks: Mapping[str, ReadinessCheck], timeout: float = CHECK_TIMEOUT) -> dict[str, bool]:
    """Every check's result, run concurrently; a check that raises or times out counts as not ready."""
    names = list(checks)
    results = await asyncio.gather(*(_run_check(n, checks[n], timeout) for n in names))
    return dict(zip(names, results, strict=True))


# --------------------------------------------------------------------------- status page

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:2rem 0 .6rem}h3{margin:0;font-size:1.05rem}
h4{margin:.8rem 0 .3rem}.sub,.meta,.who,footer{color:#666}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:.35rem .6rem;text-align:left;
vertical-align:top;border-bottom:1px solid #e4e6ea}thead th{background:#eef0f3;font-weight:600}
.value{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.ok,.trend-up,.sent{color:#137333}.trend-down,.failing,.failed{color:#b3261e}.backing_off,.pending{color:#a15c00}
article.digest,.event{background:#fff;border:1px solid #e4e6ea;border-radius:6px;padding:1rem;margin:0 0 1rem}
.event article.digest{border:0;padding:0;margin:.6rem 0 0}table.headline{width:auto}
.warning,.warnings{color:#a15c00}q{color:#333}details{margin-top:.6rem}footer{margin-top:.6rem;font-size:.9em}
.empty{color:#666;font-style:italic}
"""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "—"


def _cell(value: object, css: str | None = None) -> str:
    cls = f' class="{escape(css, quote=True)}"' if css else ""
    return f"<td{cls}>{escape('' if value is None else str(value))}</td>"


def _table(headers: Sequence[str], rows: Sequence[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _sources(rows: Sequence[SourceStatus], redact: Callable[[str], str]) -> str:
    body = [
        "<tr>"
        + _cell(s.name)
        + _cell(s.health.replace("_", " "), s.health)
        + _cell(s.failures)
        + _cell(_when(s.last_success_at))
        + _cell(redact(s.last_error) if s.last_error else "")
        + _cell(_when(s.next_poll_at))
        + _cell(s.lease_owner or "")
        + "</tr>"
        for s in rows
    ]
    headers = ("Source", "Health", "Failures", "Last success", "Last error", "Next poll", "Polled by")
    return _table(headers, body, "No source has been polled yet.")


def _document(d: DocumentSummary) -> str:
    kind = escape(d.kind.replace("_", " "))
    counts = f"{d.metrics} figures, {d.guidance} guidance, {d.flags} flags"
    meta = f'<span class="meta">({kind}, {counts}, from {escape(d.source)})</span>'
    return f"<li>{_document_link(d.title or d.key, d.url)} {meta}</li>"


def _event(event: EventSummary, report: Report | None) -> str:
    name = " · ".join(p for p in (event.company, event.ticker) if p) or event.key
    docs = "".join(_document(d) for d in event.documents)
    states = ", ".join(f"{d.platform} {d.target}: {d.state}" for d in event.deliveries)
    digest = render_digest(build_digest(report)) if report is not None else ""
    return (
        f'<section class="event" id="event-{event.id}"><h3>{escape(name)}</h3>'
        f'<p class="meta">event {event.id} · updated {_when(event.updated_at)}'
        f"{' · deliveries: ' + escape(states) if states else ''}</p><ul>{docs}</ul>{digest}</section>"
    )


def _document_link(text: str, url: str | None) -> str:
    href = safe_href(url)
    return f'<a href="{href}" rel="noopener noreferrer">{escape(text)}</a>' if href else escape(text)


def _deliveries(rows: Sequence[DeliveryItem], redact: Callable[[str], str]) -> str:
    body = [
        "<tr>"
        + _cell(d.id)
        + _cell(d.event_id)
        + _cell(" · ".join(p for p in (d.company, d.ticker) if p))
        + _cell(d.platform)
        + _cell(d.target)
        + _cell(d.kind.replace("_", " "))
        + _cell(d.state, d.state)
        + _cell(d.attempts)
        + _cell(_when(d.sent_at))
        + _cell(redact(d.last_error) if d.last_error else "")
        + "</tr>"
        for d in rows
    ]
    headers = ("#", "Event", "Company", "Platform", "Target", "Kind", "State", "Attempts", "Sent", "Error")
    return _table(headers, body, "Nothing has been queued for delivery yet.")


def render_page(
    sources: Sequence[SourceStatus],
    events: Sequence[EventSummary],
    reports: Mapping[int, Report],
    deliveries: Sequence[DeliveryItem],
    *,
    redact: Callable[[str], str] = lambda s: s,
) -> str:
    """The status page: sources and their health, recent events with their digest, deliveries."""
    events_html = "".join(_event(e, reports.get(e.id)) for e in events) or (
        '<p class="empty">No earnings event yet: drop a transcript or press release into the inbox.</p>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="refresh" content="30"><title>earnings-bot status</title>'
        f"<style>{_CSS}</style></head><body><main>"
        f'<h1>earnings-bot</h1><p class="sub">version {escape(__version__)} · read-only, refreshed every 30 s'
        ' · <a href="/metrics">metrics</a> · <a href="/readyz">readiness</a></p>'
        f"<h2>Sources</h2>{_sources(sources, redact)}"
        f"<h2>Recent events</h2>{events_html}"
        f"<h2>Deliveries</h2>{_deliveries(deliveries, redact)}"
        "</main></body></html>"
    )


# --------------------------------------------------------------------------- app


def build_app(
    store: StatusStore,
    checks: Mapping[str, ReadinessCheck],
    *,
    routes: Sequence[BaseRoute] = (),
    redact: Callable[[str], str] = lambda s: s,
) -> Starlette:
    """The service's ASGI app: the platform `routes` (Slack, Teams), health, readiness, metrics, status."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        results = await readiness(checks)
        ready = all(results.values())
        telemetry.READY.set(1 if ready else 0)
        body: dict[str, object] = {"ready": ready, "checks": results}
        if not ready:
            body["not_ready"] = [name for name, ok in results.items() if not ok]
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        try:
            statuses = await store.source_status()
        except StoreError as exc:
            log.warning("metrics: source health not refreshed: %s", exc)
        else:
            telemetry.set_source_health((s.name, s.health == "ok", s.failures) for s in statuses)
        return Response(telemetry.exposition(), media_type=telemetry.CONTENT_TYPE)

    async def status(request: Request) -> Response:
        try:
            sources = await store.source_status()
            events = await store.events(limit=EVENTS_SHOWN)
            recent = await store.deliveries(limit=DELIVERIES_SHOWN)
            reports = await store.event_reports([e.id for e in events])
        except StoreError as exc:
            log.warning("status page: %s", exc)
            return PlainTextResponse("the database is unreachable; see /readyz", status_code=503)
        html = render_page(sources, events, reports, recent, redact=redact)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    own = [
        Route("/", status, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=[*routes, *own])
