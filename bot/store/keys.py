"""Pure identity rules of the store: content hashes, event keys, and what makes a report worth delivering."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.errors import InputError
from bot.models import Document, Report
from bot.sources.base import FetchedDocument

_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_LEGAL_SUFFIX = re.compile(
    r"(?:\s+(?:inc|incorporated|corp|corporation|co|company|ltd|limited|plc|llc|lp|sa|ag|nv|se|holding|holdings"
    r"|group))+$"
)
_LEADING_THE = re.compile(r"^the\s+")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,19}$")

Signature = tuple[object, ...]


def content_hash(text: str) -> str:
    """sha256 (hex) of the text with whitespace runs collapsed: re-flowed copies of a text hash alike."""
    return hashlib.sha256(_SPACE.sub(" ", text).strip().encode("utf-8")).hexdigest()


def normalise_company(name: str | None) -> str | None:
    """A company name reduced for matching: lower case, no punctuation, no leading "the" or legal suffix."""
    if name is None:
        return None
    text = _NON_WORD.sub(" ", name.lower().replace("&", " and ")).strip()
    text = _LEADING_THE.sub("", text)
    text = _LEGAL_SUFFIX.sub("", text).strip()
    return text or None


def normalise_ticker(ticker: str | None) -> str | None:
    """The ticker upper-cased and stripped; None when empty."""
    if ticker is None:
        return None
    value = ticker.strip().upper()
    return value or None


def require_ticker(ticker: str) -> str:
    """The normalised ticker, or InputError naming the bad value."""
    value = normalise_ticker(ticker)
    if value is None or not _TICKER.match(value):
        raise InputError(f"ticker {ticker!r} is not a valid ticker (letters, digits, '.' or '-', up to 20)")
    return value


@dataclass(frozen=True)
class EventIdentity:
    """Who and when a document is about; `key` is None when it names no company or no fiscal period."""

    ticker: str | None
    company: str | None
    company_norm: str | None
    fiscal_year: int | None
    fiscal_quarter: int | None

    @property
    def key(self) -> str | None:
        if self.fiscal_year is None or self.fiscal_quarter is None:
            return None
        if self.ticker is not None:
            return f"t:{self.ticker}:{self.fiscal_year}:Q{self.fiscal_quarter}"
        if self.company_norm is not None:
            return f"c:{self.company_norm[:200]}:{self.fiscal_year}:Q{self.fiscal_quarter}"
        return None


def identify(fetched: FetchedDocument, document: Document, report: Report) -> EventIdentity:
    """The event a document belongs to.

    Ticker: what the source says (it is configured per company), else the report's, else the document's.
    Period: what the extractor read from the text (the report), else the source's metadata, else the loader's.
    Company: the report's name, else the source's, else the document's.
    """
    ticker = next(filter(None, map(normalise_ticker, (fetched.ticker, report.ticker, document.ticker))), None)
    company = report.company or fetched.company or document.company
    periods = (
        (report.period.fiscal_year, report.period.fiscal_quarter),
        (fetched.fiscal_year, fetched.fiscal_quarter),
        (document.fiscal_year, document.fiscal_quarter),
    )
    year, quarter = next(((y, q) for y, q in periods if y is not None and q is not None), (None, None))
    return EventIdentity(ticker, company, normalise_company(company), year, quarter)


def standalone_key(source: str, source_key: str) -> str:
    """The event key of a document that names no company or period: its own event, per source identity."""
    digest = hashlib.sha256(f"{source}\0{source_key}".encode()).hexdigest()[:40]
    return f"d:{source}:{digest}"


def signature(report: Report) -> frozenset[Signature]:
    """What a report tells a reader: its kind, each figure (key, basis, value) and each guidance range."""
    items: set[Signature] = {("kind", report.kind)}
    for m in report.metrics:
        items.add(("metric", m.key, m.basis, round(m.value, 6)))
    for g in report.guidance:
        items.add(("guidance", g.metric, g.period, g.low, g.high, g.kind, g.direction))
    return frozenset(items)


def adds_information(report: Report, earlier: Iterable[Report]) -> bool:
    """True when `report` says something none of the `earlier` reports of its event said.

    A second copy of a release (the 8-K exhibit after the newswire) carries the same figures and adds
    nothing, so it is stored but not delivered again; a call transcript after the release (another kind,
    new guidance, more figures) does.
    """
    known: set[Signature] = set()
    for other in earlier:
        known |= signature(other)
    return not signature(report) <= known


def report_rank(report: Report, fetched_at: datetime) -> tuple[int, int, int, datetime]:
    """Order of preference of an event's reports (highest first) for `latest_report`.

    The report with the most figures, then the most guidance, then a press release over a transcript
    (the release carries the official numbers), then the newest.
    """
    return (len(report.metrics), len(report.guidance), int(report.kind == "press_release"), fetched_at)
