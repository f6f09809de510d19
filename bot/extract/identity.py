"""Who and when a document is about: company, ticker, fiscal period and reporting currency."""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from bot.models import CompanyConfig, Document, Period

ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
EXCHANGE_TICKER = re.compile(
    r"\((?:NASDAQ|Nasdaq|NYSE|NYSE American|NYSE Arca|AMEX|OTC(?:QB|QX)?|HKEX|SEHK|HKSE|TSX|TWSE|LSE)"
    r"(?:\s?GS|\s?GM|\s?CM)?\s?[:：]\s?(?P<ticker>[A-Z][A-Z.]{0,6}|\d{4,5}(?:\.HK)?)"
)
WELCOME = re.compile(
    r"(?:welcome to|joining us for|participating in|thank you for joining)\s(?:the\s)?(?:today's\s)?"
    r"(?P<company>[A-Z][\w&.\-]*(?:\s[A-Z][\w&.\-]*){0,4}?)(?:'s|’s)?\s(?:fiscal\s|FY\s?|Q[1-4]\s|first|second|third|"
    r"fourth|full|\d{4}|earnings|quarterly|conference|annual|financial)"
)
WELCOME_WORDS = ("welcome to", "joining us for", "participating in", "thank you for joining")  # WELCOME starts so
REPORTS = re.compile(
    r"^(?P<company>[A-Z][\w&.,\-]*(?:\s[A-Z][\w&.,\-]*){0,5}?)(?:\s\([^)]*\))?\s(?:Reports|Announces|Releases|Posts|"
    r"Delivers)\b"
)
# The next four are applied to lower-cased text (several times faster than re.I over a document's head).
QUARTER_YEAR = re.compile(
    r"\b(?:(?P<ord>first|second|third|fourth)[- ]quarter(?:\sof)?(?:\s(?:fiscal(?:\syear)?|fy)\s?)?\s?"
    r"(?P<y1>(?:19|20)\d\d)"
    r"|q(?P<q2>[1-4])\s(?:of\s)?(?:fiscal(?:\syear)?\s|fy\s?)?(?P<y2>(?:19|20)\d\d)"
    r"|q(?P<q3>[1-4])\s?fy\s?(?P<y3>\d\d(?:\d\d)?)"
    r"|(?P<q4>[1-4])q\s?(?:fy)?(?P<y4>\d\d)\b"
    r"|(?P<ord5>first|second|third|fourth)\squarter\s(?:of\s)?fiscal(?:\syear)?\s(?P<y5>(?:19|20)\d\d))"
)
FULL_YEAR = re.compile(
    r"\b(?:full[- ]year|fiscal(?:\syear)?|fy)\s?(?P<y>(?:19|20)\d\d)\s(?:results|earnings|financial results)"
)
HALF_YEAR = re.compile(r"\b(?:interim|first half|h1|half[- ]year)\s(?:of\s)?(?P<y>(?:19|20)\d\d)")
DENOMINATED = re.compile(
    r"(?:denominated|expressed|presented|stated)\sin\s(?:(?P<code>rmb|usd|hkd|twd|eur|jpy|gbp)|(?P<word>renminbi|"
    r"u\.?s\.? dollars|hong kong dollars|new taiwan dollars|euros?|yen))"
)
DENOMINATED_WORDS = ("denominated", "expressed", "presented", "stated")  # what DENOMINATED starts with
CURRENCY_WORDS = {
    "renminbi": "RMB", "u.s. dollars": "USD", "us dollars": "USD", "hong kong dollars": "HKD",
    "new taiwan dollars": "TWD", "euro": "EUR", "euros": "EUR", "yen": "JPY",
}
HEAD = 6000


@dataclass(frozen=True, slots=True)
class Identity:
    company: str | None
    ticker: str | None
    period: Period
    currency: str | None


@lru_cache(maxsize=1)
def builtin_companies() -> tuple[CompanyConfig, ...]:
    """The company directory shipped with the package (bot/data/companies.json: public names and tickers)."""
    text = resources.files("bot").joinpath("data/companies.json").read_text(encoding="utf-8")
    return tuple(CompanyConfig.model_validate(row) for row in json.loads(text))


def match_company(text: str, companies: Sequence[CompanyConfig]) -> CompanyConfig | None:
    """The company named by `text` (a ticker, a name or an alias), case-insensitive."""
    want = _norm(text)
    for c in companies:
        if want in {_norm(c.ticker), _norm(c.name), *(_norm(a) for a in c.aliases)}:
            return c
    return None


def _norm(s: str) -> str:
    return re.sub(r"[\s.,]+|\b(?:inc|corp|corporation|ltd|limited|holdings|group|plc)\b", "", s.lower())


def _find_named(head: str, companies: Sequence[CompanyConfig]) -> CompanyConfig | None:
    """The directory company whose name or alias appears earliest in the document's head."""
    best: tuple[int, CompanyConfig] | None = None
    for c in companies:
        for name in (c.name, *c.aliases):
            i = head.find(name)
            if i >= 0 and (best is None or i < best[0] or (i == best[0] and len(name) > len(best[1].name))):
                best = (i, c)
    return best[1] if best else None


def identify(document: Document, amounts_currencies: Counter[str], companies: Sequence[CompanyConfig]) -> Identity:
    """Company, ticker, period and currency from the document's metadata and its opening text."""
    directory = (*companies, *builtin_companies())
    head = (document.title or "") + "\n" + document.text[:HEAD]
    ticker = document.ticker
    company = document.company
    m = EXCHANGE_TICKER.search(head)
    if m and not ticker:
        ticker = m.group("ticker")
    if not company:
        for pattern in (WELCOME, REPORTS):
            found = (_leftmost(WELCOME, head, WELCOME_WORDS, 0) if pattern is WELCOME
                     else pattern.search(document.title or ""))
            if found:
                company = found.group("company").strip(" ,.")
                break
    known = None
    if ticker:
        known = match_company(ticker, directory)
    if known is None and company:
        known = match_company(company, directory)
    if known is None:
        known = _find_named((document.title or "") + "\n" + document.text[:600], directory)
    if known is not None:
        company, ticker = known.name, ticker or known.ticker
    low = head.lower()
    period = _period(document, low)
    currency = _currency(low, amounts_currencies, known)
    return Identity(company, ticker, period, currency)


def _leftmost(pattern: re.Pattern[str], low: str, anchors: tuple[str, ...], reach: int) -> re.Match[str] | None:
    """`pattern.search(low)`, found by trying only the starts at most `reach` characters before an anchor.

    Every match of the pattern holds one of `anchors` within `reach` characters of its start, so trying those
    starts left to right finds the same leftmost match; a few anchored matches instead of a scan that tries the
    whole pattern at each of thousands of positions.
    """
    tried = -1
    for at in heapq.merge(*(_positions(low, anchor) for anchor in anchors)):  # lazily: the first match ends it
        for start in range(max(tried + 1, at - reach), at + 1):
            m = pattern.match(low, start)
            if m:
                return m
        tried = at
    return None


def _positions(text: str, word: str) -> Iterator[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)


def _period(document: Document, low: str) -> Period:
    if document.fiscal_year and document.fiscal_quarter:
        y, q = document.fiscal_year, document.fiscal_quarter
        return Period(fiscal_year=y, fiscal_quarter=q, label=f"Q{q} {y}")
    m = _leftmost(QUARTER_YEAR, low, ("q",), 7)
    if m:
        q_text = m.group("ord") or m.group("ord5")
        quarter = ORDINALS[q_text.lower()] if q_text else int(m.group("q2") or m.group("q3") or m.group("q4"))
        year_text = m.group("y1") or m.group("y2") or m.group("y3") or m.group("y4") or m.group("y5")
        year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
        return Period(fiscal_year=year, fiscal_quarter=quarter, label=f"Q{quarter} {year}")
    m = _leftmost(FULL_YEAR, low, ("results", "earnings"), 27)
    if m:
        return Period(fiscal_year=int(m.group("y")), label=f"FY{m.group('y')}")
    m = _leftmost(HALF_YEAR, low, ("interim", "half", "h1"), 6)
    if m:
        return Period(fiscal_year=int(m.group("y")), label=f"H1 {m.group('y')}")
    return Period()


def _currency(low: str, counts: Counter[str], known: CompanyConfig | None) -> str | None:
    m = _leftmost(DENOMINATED, low, DENOMINATED_WORDS, 0)
    if m:
        return (m.group("code") or CURRENCY_WORDS.get(m.group("word").lower(), "")).upper() or None
    if counts:
        return counts.most_common(1)[0][0]
    return known.currency if known else None


def default_currency(text: str) -> str | None:
    """The currency a document declares for figures written without one ("denominated in RMB")."""
    m = _leftmost(DENOMINATED, text[:HEAD].lower(), DENOMINATED_WORDS, 0)
    if not m:
        return None
    return m.group("code").upper() if m.group("code") else CURRENCY_WORDS.get(m.group("word").lower())
