"""SEC EDGAR: earnings 8-K (Item 2.02) and 6-K exhibits per ticker, filing-index parsing, the rate limit."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
from pydantic import Field, field_validator, model_validator
from selectolax.lexbor import LexborHTMLParser

from bot.errors import SourceError
from bot.models import Frozen
from bot.sources.base import (
    SEEN_LIMIT,
    FetchedDocument,
    PollResult,
    SourceSpec,
    SourceState,
    Validator,
    has_email,
    log_item_failure,
    must_back_off,
    remember,
    with_source,
)
from bot.sources.http import MAX_BYTES, Fetched, RateLimiter, fetch, redact

logger = logging.getLogger(__name__)

REFUSED_BACKOFF_SECONDS = 600.0  # SEC blocks an over-eager client for about ten minutes
TICKER_MAP_TTL_SECONDS = 24 * 3600.0
_EXHIBIT_NAME = re.compile(r"ex(?:hibit)?[-_]?99(?:[-_.]?(\d{1,2}))?", re.IGNORECASE)
_EXHIBIT_TYPE = re.compile(r"^EX-99(?:\.(\d{1,2}))?\b", re.IGNORECASE)
_DOCUMENT_EXT = re.compile(r"\.(?:htm|html|txt|pdf)$", re.IGNORECASE)
_IX_PREFIX = re.compile(r"^/ix\?doc=")


EDGAR_LIMITER = RateLimiter(10.0)  # SEC's fair-access limit, for all EDGAR traffic of the process


class EdgarSpec(SourceSpec):
    """Earnings filings of `tickers` from EDGAR; `user_agent` must name the operator and an e-mail.

    Without `user_agent` in the config, the SEC_USER_AGENT environment variable supplies it.
    """

    kind: Literal["edgar"] = "edgar"
    user_agent: str = Field(default_factory=lambda: os.environ.get("SEC_USER_AGENT", ""), validate_default=True)
    forms: tuple[str, ...] = ("8-K", "6-K")
    base_url: str | None = "https://www.sec.gov"
    data_url: str = "https://data.sec.gov"
    recent_filings: int = 4  # how many of a ticker's latest earnings filings a poll looks at

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("user_agent is required (or set SEC_USER_AGENT): your name and a contact e-mail")
        if not has_email(v):
            raise ValueError("user_agent must contain a contact e-mail address (SEC fair-access policy)")
        return v.strip()

    @model_validator(mode="after")
    def _needs_tickers(self) -> EdgarSpec:
        if not self.tickers:
            raise ValueError("tickers: an edgar source needs at least one ticker")
        if self.recent_filings < 1:
            raise ValueError("recent_filings must be at least 1")
        return self


class Exhibit(Frozen):
    """One document of a filing, as its index lists it."""

    name: str
    url: str
    type: str | None = None
    description: str | None = None


class Filing(Frozen):
    """One row of a company's submissions."""

    accession: str
    form: str
    items: tuple[str, ...] = ()
    filing_date: date
    accepted: datetime | None = None
    primary_document: str | None = None


# --------------------------------------------------------------------------- pure parsing


def exhibit_number(ex: Exhibit) -> int | None:
    """The x of EX-99.x (0 for a bare EX-99), from the index type or else the file name; None otherwise."""
    match = _EXHIBIT_TYPE.match(ex.type or "") if ex.type else _EXHIBIT_NAME.search(ex.name)
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 0


def press_release_exhibits(exhibits: tuple[Exhibit, ...]) -> tuple[Exhibit, ...]:
    """The EX-99.x documents (HTML, text or PDF) of a filing, EX-99.1 first."""
    found = [
        (n, e) for e in exhibits if (n := exhibit_number(e)) is not None and _DOCUMENT_EXT.search(e.name)
    ]
    return tuple(e for _, e in sorted(found, key=lambda p: (p[0] == 0, p[0])))


def parse_index_html(html: bytes | str, page_url: str) -> tuple[Exhibit, ...]:
    """The documents an EDGAR `-index.html` page lists (its 'tableFile' tables), links made absolute."""
    tree = LexborHTMLParser(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)
    tables = tree.css("table.tableFile")
    if not tables:
        raise SourceError(f"{page_url}: not an EDGAR filing index (no document table)")
    out: list[Exhibit] = []
    for table in tables:
        for row in table.css("tr"):
            cells = row.css("td")
            link = cells[2].css_first("a[href]") if len(cells) >= 4 else None
            href = link.attributes.get("href") if link is not None else None
            if link is None or not href:
                continue
            out.append(
                Exhibit(
                    name=link.text(strip=True),
                    url=urljoin(page_url, _IX_PREFIX.sub("", href)),
                    type=cells[3].text(strip=True) or None,
                    description=" ".join(cells[1].text(separator=" ").split()) or None,
                )
            )
    return tuple(out)


def parse_index_json(content: bytes, index_url: str) -> tuple[Exhibit, ...]:
    """The files an EDGAR filing folder's `index.json` lists (types unknown: inferred from names later)."""
    data = _json(content, index_url)
    try:
        items = data["directory"]["item"]
        names = [str(item["name"]) for item in items]
    except (KeyError, TypeError):
        raise SourceError(f"{index_url}: not an EDGAR directory listing") from None
    return tuple(Exhibit(name=n, url=urljoin(index_url, n)) for n in names if n)


def parse_ticker_map(content: bytes, url: str) -> dict[str, tuple[int, str]]:
    """company_tickers.json: ticker -> (CIK, company name)."""
    data = _json(content, url)
    rows = data.values() if isinstance(data, dict) else ()
    out: dict[str, tuple[int, str]] = {}
    for row in rows:
        try:
            out[str(row["ticker"]).upper()] = (int(row["cik_str"]), str(row.get("title", "")))
        except (KeyError, TypeError, ValueError):
            continue
    if not out:
        raise SourceError(f"{url}: no ticker rows in the company ticker list")
    return out


def parse_submissions(
    content: bytes, url: str, forms: tuple[str, ...] | None = None
) -> tuple[str | None, tuple[Filing, ...], list[dict[str, Any]]]:
    """A submissions JSON (or one of its older pages): company name, filings newest first (only `forms`
    when given: a big filer has thousands of rows), and the older pages it points to."""
    data = _json(content, url)
    if not isinstance(data, dict):
        raise SourceError(f"{url}: submissions JSON is not an object")
    filings = data.get("filings")
    columns: Any = filings.get("recent") if isinstance(filings, dict) else data
    pages = filings.get("files", []) if isinstance(filings, dict) else []
    try:
        acc, kinds, dates = columns["accessionNumber"], columns["form"], columns["filingDate"]
        n = len(acc)
        items = columns.get("items") or [""] * n
        accepted = columns.get("acceptanceDateTime") or [""] * n
        primary = columns.get("primaryDocument") or [""] * n
        rows = tuple(
            Filing(
                accession=acc[i],
                form=kinds[i],
                items=tuple(x.strip() for x in str(items[i]).split(",") if x.strip()),
                filing_date=date.fromisoformat(dates[i]),
                accepted=datetime.fromisoformat(accepted[i]) if accepted[i] else None,
                primary_document=primary[i] or None,
            )
            for i in range(n)
            if forms is None or kinds[i] in forms
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SourceError(f"{url}: unexpected submissions JSON ({type(exc).__name__}: {exc})") from None
    name = data.get("name")
    return (str(name) if name else None), rows, [p for p in pages if isinstance(p, dict)]


def earnings_filings(filings: tuple[Filing, ...], forms: tuple[str, ...]) -> tuple[Filing, ...]:
    """Filings of the wanted forms that carry results: 8-Ks need Item 2.02, other forms (6-K) all count."""
    return tuple(
        f for f in filings if f.form in forms and (not f.form.startswith("8-K") or "2.02" in f.items)
    )


def _json(content: bytes, url: str) -> Any:
    try:
        return json.loads(content)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{url}: malformed JSON ({exc})") from None


# --------------------------------------------------------------------------- network


class EdgarClient:
    """GETs against EDGAR: rate limited process-wide, with the declared User-Agent on every request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        user_agent: str,
        timeout: float,
        limiter: RateLimiter | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.client = client
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"}
        self.timeout = timeout
        self.limiter = limiter or EDGAR_LIMITER
        self.max_bytes = max_bytes

    async def get(self, url: str, validator: Validator | None = None) -> Fetched | None:
        await self.limiter.acquire()
        try:
            return await fetch(
                self.client,
                url,
                validator=validator,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
                headers=self.headers,
            )
        except SourceError as err:
            if err.status in (403, 429) and err.retry_after is None:
                raise SourceError(
                    f"{err} (EDGAR refused the request; backing off)",
                    status=err.status,
                    retry_after=REFUSED_BACKOFF_SECONDS,
                ) from None
            raise

    async def get_body(self, url: str) -> Fetched:
        fetched = await self.get(url)
        if fetched is None:  # only possible with a validator; kept for the type checker
            raise SourceError(f"GET {redact(url)}: unexpected 304 Not Modified")
        return fetched

    async def exhibits(self, index_url: str) -> tuple[Exhibit, ...]:
        """The press-release exhibits of a filing, from its index.json or -index.htm(l) page."""
        fetched = await self.get_body(index_url)
        if index_url.endswith(".json"):
            return press_release_exhibits(parse_index_json(fetched.content, fetched.url))
        return press_release_exhibits(parse_index_html(fetched.content, fetched.url))


class EdgarSource:
    """Polls each ticker's submissions and emits the EX-99.x exhibits of new earnings filings."""

    def __init__(self, spec: EdgarSpec, limiter: RateLimiter | None = None) -> None:
        self.spec = spec
        self.limiter = limiter
        self._tickers: dict[str, tuple[int, str]] = {}
        self._tickers_at = float("-inf")

    def _edgar(self, client: httpx.AsyncClient) -> EdgarClient:
        return EdgarClient(
            client, user_agent=self.spec.user_agent, timeout=self.spec.timeout_seconds, limiter=self.limiter
        )

    @property
    def _base(self) -> str:
        return (self.spec.base_url or "https://www.sec.gov").rstrip("/")

    async def _cik(self, edgar: EdgarClient, ticker: str) -> tuple[int, str] | None:
        stale = time.monotonic() - self._tickers_at > TICKER_MAP_TTL_SECONDS
        if stale or (ticker not in self._tickers and time.monotonic() - self._tickers_at > 3600):
            url = f"{self._base}/files/company_tickers.json"
            self._tickers = parse_ticker_map((await edgar.get_body(url)).content, url)
            self._tickers_at = time.monotonic()
        return self._tickers.get(ticker)

    def _submissions_url(self, cik: int) -> str:
        return f"{self.spec.data_url.rstrip('/')}/submissions/CIK{cik:010d}.json"

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        name = self.spec.name
        edgar = self._edgar(client)
        validators = dict(state.validators)
        docs: list[FetchedDocument] = []
        done: list[str] = []
        failures: list[SourceError] = []
        for ticker in self.spec.tickers:
            try:
                company = await self._cik(edgar, ticker)
                if company is None:
                    logger.warning(
                        "source %s: ticker %s is not in the SEC ticker list",
                        name,
                        ticker,
                        extra={"source": name, "key": ticker},
                    )
                    continue
                url = self._submissions_url(company[0])
                fetched = await edgar.get(url, validators.get(url))
                if fetched is None:
                    continue
                entity, filings, _ = parse_submissions(fetched.content, url, self.spec.forms)
            except SourceError as err:
                if must_back_off(err):
                    raise with_source(name, err) from None
                log_item_failure(logger, name, ticker, err)
                failures.append(err)
                continue
            wanted = earnings_filings(filings, self.spec.forms)[: self.spec.recent_filings]
            complete = True
            for filing in (f for f in wanted if f.accession not in state.seen):
                try:
                    docs.extend(
                        await self._documents(edgar, company[0], entity or company[1], ticker, filing)
                    )
                    done.append(filing.accession)
                except SourceError as err:
                    if must_back_off(err):
                        raise with_source(name, err) from None
                    log_item_failure(logger, name, filing.accession, err)
                    complete = False
            if complete:  # keep the old validator otherwise, so the failed filing is looked at again
                validators[url] = fetched.validator
        if failures and len(failures) == len(self.spec.tickers):
            raise with_source(name, failures[0])
        limit = max(SEEN_LIMIT, 2 * self.spec.recent_filings * len(self.spec.tickers))
        return PollResult(
            documents=tuple(docs),
            state=SourceState(
                validators=validators, seen=remember(state.seen, done, limit), cursor=state.cursor
            ),
        )

    async def _documents(
        self, edgar: EdgarClient, cik: int, company: str, ticker: str, filing: Filing
    ) -> list[FetchedDocument]:
        folder = f"{self._base}/Archives/edgar/data/{cik}/{filing.accession.replace('-', '')}/"
        exhibits = await edgar.exhibits(folder + "index.json")
        if not exhibits:
            exhibits = await edgar.exhibits(f"{folder}{filing.accession}-index.html")
        if not exhibits and filing.primary_document:
            primary = filing.primary_document
            exhibits = (Exhibit(name=primary, url=folder + primary, type=filing.form),)
        out: list[FetchedDocument] = []
        for ex in exhibits:
            fetched = await edgar.get_body(ex.url)
            label = ex.type or ex.name
            out.append(
                FetchedDocument(
                    source=self.spec.name,
                    key=f"{filing.accession}/{ex.name}",
                    url=fetched.url,
                    title=f"{company} {filing.form} {filing.filing_date.isoformat()} {label}",
                    published=filing.accepted,
                    content=fetched.content,
                    content_type=fetched.content_type,
                    ticker=ticker,
                    company=company,
                    form=filing.form,
                )
            )
        return out

    async def backfill(
        self, client: httpx.AsyncClient, ticker: str, quarters: int
    ) -> tuple[FetchedDocument, ...]:
        """Exhibits of the earnings filings in the `quarters` quarters up to the ticker's latest one."""
        name = self.spec.name
        edgar = self._edgar(client)
        symbol = ticker.strip().upper()
        try:
            company = await self._cik(edgar, symbol)
            if company is None:
                raise SourceError(f"ticker {symbol} is not in the SEC ticker list")
            url = self._submissions_url(company[0])
            entity, filings, pages = parse_submissions((await edgar.get_body(url)).content, url, self.spec.forms)
            wanted = list(earnings_filings(filings, self.spec.forms))
            if wanted:
                cutoff = wanted[0].filing_date - timedelta(days=round(quarters * 91.3))
                for page in pages:
                    if str(page.get("filingTo", "")) >= cutoff.isoformat() and page.get("name"):
                        page_url = f"{self.spec.data_url.rstrip('/')}/submissions/{page['name']}"
                        _, older, _ = parse_submissions(
                            (await edgar.get_body(page_url)).content, page_url, self.spec.forms
                        )
                        wanted.extend(earnings_filings(older, self.spec.forms))
                wanted = [f for f in wanted if f.filing_date > cutoff]
        except SourceError as err:
            raise with_source(name, err) from None
        docs: list[FetchedDocument] = []
        for filing in wanted:
            try:
                docs.extend(await self._documents(edgar, company[0], entity or company[1], symbol, filing))
            except SourceError as err:
                if must_back_off(err):
                    raise with_source(name, err) from None
                log_item_failure(logger, name, filing.accession, err)
        return tuple(docs)
