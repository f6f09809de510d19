"""The web side: digest HTML escaping, the status page over a real store, /readyz, /healthz and /metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from bot import telemetry
from bot.config import Route
from bot.digest.build import build_digest
from bot.digest.html import render_digest, safe_href
from bot.digest.model import Digest, FigureLine, OutlookLine
from bot.sources.base import SourceState
from bot.store import Store
from bot.web import ReadinessCheck, build_app, readiness
from tests.reports import inbox_transcript

EVIL = '<script>alert("x")</script> & Co'


def _digest(**overrides: object) -> Digest:
    line = FigureLine(key="revenue", label="Revenue", value="$1,234.5M", change="12.5% YoY", trend="up",
                      quote=f"Revenue was {EVIL}", speaker=EVIL, verified=True, warning=EVIL)
    values: dict[str, object] = {
        "title": EVIL, "company": EVIL, "source_label": "Transcript", "footer": EVIL, "headline": (line,),
        "figures": (line,), "warnings": (EVIL,),
        "outlook": (OutlookLine(text=EVIL, quote=EVIL, kind="qualitative", speaker=EVIL, where="Q&A"),),
    }
    values.update(overrides)
    return Digest.model_validate(values)


def test_digest_html_escapes_every_document_string() -> None:
    html = render_digest(_digest())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert "$1,234.5M" in html and "12.5% YoY" in html and "Revenue" in html


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://ir.example.com/q1?a=1&b=2", "https://ir.example.com/q1?a=1&amp;b=2"),
        ("http://example.com/x", "http://example.com/x"),
        ("javascript:alert(1)", None),
        ("  JavaScript:alert(1)", None),
        ("data:text/html,<b>x</b>", None),
        ("file:///data/inbox/call.txt", None),
        ('https://e.com/"onmouseover="x', "https://e.com/&quot;onmouseover=&quot;x"),
        (None, None),
        ("", None),
    ],
)
def test_safe_href(url: str | None, href: str | None) -> None:
    assert safe_href(url) == href


def test_digest_links_only_to_http_urls() -> None:
    assert "href" not in render_digest(_digest(url="javascript:alert(1)"))
    assert 'href="https://ir.example.com/r"' in render_digest(_digest(url="https://ir.example.com/r"))


# --------------------------------------------------------------------------- the app over a real store


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """The `store` fixture (conftest) on SQLite only."""
    return sqlite_url


async def _ok() -> bool:
    return True


async def _no() -> bool:
    return False


async def _boom() -> bool:
    raise RuntimeError("database exploded")


def _client(store: Store, checks: dict[str, ReadinessCheck] | None = None) -> httpx.AsyncClient:
    app = build_app(store, checks if checks is not None else {"database": store.ping},
                    redact=lambda s: s.replace("hunter2", "[redacted]"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test")


async def test_status_page_shows_sources_events_digests_and_deliveries(store: Store) -> None:
    fetched, document, report = inbox_transcript("Kingsoft <Cloud> & Co")
    await store.ingest(fetched, document, report, [Route(platform="console", target="stdout")])
    now = datetime.now(UTC)
    await store.record_poll("inbox", state=SourceState(), error=None, next_poll_at=now + timedelta(seconds=5))
    await store.record_poll("edgar", state=None, error="HTTP 503 with password hunter2",
                            next_poll_at=now + timedelta(seconds=60))
    async with _client(store) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Kingsoft &lt;Cloud&gt; &amp; Co" in html and "<Cloud>" not in html
    assert build_digest(report).headline[0].value in html  # the figure as the channel shows it
    assert "Total revenues were RMB1,775.7 million" in html  # the quote, in the digest's figures
    assert "inbox" in html and "edgar" in html and "HTTP 503" in html
    assert "hunter2" not in html
    assert "console" in html and "pending" in html
    assert 'href="file:' not in html


async def test_an_event_no_route_delivered_still_shows_its_digest(store: Store) -> None:
    fetched, document, report = inbox_transcript("Kingsoft Cloud")
    await store.ingest(fetched, document, report, [])
    assert await store.deliveries() == []
    async with _client(store) as client:
        html = (await client.get("/")).text
    assert build_digest(report).headline[0].value in html


async def test_status_page_before_anything_happened(store: Store) -> None:
    async with _client(store) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert "No earnings event yet" in page.text and "No source has been polled yet" in page.text


@pytest.mark.parametrize(
    ("checks", "status", "not_ready"),
    [
        ({"database": _ok, "scheduler": _ok}, 200, None),
        ({"database": _ok, "scheduler": _no}, 503, ["scheduler"]),
        ({"database": _boom, "scheduler": _ok, "slack_socket": _no}, 503, ["database", "slack_socket"]),
    ],
)
async def test_readyz(store: Store, checks: dict[str, ReadinessCheck], status: int,
                      not_ready: list[str] | None) -> None:
    async with _client(store, checks) as client:
        answer = await client.get("/readyz")
    assert answer.status_code == status
    body = answer.json()
    assert body["ready"] is (status == 200)
    assert body.get("not_ready") == not_ready
    assert set(body["checks"]) == set(checks)


async def test_a_hanging_check_counts_as_not_ready() -> None:
    async def hang() -> bool:
        await asyncio.sleep(30)
        return True

    assert await readiness({"database": hang, "scheduler": _ok}, timeout=0.1) == {
        "database": False, "scheduler": True}


async def test_healthz_answers_without_the_database(store: Store) -> None:
    async with _client(store, {"database": _no}) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_metrics_exposition(store: Store) -> None:
    now = datetime.now(UTC)
    await store.record_poll("rss-a", state=None, error="timeout", next_poll_at=now)
    before = _sample("earnings_bot_polls_total", {"source": "rss-a", "outcome": "error"})
    telemetry.record_poll("rss-a", ok=False)
    telemetry.record_delivery("slack", "sent")
    telemetry.COMMAND_LATENCY.labels(platform="slack").observe(0.42)
    async with _client(store) as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert _sample("earnings_bot_polls_total", {"source": "rss-a", "outcome": "error"}) == before + 1
    assert 'earnings_bot_source_up{source="rss-a"} 0.0' in text
    assert 'earnings_bot_source_consecutive_failures{source="rss-a"} 1.0' in text
    assert 'earnings_bot_deliveries_total{outcome="sent",platform="slack"}' in text
    assert 'earnings_bot_command_latency_seconds_bucket{le="0.5",platform="slack"}' in text


def test_unknown_delivery_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="delivery outcome"):
        telemetry.record_delivery("slack", "maybe")


def test_build_digest_renders_on_the_page_as_the_channel_sees_it() -> None:
    _, _, report = inbox_transcript("Kingsoft Cloud")
    html = render_digest(build_digest(report))
    assert html.startswith('<article class="digest"') and html.endswith("</article>")
    assert "Kingsoft Cloud" in html and "Q1 2024" in html
