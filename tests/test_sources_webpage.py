"""IR web page source: link selection by CSS selector or regex, HTML and PDF documents, conditional GET."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from httpserver import LocalServer, Reply
from pydantic import ValidationError

from bot.errors import SourceError
from bot.sources.base import SourceState
from bot.sources.webpage import WebpageSource, WebpageSpec, extract_links

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
PAGE = "https://ir.acme.example/investors/news"
Q3_PDF = "/investors/news/2025/acme-q3-2025-results.pdf"
DIVIDEND = "/investors/news/2025/acme-dividend.html"
Q2_HTML = "/investors/news/2025/acme-q2-2025-results.html"


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose content stream draws `text` in Helvetica (enough for pypdf to extract)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


RELEASE_PDF = minimal_pdf("Acme Widgets third quarter 2025 revenue was $412.3 million.")


def serve_site(server: LocalServer) -> None:
    server.route("/investors/news", Reply.ok((FIXTURES / "ir_news.html").read_bytes(), etag='"p1"'))
    server.route(Q3_PDF, Reply.ok(RELEASE_PDF, "application/pdf"))
    server.route(DIVIDEND, Reply.ok("<p>Quarterly dividend of $0.25 per share.</p>"))
    server.route(Q2_HTML, Reply.ok((FIXTURES / "acme_q3_release.html").read_bytes()))


def site(server: LocalServer, **extra: Any) -> WebpageSource:
    fields = {"name": "acme_ir", "url": PAGE, "base_url": server.base_url, "tickers": ("ACME",), **extra}
    return WebpageSource(WebpageSpec.model_validate(fields))


@pytest.mark.parametrize(
    ("selector", "pattern", "expected"),
    [
        (
            "li.news-item a",
            None,
            [
                "https://ir.acme.example/investors/news/2025/acme-q3-2025-results.pdf",
                "https://ir.acme.example/investors/news/2025/acme-dividend.html",
                "https://cdn.acme.example/investors/news/2025/acme-q2-2025-results.html",
            ],
        ),
        (
            "ul.news-list",
            r"results",
            [
                "https://ir.acme.example/investors/news/2025/acme-q3-2025-results.pdf",
                "https://cdn.acme.example/investors/news/2025/acme-q2-2025-results.html",
            ],
        ),
        (
            None,
            r"/news/(archive|20\d\d/)",
            [
                "https://ir.acme.example/investors/news/2025/acme-q3-2025-results.pdf",
                "https://ir.acme.example/investors/news/2025/acme-dividend.html",
                "https://cdn.acme.example/investors/news/2025/acme-q2-2025-results.html",
                "https://ir.acme.example/investors/news/archive",
            ],
        ),
        ("nav", None, ["https://ir.acme.example/", "https://ir.acme.example/investors/events"]),
    ],
)
def test_extract_links(selector: str | None, pattern: str | None, expected: list[str]) -> None:
    links = extract_links(
        (FIXTURES / "ir_news.html").read_bytes(), PAGE, selector, re.compile(pattern) if pattern else None
    )
    assert [link.url for link in links] == expected


def test_link_text_is_the_title() -> None:
    links = extract_links((FIXTURES / "ir_news.html").read_bytes(), PAGE, "li.news-item a", None)
    assert links[0].text == "Acme Widgets Reports Third Quarter 2025 Results"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "selector or a link_pattern"),
        ({"selector": "li >> a"}, "not a valid CSS selector"),
        ({"link_pattern": "([a-z"}, "link_pattern"),
        ({"selector": "a", "url": "news.html"}, "absolute http"),
    ],
)
def test_spec_validation(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        WebpageSpec.model_validate({"name": "acme_ir", "url": PAGE, **fields})


async def test_poll_fetches_pdf_and_html_then_waits(server: LocalServer, client: httpx.AsyncClient) -> None:
    serve_site(server)
    source = site(server, selector="li.news-item a")
    first = await source.poll(client, SourceState())
    by_key = {d.key: d for d in first.documents}
    assert list(by_key) == [
        "https://cdn.acme.example/investors/news/2025/acme-q2-2025-results.html",
        "https://ir.acme.example/investors/news/2025/acme-dividend.html",
        "https://ir.acme.example/investors/news/2025/acme-q3-2025-results.pdf",
    ]
    pdf = by_key["https://ir.acme.example/investors/news/2025/acme-q3-2025-results.pdf"]
    assert pdf.content_type == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "$412.3 million" in text
    assert (pdf.title, pdf.ticker, pdf.form) == (
        "Acme Widgets Reports Third Quarter 2025 Results",
        "ACME",
        "press_release",
    )
    assert pdf.url == server.url(Q3_PDF)

    again = await source.poll(client, first.state)  # 304 on the page
    assert again.documents == () and again.state == first.state
    assert server.requests_to("/investors/news")[-1].headers["if-none-match"] == '"p1"'

    server.route("/investors/news", Reply.ok((FIXTURES / "ir_news.html").read_bytes(), etag='"p2"'))
    changed = await source.poll(client, first.state)
    assert changed.documents == ()  # every link already seen
    assert len(server.requests_to(Q3_PDF)) == 1


async def test_max_links_limits_the_page(server: LocalServer, client: httpx.AsyncClient) -> None:
    serve_site(server)
    result = await site(server, selector="li.news-item a", max_links=1).poll(client, SourceState())
    assert [d.key for d in result.documents] == [
        "https://ir.acme.example/investors/news/2025/acme-q3-2025-results.pdf"
    ]


async def test_failed_link_is_logged_and_retried(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    serve_site(server)
    server.route(DIVIDEND, Reply.reset(), Reply.ok("<p>dividend</p>"))
    source = site(server, link_pattern=r"/20\d\d/")
    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        first = await source.poll(client, SourceState())
    dividend = "https://ir.acme.example/investors/news/2025/acme-dividend.html"
    assert dividend not in first.state.seen and len(first.documents) == 2
    assert any(getattr(r, "key", None) == dividend and r.source == "acme_ir" for r in caplog.records)  # type: ignore[attr-defined]
    retry = await source.poll(client, first.state)
    assert [d.key for d in retry.documents] == [dividend]


async def test_backfill_returns_current_links_for_its_ticker(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    serve_site(server)
    source = site(server, selector="li.news-item a")
    assert await source.backfill(client, "OTHER", 4) == ()
    docs = await source.backfill(client, "acme", 4)
    assert len(docs) == 3 and docs[0].content == RELEASE_PDF


async def test_page_fault_names_the_source(server: LocalServer, client: httpx.AsyncClient) -> None:
    server.route("/investors/news", Reply.status(503, headers={"Retry-After": "12"}))
    with pytest.raises(SourceError) as info:
        await site(server, selector="a").poll(client, SourceState())
    assert "source acme_ir" in str(info.value) and info.value.retry_after == 12.0
