"""RSS 2.0 / Atom feeds (IR sites, newswires, SEC EDGAR Atom): new entries become fetched documents."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import field_validator, model_validator

from bot.errors import SourceError
from bot.models import Frozen
from bot.sources.base import (
    FetchedDocument,
    PollResult,
    SourceSpec,
    SourceState,
    Validator,
    fetch_items,
    has_email,
    poll_listing,
    rebase,
    with_source,
)
from bot.sources.edgar import EdgarClient, parse_index_html, press_release_exhibits
from bot.sources.http import Fetched, fetch, redact

logger = logging.getLogger(__name__)

_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_FILING_INDEX = re.compile(r"-index\.html?$", re.IGNORECASE)
_ACCESSION_IN_ID = re.compile(r"accession-number=(\d{10}-\d{2}-\d{6})")
_SEC_TITLE_COMPANY = re.compile(r"^\S.*? - (.+?) \(\d{10}\)")
_ITEM_NUMBER = re.compile(r"\d+\.\d+")


class RssSpec(SourceSpec):
    """A feed. With `base_url` set, the feed and every link it points to are fetched from that origin.

    `forms` keeps only entries of those SEC form types; `items` keeps only 8-K entries whose items
    include one of these (entries that list no items pass); `link_pattern` keeps only links it matches.
    `edgar` (default: the feed is on sec.gov) routes requests through the EDGAR rate limit and
    requires a `user_agent` with an e-mail address.
    """

    kind: Literal["rss"] = "rss"
    url: str
    link_pattern: str | None = None
    forms: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    form: str | None = None  # what the entries are when the feed does not say: "press_release", "news"
    user_agent: str | None = None
    edgar: bool | None = None

    @field_validator("link_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"link_pattern is not a valid regular expression ({exc})") from None
        return v

    @property
    def is_edgar(self) -> bool:
        if self.edgar is not None:
            return self.edgar
        host = urlsplit(self.url).hostname or ""
        return host == "sec.gov" or host.endswith(".sec.gov")

    @model_validator(mode="after")
    def _check(self) -> RssSpec:
        if urlsplit(self.url).scheme not in ("http", "https") and self.base_url is None:
            raise ValueError(f"url {self.url!r} must be an absolute http(s) URL (or set base_url)")
        if self.is_edgar and not (self.user_agent and has_email(self.user_agent)):
            raise ValueError("user_agent must contain a contact e-mail address for an SEC EDGAR feed")
        return self


class Entry(Frozen):
    """One feed entry, reduced to what the sources need."""

    key: str
    link: str | None = None
    title: str | None = None
    published: datetime | None = None
    form: str | None = None
    items: tuple[str, ...] | None = None
    company: str | None = None


# --------------------------------------------------------------------------- pure parsing


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _text(el: ET.Element | None, name: str) -> str | None:
    child = _child(el, name) if el is not None else None
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def parse_date(text: str | None) -> datetime | None:
    """An Atom (ISO 8601) or RSS (RFC 822) date; None when absent or unreadable."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_feed(content: bytes, where: str) -> tuple[Entry, ...]:
    """Entries of an RSS 2.0, RSS 1.0 or Atom document, in feed order, one per key. Refuses DTDs/entities."""
    if _DECLARATION.search(content):
        raise SourceError(f"{where}: feed refused: it contains a DOCTYPE or ENTITY declaration")
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise SourceError(f"{where}: malformed XML ({exc})") from None
    kind = _local(root.tag)
    if kind == "feed":
        company = _text(_child(root, "company-info"), "conformed-name")
        entries = [_atom_entry(e, company) for e in root if _local(e.tag) == "entry"]
    elif kind in ("rss", "RDF"):
        channel = _child(root, "channel")
        parent = channel if kind == "rss" and channel is not None else root
        entries = [_rss_item(e) for e in parent if _local(e.tag) == "item"]
    else:
        raise SourceError(f"{where}: not an RSS or Atom feed (root element <{kind}>)")
    # one filing with co-registrants is listed once per filer: keep the first entry of each key
    unique: dict[str, Entry] = {}
    for entry in entries:
        unique.setdefault(entry.key, entry)
    return tuple(unique.values())


def _atom_entry(el: ET.Element, company: str | None) -> Entry:
    links = [c for c in el if _local(c.tag) == "link" and c.get("rel", "alternate") == "alternate"]
    link = links[0].get("href") if links else None
    content = _child(el, "content")
    form = _text(content, "filing-type")
    for cat in (c for c in el if _local(c.tag) == "category"):
        if cat.get("label") == "form type" or "sec.gov" in (cat.get("scheme") or ""):
            form = form or cat.get("term")
    entry_id = _text(el, "id")
    found = _ACCESSION_IN_ID.search(entry_id or "")
    accession = (
        _text(content, "accession-nunber")
        or _text(content, "accession-number")
        or (found.group(1) if found else None)
    )
    items_desc = _text(content, "items-desc")
    title = _text(el, "title")
    if company is None and form is not None and title:
        named = _SEC_TITLE_COMPANY.match(title)
        company = named.group(1).strip() if named else None
    return Entry(
        key=accession or entry_id or link or title or "",
        link=link,
        title=title,
        published=parse_date(_text(el, "published") or _text(el, "updated")),
        form=form,
        items=tuple(_ITEM_NUMBER.findall(items_desc)) if items_desc else None,
        company=company,
    )


def _rss_item(el: ET.Element) -> Entry:
    link = _text(el, "link")
    guid = _child(el, "guid")
    guid_text = (guid.text or "").strip() if guid is not None else ""
    if (
        link is None
        and guid is not None
        and guid.get("isPermaLink", "true") != "false"
        and "://" in guid_text
    ):
        link = guid_text
    title = _text(el, "title")
    return Entry(
        key=guid_text or link or title or "",
        link=link,
        title=title,
        published=parse_date(_text(el, "pubDate") or _text(el, "date")),
    )


# --------------------------------------------------------------------------- source


class RssSource:
    """Polls one feed; follows each new entry's link (an SEC filing index resolves to its EX-99.x)."""

    def __init__(self, spec: RssSpec) -> None:
        self.spec = spec
        self._pattern = re.compile(spec.link_pattern) if spec.link_pattern else None

    async def _get(
        self, client: httpx.AsyncClient, url: str, validator: Validator | None = None
    ) -> Fetched | None:
        if self.spec.is_edgar:
            edgar = EdgarClient(
                client, user_agent=self.spec.user_agent or "", timeout=self.spec.timeout_seconds
            )
            return await edgar.get(url, validator)
        headers = {"User-Agent": self.spec.user_agent} if self.spec.user_agent else None
        return await fetch(
            client, url, validator=validator, timeout=self.spec.timeout_seconds, headers=headers
        )

    def _wanted(self, entry: Entry) -> bool:
        spec = self.spec
        if not entry.key or not entry.link:
            return False
        if spec.forms and entry.form not in spec.forms:
            return False
        if spec.items and entry.items is not None and not set(spec.items) & set(entry.items):
            return False
        return self._pattern is None or self._pattern.search(entry.link) is not None

    async def _feed(
        self, client: httpx.AsyncClient, validator: Validator | None
    ) -> tuple[Fetched | None, tuple[Entry, ...]]:
        url = rebase(self.spec.url, self.spec.base_url)
        try:
            fetched = await self._get(client, url, validator)
            entries = parse_feed(fetched.content, url) if fetched is not None else ()
        except SourceError as err:
            raise with_source(self.spec.name, err) from None
        return fetched, tuple(e for e in entries if self._wanted(e))

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        feed_url = rebase(self.spec.url, self.spec.base_url)
        fetched, entries = await self._feed(client, state.validators.get(feed_url))
        if fetched is None:
            return PollResult(documents=(), state=state)
        return await poll_listing(
            self.spec.name,
            logger,
            state,
            feed_url,
            fetched.validator,
            entries,
            lambda entry: entry.key,
            lambda entry: self._documents(client, entry),
        )

    async def _documents(self, client: httpx.AsyncClient, entry: Entry) -> list[FetchedDocument]:
        link = rebase(urljoin(self.spec.url, entry.link or ""), self.spec.base_url)
        if not _FILING_INDEX.search(urlsplit(link).path):
            return [self._document(entry, entry.key, await self._body(client, link))]
        index = await self._body(client, link)
        exhibits = press_release_exhibits(parse_index_html(index.content, index.url))
        if not exhibits:
            logger.info(
                "source %s: filing %s has no EX-99 exhibit",
                self.spec.name,
                entry.key,
                extra={"source": self.spec.name, "key": entry.key},
            )
        return [
            self._document(entry, f"{entry.key}/{ex.name}", await self._body(client, ex.url))
            for ex in exhibits
        ]

    def _document(self, entry: Entry, key: str, got: Fetched) -> FetchedDocument:
        return FetchedDocument(
            source=self.spec.name,
            key=key,
            url=got.url,
            title=entry.title,
            published=entry.published,
            content=got.content,
            content_type=got.content_type,
            ticker=self.spec.tickers[0] if len(self.spec.tickers) == 1 else None,
            company=entry.company,
            form=entry.form or self.spec.form,
        )

    async def _body(self, client: httpx.AsyncClient, url: str) -> Fetched:
        got = await self._get(client, url)
        if got is None:
            raise SourceError(f"GET {redact(url)}: unexpected 304 Not Modified")
        return got

    async def backfill(
        self, client: httpx.AsyncClient, ticker: str, quarters: int
    ) -> tuple[FetchedDocument, ...]:
        """Documents of the feed's entries from the `quarters` quarters up to its newest entry."""
        if self.spec.tickers and ticker.strip().upper() not in self.spec.tickers:
            return ()
        _, entries = await self._feed(client, None)
        dated = [e.published for e in entries if e.published is not None]
        cutoff = max(dated) - timedelta(days=round(quarters * 91.3)) if dated else None
        recent = [e for e in entries if cutoff is None or e.published is None or e.published > cutoff]
        got = await fetch_items(
            self.spec.name, logger, recent, lambda entry: entry.key, lambda entry: self._documents(client, entry)
        )
        return got.documents
