"""Query + store -> Answer: the command engine's answers, the same on every chat platform."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

from bot.commands import (
    Company,
    Directory,
    Query,
    base_key,
    find_metric,
    metric_basis,
    metric_words,
    norm,
    period_of,
    quarter_label,
    suggest_metrics,
    wanted_basis,
)
from bot.digest.build import KIND_LABEL, SOURCE_LABEL, build_digest, figure_line, outlook_line
from bot.digest.model import Answer, FigureLine, Table
from bot.errors import QueryError
from bot.extract.metrics import find_metric_key
from bot.models import CompanyConfig, Metric, Period, Report

log = logging.getLogger(__name__)

_HISTORY_LIMIT = 8
_PERIOD_SEARCH = 40
T = TypeVar("T")


class AnswerStore(Protocol):
    """The part of the Store the answer engine reads and writes."""

    async def latest_report(self, ticker: str) -> Report | None: ...
    async def reports(self, ticker: str, limit: int = 8) -> list[Report]: ...
    async def companies(self) -> list[tuple[str | None, str | None]]: ...
    async def watch(self, platform: str, channel: str, ticker: str) -> bool: ...
    async def unwatch(self, platform: str, channel: str, ticker: str) -> bool: ...
    async def watchlist(self, platform: str, channel: str) -> list[str]: ...


class CachedStore:
    """The answer engine's reads through a short-lived cache: a burst of commands (50 people asking about
    the same call) shares one store read per ticker, and concurrent misses wait for the same read.

    Reports are kept `ttl` seconds (an answer may lag a newly stored document by that much); the list of
    known companies `directory_ttl` seconds. Watchlists are never cached. Failed reads are not kept."""

    def __init__(self, store: AnswerStore, *, ttl: float = 5.0, directory_ttl: float = 60.0) -> None:
        self._store = store
        self._ttl = ttl
        self._directory_ttl = directory_ttl
        self._entries: dict[tuple[Any, ...], tuple[float, asyncio.Future[Any]]] = {}

    async def _get(self, key: tuple[Any, ...], ttl: float, read: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or entry[0] < now:
            task: asyncio.Future[Any] = asyncio.ensure_future(read())
            self._entries[key] = (now + ttl, task)
            task.add_done_callback(lambda done: self._forget_failed(key, done))
            entry = self._entries[key]
        # shielded: a waiter whose command is cancelled does not cancel the read the others wait for
        return cast(T, await asyncio.shield(entry[1]))

    def _forget_failed(self, key: tuple[Any, ...], done: asyncio.Future[Any]) -> None:
        if (done.cancelled() or done.exception() is not None) and self._entries.get(key, (0, None))[1] is done:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    async def latest_report(self, ticker: str) -> Report | None:
        return await self._get(("latest", ticker), self._ttl, lambda: self._store.latest_report(ticker))

    async def reports(self, ticker: str, limit: int = 8) -> list[Report]:
        return await self._get(("reports", ticker, limit), self._ttl, lambda: self._store.reports(ticker, limit))

    async def companies(self) -> list[tuple[str | None, str | None]]:
        return await self._get(("companies",), self._directory_ttl, self._store.companies)

    async def watch(self, platform: str, channel: str, ticker: str) -> bool:
        return await self._store.watch(platform, channel, ticker)

    async def unwatch(self, platform: str, channel: str, ticker: str) -> bool:
        return await self._store.unwatch(platform, channel, ticker)

    async def watchlist(self, platform: str, channel: str) -> list[str]:
        return await self._store.watchlist(platform, channel)


@lru_cache(maxsize=8)
def _directory(companies: tuple[CompanyConfig, ...], stored: tuple[tuple[str | None, str | None], ...]) -> Directory:
    return Directory(companies, stored)


def _no_metric(report: Report, text: str, company: Company) -> QueryError:
    suggestions = suggest_metrics(report, text)
    if suggestions:
        return QueryError(f'No metric "{text}" for {company.ticker}. Did you mean: {", ".join(suggestions)}?',
                          suggestions)
    have = tuple(dict.fromkeys(m.name for m in report.metrics))[:8]
    tail = f" It reports: {', '.join(have)}." if have else ""
    return QueryError(f'No metric "{text}" for {company.ticker} in {_period_label(report)}.{tail}', have)


def _metric_or_raise(report: Report, text: str, company: Company, period: Period | None) -> Metric:
    metric = find_metric(report, text, period)
    if metric is None:
        raise _no_metric(report, text, company)
    return metric


# --------------------------------------------------------------------------- reports


def _period_label(report: Report) -> str:
    p = report.period
    if p.label:
        return p.label
    if p.fiscal_year is not None:
        return quarter_label(p.fiscal_year, p.fiscal_quarter)
    return "latest document"


def _source(report: Report) -> str:
    """'Q1 2024 earnings call (transcript)': what a figure's quote comes from."""
    return f"{_period_label(report)} {KIND_LABEL[report.kind]} ({SOURCE_LABEL[report.kind].lower()})"


def _same_period(report: Report, want: Period) -> bool:
    p = report.period
    if p.fiscal_year != want.fiscal_year:
        return False
    if want.fiscal_quarter is None:
        return p.fiscal_quarter in (None, 4)
    return p.fiscal_quarter == want.fiscal_quarter


async def _report(store: AnswerStore, company: Company, period: Period | None) -> Report:
    report = await store.latest_report(company.ticker)
    if report is None:
        raise QueryError(f"No reports for {company.label} yet.")
    if period is None or _same_period(report, period):
        return report
    reports = await store.reports(company.ticker, limit=_PERIOD_SEARCH)
    for report in reports:
        if _same_period(report, period):
            return report
    have = tuple(dict.fromkeys(_period_label(r) for r in reports))
    tail = f" The store has: {', '.join(have)}." if have else ""
    raise QueryError(f"No {period.label} report for {company.label}.{tail}", have)


# --------------------------------------------------------------------------- answers


def help_answer() -> Answer:
    return Answer(
        title="Earnings bot: the latest figures, traced to the sentence that said them",
        lines=(
            "KC  or  kingsoft cloud: the latest earnings digest",
            "KC revenue,  KC adjusted ebitda margin,  KC capex Q1 2024: one figure, its change and its quote",
            "KC guidance: what management said about the future",
            "KC revenue history: the last quarters in a table, newest first",
            "compare KC BIDU revenue: one figure across companies",
            "watch KC,  unwatch KC,  watchlist: digests for this channel",
        ),
        shareable=False,
    )


async def _digest(store: AnswerStore, company: Company, period: Period | None, lang: str) -> Answer:
    report = await _report(store, company, period)
    digest = build_digest(report, lang=lang)
    return Answer(title=digest.title, digest=digest, source_label=digest.source_label, url=digest.url)


async def _figure(store: AnswerStore, company: Company, text: str, period: Period | None) -> Answer:
    report = await _report(store, company, period)
    metric = _metric_or_raise(report, text, company, period)
    line = figure_line(metric)
    lines: tuple[str, ...] = ()
    words = metric_words(text)
    wanted = wanted_basis(words, find_metric_key(words))
    if wanted is not None and metric_basis(metric) != wanted:
        other = "non-GAAP (adjusted)" if metric_basis(metric) == "adjusted" else "GAAP"
        said = "adjusted" if wanted == "adjusted" else "GAAP"
        lines = (f"No {said} figure in this report; this is the {other} one.",)
    title = f"{company.label} · {_period_label(report)} · {line.label}"
    return Answer(title=title, figures=(line,), lines=lines, source_label=_source(report), url=report.url)


async def _guidance(store: AnswerStore, company: Company, text: str, period: Period | None) -> Answer:
    report = await _report(store, company, period)
    guidance = report.guidance
    if text:
        guidance = tuple(g for g in guidance if g.metric is not None and _same_metric(g.metric, text))
    source = _source(report)
    title = f"{company.label} · {_period_label(report)} · Outlook" + (f" for {text}" if text else "")
    if not guidance:
        what = f"about {text} " if text else ""
        return Answer(title=title, lines=(f"No guidance or outlook {what}in {source}.",), source_label=source,
                      url=report.url)
    return Answer(title=title, outlook=tuple(outlook_line(g) for g in guidance), source_label=source,
                  url=report.url)


def _same_metric(named: str, text: str) -> bool:
    """Whether a guidance's metric (a key like 'gross_margin' or a name like 'Gross margin') is the user's."""
    if norm(named.replace("_", " ")) == norm(metric_words(text)):
        return True
    wanted, said = find_metric_key(metric_words(text)), find_metric_key(named.replace("_", " "))
    return wanted is not None and said is not None and base_key(wanted) == base_key(said)


def _row(label: str, line: FigureLine) -> tuple[str, ...]:
    checked = "✓" if line.verified else ("✗" if line.verified is False else "")
    return (label, line.value, line.change or "", checked)


async def _history(store: AnswerStore, company: Company, text: str) -> Answer:
    if not text:
        raise QueryError(f"Say which figure, e.g. {company.ticker} revenue history.")
    reports = await store.reports(company.ticker, limit=_HISTORY_LIMIT)
    if not reports:
        raise QueryError(f"No reports for {company.label} yet.")
    rows: list[tuple[str, ...]] = []
    label: str | None = None
    for report in reports:
        metric = find_metric(report, text, period_of(report))
        if metric is None:
            continue
        line = figure_line(metric)
        label = label or line.label
        rows.append(_row(_period_label(report), line))
    if label is None:
        raise _no_metric(reports[0], text, company)
    table = Table(columns=("Period", label, "Change", "Checked"), rows=tuple(rows))
    missing = len(reports) - len(rows)
    lines = (f"{missing} stored period(s) without this figure.",) if missing else ()
    return Answer(title=f"{company.label} · {label} by quarter", table=table, lines=lines)


async def _compare(store: AnswerStore, directory: Directory, query: Query) -> Answer:
    companies, rest = directory.leading(query.words)
    text = " ".join(rest)
    if len(companies) < 2:
        if rest and directory.suggest(rest[0]):
            raise directory.unknown(rest[0])
        raise QueryError("Name two or more companies and a figure, e.g. compare KC BIDU revenue.")
    if not text:
        raise QueryError(f"Say which figure to compare, e.g. compare {' '.join(c.ticker for c in companies)} revenue.")
    rows: list[tuple[str, ...]] = []
    label: str | None = None
    errors: list[QueryError] = []
    for company in companies:
        try:
            report = await _report(store, company, query.period)
            line = figure_line(_metric_or_raise(report, text, company, query.period))
        except QueryError as exc:
            errors.append(exc)
            rows.append((company.label, "", "not reported", "", ""))
            continue
        label = label or line.label
        rows.append((company.label, *_row(_period_label(report), line)))
    if label is None:
        raise errors[0]
    table = Table(columns=("Company", "Period", label, "Change", "Checked"), rows=tuple(rows))
    return Answer(title=f"{label}: {' vs '.join(c.ticker for c in companies)}", table=table)


async def _watch(store: AnswerStore, directory: Directory, query: Query, platform: str, channel: str | None) -> Answer:
    if channel is None:
        raise QueryError("Watchlists belong to a channel: run this in the channel that should get the digests.")
    if query.action == "watchlist":
        tickers = await store.watchlist(platform, channel)
        if not tickers:
            return Answer(title="This channel watches no companies yet.", lines=('Add one with "watch KC".',))
        names = [(directory.find(t) or Company(t)).label for t in tickers]
        return Answer(title=f"This channel watches {len(names)} compan{'y' if len(names) == 1 else 'ies'}",
                      lines=tuple(names))
    companies, rest = directory.leading(query.words)
    if rest:
        raise directory.unknown(" ".join(rest))
    if not companies:
        raise QueryError(f"Name a company to {query.action}, e.g. {query.action} KC.")
    lines: list[str] = []
    for company in companies:
        if query.action == "watch":
            added = await store.watch(platform, channel, company.ticker)
            done = f"Now watching {company.label} here." if added else f"{company.label} was already watched here."
        else:
            removed = await store.unwatch(platform, channel, company.ticker)
            done = f"Stopped watching {company.label} here." if removed else f"{company.label} was not watched here."
        lines.append(done)
    if len(lines) == 1:
        return Answer(title=lines[0], shareable=False)
    return Answer(title="Watchlist updated", lines=tuple(lines), shareable=False)


async def answer(
    query: Query,
    store: AnswerStore,
    *,
    companies: Sequence[CompanyConfig],
    platform: str,
    channel: str | None,
    lang: str = "en",
) -> Answer:
    """Answer one query from the store. Unknown companies, metrics and periods give ok=False with suggestions;
    StoreError propagates (the adapter tells the user the store is unavailable)."""
    if query.action == "help":
        return help_answer()
    try:
        directory = _directory(tuple(companies), tuple(await store.companies()))
        if query.action in ("watch", "unwatch", "watchlist"):
            return await _watch(store, directory, query, platform, channel)
        if query.action == "compare":
            return await _compare(store, directory, query)
        company, rest = directory.split(query.words)
        if query.action == "guidance":
            return await _guidance(store, company, rest, query.period)
        if query.action == "history":
            return await _history(store, company, rest)
        if rest:
            return await _figure(store, company, rest, query.period)
        return await _digest(store, company, query.period, lang)
    except QueryError as exc:
        log.info("query not answered", extra={"platform": platform, "status": "not_found"})
        return Answer(ok=False, title=str(exc), suggestions=exc.suggestions, shareable=False)
