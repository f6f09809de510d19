"""An IR "news" or "events" HTML page: new links matching a CSS selector or a regex become documents."""

from __future__ import annotations

import logging
import re
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from pydantic import field_validator, model_validator
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from bot.errors import SourceError
from bot.models import Frozen
from bot.sources.base import (
    FetchedDocument,
    PollResult,
    SourceSpec,
    SourceState,
    fetch_items,
    poll_listing,
    rebase,
    with_source,
)
from bot.sources.http import Fetched, fetch, redact

logger = logging.getLogger(__name__)


class WebpageSpec(SourceSpec):
    """A page listing documents. Links are those under `selector` (CSS) and/or matching `link_pattern`.

    Only the first `max_links` matching links (pages list newest first) are considered each poll.
    With `base_url` set, the page and its links are fetched from that origin (mirror rule).
    """

    kind: Literal["webpage"] = "webpage"
    url: str
    selector: str | None = None
    link_pattern: str | None = None
    max_links: int = 20
    form: str | None = "press_release"
    user_agent: str | None = None

    @field_validator("selector")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                LexborHTMLParser("<html></html>").css(v)
            except SelectolaxError:
                raise ValueError(f"selector {v!r} is not a valid CSS selector") from None
        return v

    @field_validator("link_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"link_pattern is not a valid regular expression ({exc})") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> WebpageSpec:
        if self.selector is None and self.link_pattern is None:
            raise ValueError("a webpage source needs a selector or a link_pattern")
        if urlsplit(self.url).scheme not in ("http", "https") and self.base_url is None:
            raise ValueError(f"url {self.url!r} must be an absolute http(s) URL (or set base_url)")
        if self.max_links < 1:
            raise ValueError("max_links must be at least 1")
        return self


class Link(Frozen):
    url: str
    text: str | None = None


def extract_links(
    html: bytes | str, page_url: str, selector: str | None, pattern: re.Pattern[str] | None
) -> tuple[Link, ...]:
    """Absolute http(s) links of the page (fragment dropped), in page order, first occurrence kept.

    With `selector`, only matching elements count (an <a> itself, or the links inside it);
    with `pattern`, only links whose absolute URL it matches.
    """
    tree = LexborHTMLParser(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)
    if selector is None:
        anchors = tree.css("a[href]")
    else:
        anchors = []
        for node in tree.css(selector):
            anchors.extend([node] if node.tag == "a" and "href" in node.attributes else node.css("a[href]"))
    out: dict[str, Link] = {}
    for a in anchors:
        href = (a.attributes.get("href") or "").strip()
        parts = urlsplit(urljoin(page_url, href))
        if parts.scheme not in ("http", "https"):
            continue
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        if url in out or (pattern is not None and pattern.search(url) is None):
            continue
        text = " ".join(a.text(separator=" ").split()) or a.attributes.get("title")
        out[url] = Link(url=url, text=text or None)
    return tuple(out.values())


class WebpageSource:
    """Polls one page (conditional GET) and fetches each new matching link (HTML or PDF)."""

    def __init__(self, spec: WebpageSpec) -> None:
        self.spec = spec
        self._pattern = re.compile(spec.link_pattern) if spec.link_pattern else None

    async def _get(
        self, client: httpx.AsyncClient, url: str, state: SourceState | None = None
    ) -> Fetched | None:
        headers = {"User-Agent": self.spec.user_agent} if self.spec.user_agent else None
        validator = state.validators.get(url) if state is not None else None
        return await fetch(
            client, url, validator=validator, timeout=self.spec.timeout_seconds, headers=headers
        )

    async def _links(
        self, client: httpx.AsyncClient, state: SourceState | None
    ) -> tuple[Fetched | None, tuple[Link, ...]]:
        page_url = rebase(self.spec.url, self.spec.base_url)
        try:
            page = await self._get(client, page_url, state)
        except SourceError as err:
            raise with_source(self.spec.name, err) from None
        if page is None:
            return None, ()
        # behind a mirror, links resolve against the page's own address so keys do not depend on the mirror
        mirrored = self.spec.base_url is not None and urlsplit(self.spec.url).scheme in ("http", "https")
        links = extract_links(
            page.content, self.spec.url if mirrored else page.url, self.spec.selector, self._pattern
        )
        return page, links[: self.spec.max_links]

    async def _documents(self, client: httpx.AsyncClient, link: Link) -> list[FetchedDocument]:
        got = await self._get(client, rebase(link.url, self.spec.base_url))
        if got is None:
            raise SourceError(f"GET {redact(link.url)}: unexpected 304 Not Modified")
        return [
            FetchedDocument(
                source=self.spec.name,
                key=link.url,
                url=got.url,
                title=link.text,
                content=got.content,
                content_type=got.content_type,
                ticker=self.spec.tickers[0] if len(self.spec.tickers) == 1 else None,
                form=self.spec.form,
            )
        ]

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        page, links = await self._links(client, state)
        if page is None:
            return PollResult(documents=(), state=state)
        return await poll_listing(
            self.spec.name,
            logger,
            state,
            rebase(self.spec.url, self.spec.base_url),
            page.validator,
            links,
            lambda link: link.url,
            lambda link: self._documents(client, link),
        )

    async def backfill(
        self, client: httpx.AsyncClient, ticker: str, quarters: int
    ) -> tuple[FetchedDocument, ...]:
        """The page's current matching links (up to max_links; a page carries no dates to cut by quarter)."""
        if self.spec.tickers and ticker.strip().upper() not in self.spec.tickers:
            return ()
        _, links = await self._links(client, None)
        got = await fetch_items(
            self.spec.name, logger, links, lambda link: link.url, lambda link: self._documents(client, link)
        )
        return got.documents
