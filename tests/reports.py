"""Small invented reports (Kingsoft Cloud and Baidu quarters) and the ways tests put reports into a store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.errors import StoreError
from bot.models import Change, CompanyConfig, Document, Guidance, Metric, Period, Prior, Report
from bot.sources.base import FetchedDocument
from bot.store import Store

COMPANIES = (
    CompanyConfig(ticker="KC", name="Kingsoft Cloud", aliases=("Kingsoft Cloud Holdings",)),
    CompanyConfig(ticker="BIDU", name="Baidu"),
)


def metric(key: str, name: str, value: float, unit: str = "RMB", *, basis: str | None = None,
           change: Change | None = None, prior: Prior | None = None, verified: bool | None = None,
           speaker: str | None = "Jane Roe", period: str | None = None) -> Metric:
    text = f"{value:,.1f}" if unit == "%" else f"RMB{value / 1e6:,.1f} million"
    quote = f"{name} came in at {text} this quarter."
    return Metric(
        key=key, name=name, value=value, unit=unit, basis=basis,
        change=change or Change(), prior=prior or Prior(), quote=quote, speaker=speaker, verified=verified,
        value_text=text, start=0, end=len(quote), period=period,
    )


def report(ticker: str, company: str, year: int, quarter: int, metrics: tuple[Metric, ...],
           guidance: tuple[Guidance, ...] = (), kind: str = "transcript") -> Report:
    return Report(
        company=company, ticker=ticker, kind=kind, period=Period(fiscal_year=year, fiscal_quarter=quarter,
                                                                  label=f"Q{quarter} {year}"),
        currency="RMB", title=f"{company} Q{quarter} {year}", url=f"https://ir.example.test/{ticker}/{year}q{quarter}",
        metrics=metrics, guidance=guidance,
    )


OUTLOOK = Guidance(
    metric="gross_margin", kind="qualitative", text="Margins to keep improving over the next quarters",
    quote="We expect our margins to keep improving over the next several quarters.", speaker="Jane Roe",
    start=0, end=70, section="qa",
)

KC_Q1_2024 = report("KC", "Kingsoft Cloud", 2024, 1, (
    metric("revenue", "Total revenues", 1_800.0e6, change=Change(qoq_pct=2.5), prior=Prior(prior_quarter=1_756.1e6),
           verified=True),
    metric("adjusted_ebitda", "Adjusted EBITDA", 40.0e6, basis="adjusted"),
    metric("adjusted_ebitda_margin", "Adjusted EBITDA margin", 2.2, "%", basis="adjusted",
           change=Change(yoy_pp=9.0), prior=Prior(prior_year=-6.8), verified=True),
    metric("gross_margin", "Gross margin", 15.0, "%"),
    metric("adjusted_gross_margin", "Adjusted gross margin", 16.0, "%", basis="adjusted"),
    metric("capex", "Capex", 1_200.0e6),
    metric("ai_revenue", "AI revenue", 150.0e6, change=Change(qoq_pct=90.0)),
), guidance=(OUTLOOK,))
KC_Q4_2023 = report("KC", "Kingsoft Cloud", 2023, 4, (
    metric("revenue", "Total revenues", 1_756.1e6, change=Change(qoq_pct=9.7)),
    metric("capex", "Capex", 600.0e6),
    metric("adjusted_ebitda_margin", "Adjusted EBITDA margin", -1.0, "%", basis="adjusted"),
), kind="press_release")
KC_Q3_2023 = report("KC", "Kingsoft Cloud", 2023, 3, (metric("revenue", "Total revenues", 1_600.0e6),))
BIDU_Q1_2024 = report("BIDU", "Baidu", 2024, 1, (
    metric("revenue", "Total revenues", 31_500.0e6, change=Change(yoy_pct=1.2)),
))
REPORTS = (KC_Q3_2023, KC_Q4_2023, KC_Q1_2024, BIDU_Q1_2024)


async def seed(store: Store, reports: tuple[Report, ...] = REPORTS) -> None:
    """Ingest each report as its own document (no routes: nothing queued)."""
    for i, r in enumerate(reports):
        text = f"document {i}: {r.company} {r.period.label} " + " ".join(m.quote for m in r.metrics)
        fetched = FetchedDocument(source="test", key=f"doc-{i}", url=r.url, content=text.encode(), ticker=r.ticker)
        await store.ingest(fetched, Document(text=text, kind=r.kind, format="text"), r, ())


@asynccontextmanager
async def open_store(url: str, reports: tuple[Report, ...] = ()) -> AsyncIterator[Store]:
    """The store at `url`, holding `reports` (see `seed`), closed on the way out."""
    opened = await Store.open(url)
    try:
        await seed(opened, reports)
        yield opened
    finally:
        await opened.close()


def inbox_transcript(company: str) -> tuple[FetchedDocument, Document, Report]:
    """A one-figure Q1 2024 call of `company` (ticker KCX) as dropped in the inbox: what `Store.ingest` takes."""
    quote = "Total revenues were RMB1,775.7 million, up 3.1% quarter-over-quarter."
    revenue = Metric(key="revenue", name="Total revenues", value=1_775_700_000.0, unit="CNY", quote=quote,
                     value_text="RMB1,775.7 million", start=0, end=len(quote), speaker="Finance Chief")
    call = Report(company=company, ticker="KCX", kind="transcript",
                  period=Period(fiscal_year=2024, fiscal_quarter=1, label="Q1 2024"), metrics=(revenue,),
                  url="https://ir.example.com/kcx-q1")
    document = Document(text=quote, kind="transcript", format="text", company=company, ticker="KCX")
    fetched = FetchedDocument(source="inbox", key="call.txt:1:1", content=quote.encode(), ticker="KCX",
                              url="file:///inbox/call.txt", title="call")
    return fetched, document, call


class CountingStore:
    """A store that counts its reads, can fail once, and answers only when the test lets it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def latest_report(self, ticker: str) -> Report | None:
        self.reads.append(f"latest {ticker}")
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise StoreError("store: latest_report failed: OperationalError")
        return await self.store.latest_report(ticker)

    async def reports(self, ticker: str, limit: int = 8) -> list[Report]:
        self.reads.append(f"reports {ticker}")
        return await self.store.reports(ticker, limit)

    async def companies(self) -> list[tuple[str | None, str | None]]:
        self.reads.append("companies")
        return await self.store.companies()

    async def watch(self, platform: str, channel: str, ticker: str) -> bool:
        return await self.store.watch(platform, channel, ticker)

    async def unwatch(self, platform: str, channel: str, ticker: str) -> bool:
        return await self.store.unwatch(platform, channel, ticker)

    async def watchlist(self, platform: str, channel: str) -> list[str]:
        self.reads.append("watchlist")
        return await self.store.watchlist(platform, channel)
