"""Slash-command round trips: 50 concurrent signed /earnings requests against a store of 1,000 reports.

The app runs in HTTP mode under uvicorn on 127.0.0.1 in a process of its own (as in production),
answering from a SQLite store; its replies go to the fake Slack's response_url. Measured per command: the
ack (the HTTP answer Slack waits 3 s for) and the round trip (request sent -> reply received on the
response_url). Target: round-trip p99 <= 100 ms.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing import Queue
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import uvicorn
from pydantic import SecretStr

from bot.config import BotConfig, Settings
from bot.models import Change, CompanyConfig, Document, Guidance, Metric, Period, Prior, Report
from bot.platforms.slack import build_slack
from bot.sources.base import FetchedDocument
from bot.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakeslack import BOT_TOKEN, FakeSlack  # the test suite's fake Slack server

SECRET = "bench-signing-secret"
TICKERS = 100
QUARTERS = 10  # 100 tickers x 10 quarters = 1,000 reports
CONCURRENCY = 50
ROUNDS = 6
QUERIES = (
    "T{n:03d}",
    "T{n:03d} revenue",
    "T{n:03d} adjusted ebitda margin",
    "T{n:03d} capex Q2 2023",
    "T{n:03d} guidance",
    "T{n:03d} revenue history",
    "compare T{n:03d} T{m:03d} revenue",
    "T{n:03d} ebita",
)


def _metric(key: str, name: str, value: float, unit: str, basis: str | None = None) -> Metric:
    text = f"{value:,.1f}"
    quote = f"{name} was {text} in the quarter, the company said."
    return Metric(key=key, name=name, value=value, unit=unit, basis=basis, quote=quote, value_text=text,
                  start=0, end=len(quote), speaker="CFO", verified=True, change=Change(qoq_pct=2.0),
                  prior=Prior(prior_quarter=value / 1.02))


def _report(t: int, year: int, quarter: int) -> Report:
    scale = 1.0 + t / 10 + quarter / 100
    metrics = (
        _metric("revenue", "Total revenues", 1.5e9 * scale, "USD"),
        _metric("gross_margin", "Gross margin", 40.0 + quarter, "%"),
        _metric("adjusted_gross_margin", "Adjusted gross margin", 42.0 + quarter, "%", "adjusted"),
        _metric("adjusted_ebitda", "Adjusted EBITDA", 2.0e8 * scale, "USD", "adjusted"),
        _metric("adjusted_ebitda_margin", "Adjusted EBITDA margin", 12.0 + quarter / 10, "%", "adjusted"),
        _metric("net_income", "Net income", 1.0e8 * scale, "USD"),
        _metric("capex", "Capex", 3.0e8 * scale, "USD"),
        _metric("free_cash_flow", "Free cash flow", 1.2e8 * scale, "USD"),
    )
    guidance = (Guidance(metric="revenue", low=1.6e9 * scale, high=1.7e9 * scale, unit="USD", kind="numeric",
                         text="Next quarter revenue of 1.6 to 1.7 billion", quote="We expect revenue of 1.6 to 1.7.",
                         start=0, end=33, speaker="CFO"),)
    return Report(company=f"Company {t:03d}", ticker=f"T{t:03d}", kind="transcript",
                  period=Period(fiscal_year=year, fiscal_quarter=quarter, label=f"Q{quarter} {year}"),
                  currency="USD", url=f"https://ir.example.test/T{t:03d}/{year}q{quarter}", metrics=metrics,
                  guidance=guidance)


async def _fill(url: str) -> None:
    store = await Store.open(url)
    try:
        for t in range(TICKERS):
            for i in range(QUARTERS):
                year, quarter = 2022 + i // 4, i % 4 + 1
                report = _report(t, year, quarter)
                text = f"T{t:03d} {year} Q{quarter} " + " ".join(m.quote for m in report.metrics)
                fetched = FetchedDocument(source="bench", key=f"T{t:03d}-{year}-{quarter}", content=text.encode(),
                                          ticker=report.ticker)
                await store.ingest(fetched, Document(text=text, kind="transcript", format="text"), report, ())
    finally:
        await store.close()


def _serve_app(db_url: str, api_url: str, ports: Queue[int]) -> None:
    """The app process: the Slack app under uvicorn on 127.0.0.1, as the service runs it."""

    async def serve() -> None:
        store = await Store.open(db_url)
        settings = Settings(slack_bot_token=SecretStr(BOT_TOKEN), slack_signing_secret=SecretStr(SECRET),
                            slack_api_url=api_url)
        companies = tuple(CompanyConfig(ticker=f"T{t:03d}", name=f"Company {t:03d}") for t in range(TICKERS))
        app = build_slack(settings, store, BotConfig(companies=companies))
        server = uvicorn.Server(uvicorn.Config(app.asgi, host="127.0.0.1", port=0, lifespan="off",
                                               log_level="error", access_log=False))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        ports.put(server.servers[0].sockets[0].getsockname()[1])
        await task

    asyncio.run(serve())


def _signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={sig}",
            "Content-Type": "application/x-www-form-urlencoded"}


async def _one(client: aiohttp.ClientSession, url: str, slack: FakeSlack, n: int) -> tuple[float, float]:
    """One signed /earnings command; (ack ms, monotonic send time)."""
    text = QUERIES[n % len(QUERIES)].format(n=n % TICKERS, m=(n + 1) % TICKERS)
    body = urlencode({"team_id": "T0FAKE001", "channel_id": "C0BENCH01", "user_id": "U0BENCH01",
                      "command": "/earnings", "text": text, "response_url": slack.response_url(f"b{n}"),
                      "trigger_id": "1.2.3", "api_app_id": "A0FAKE001"})
    started = time.monotonic()
    async with client.post(url, data=body.encode(), headers=_signed(body)) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"slack bench: {text!r} got HTTP {response.status}")
    return (time.monotonic() - started) * 1000, started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(url: str, slack: FakeSlack) -> tuple[list[float], list[float], list[float]]:
    """Rounds of CONCURRENCY commands at once: ack times, reply times of the first ask about each company
    (store reads), and reply times of the others (mostly served from the app's short read cache)."""
    acks: list[float] = []
    first: list[float] = []
    again: list[float] = []
    seen: set[int] = set()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        await _one(client, url, slack, -1)  # one command to open the app's connections
        for r in range(ROUNDS):
            batch = range(r * CONCURRENCY, (r + 1) * CONCURRENCY)
            results = await asyncio.gather(*(_one(client, url, slack, n) for n in batch))
            sent = {f"b{n}": (n, at) for n, (_, at) in zip(batch, results, strict=True)}

            def arrived(sent: dict[str, tuple[int, float]] = sent) -> bool:
                return sum(1 for c in slack.calls("response_url") if c.path.rsplit("/", 1)[-1] in sent) >= len(sent)

            await slack.wait_for(arrived, 60)
            for call in slack.calls("response_url"):
                n, at = sent.pop(call.path.rsplit("/", 1)[-1], (None, 0.0))
                if n is not None:
                    (again if n % TICKERS in seen else first).append((call.at - at) * 1000)
            seen.update(n % TICKERS for n in batch)
            acks.extend(ms for ms, _ in results)
    return acks, first, again


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        asyncio.run(_fill(db_url))
        fill_s = time.perf_counter() - t0
        context = multiprocessing.get_context("spawn")
        ports: Queue[int] = context.Queue()
        app = context.Process(target=_serve_app, args=(db_url, slack.api_url, ports), daemon=True)
        app.start()
        try:
            port = ports.get(timeout=60)
            acks, first, again = asyncio.run(_measure(f"http://127.0.0.1:{port}/slack/events", slack))
        finally:
            app.terminate()
            app.join(10)
    replies = first + again
    print(f"slack store: {TICKERS * QUARTERS} reports (SQLite), filled in {fill_s:.1f} s")
    print(f"slack commands: {len(acks)} in rounds of {CONCURRENCY} concurrent, {len(QUERIES)} query forms")
    print(f"slack ack p50: {statistics.median(acks):.1f} ms (signed POST -> HTTP 200, what Slack waits for)")
    print(f"slack ack p99: {_pct(acks, 0.99):.1f} ms (target <= 100 ms)")
    print(f"slack reply p50: {statistics.median(replies):.1f} ms (signed POST -> answer at the response_url)")
    print(f"slack reply p99: {_pct(replies, 0.99):.1f} ms")
    print(f"slack reply p99, first ask per company: {_pct(first, 0.99):.1f} ms ({len(first)} commands)")
    print(f"slack reply p99, repeat asks: {_pct(again, 0.99):.1f} ms ({len(again)} commands)")


if __name__ == "__main__":
    main()
