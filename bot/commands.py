"""The command language of every chat platform: text -> Query, and the company and figure names in it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.errors import QueryError
from bot.extract.metrics import find_metric_key
from bot.models import CompanyConfig, Frozen, Metric, Period, Report
from bot.store.keys import normalise_company

Action = Literal["help", "digest", "figure", "guidance", "history", "compare", "watch", "unwatch", "watchlist"]

USAGE = "KC | KC revenue | KC capex Q1 2024 | KC guidance | KC revenue history | compare KC BIDU revenue | watch KC"

_YEAR = r"(?P<year>(?:19|20)\d{2}|\d{2})"
# "Q1 2024", "Q1'24", "Q1-2024", "Q1 FY24", "Q12024"
_Q_THEN_YEAR = re.compile(rf"(?<![\w])Q(?P<q>[1-4])\s*(?:['’/-]\s*)?(?:FY\s*'?)?{_YEAR}(?![\w])", re.I)
# "1Q24", "1Q 2024", "1QFY24"
_N_Q_YEAR = re.compile(rf"(?<![\w])(?P<q>[1-4])Q\s*(?:['’/-]\s*)?(?:FY\s*'?)?{_YEAR}(?![\w])", re.I)
# "2024 Q1", "2024Q1", "2024-Q1"
_YEAR_THEN_Q = re.compile(r"(?<![\w])(?P<year>(?:19|20)\d{2})\s*[-/]?\s*Q(?P<q>[1-4])(?![\w])", re.I)
# "first quarter 2024", "first quarter of fiscal 2024"
_ORDINAL_QUARTER = re.compile(
    r"(?<![\w])(?P<ord>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?"
    r"(?P<year>(?:19|20)\d{2})(?![\w])",
    re.I,
)
# "FY2024", "FY 24", "FY'24", "fiscal 2024", "fiscal year 2024", "full year 2024"
_FISCAL_YEAR = re.compile(
    r"(?<![\w])(?:FY\s*['’]?|fiscal\s+(?:year\s+)?|full[- ]year\s+)(?P<year>(?:19|20)\d{2}|\d{2})(?![\w])", re.I
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}

_SPLIT = re.compile(r"[\s,;]+")
_TRIM = re.compile(r"^[\s?!.:]+|[\s?!.:]+$")
_COMMAND_PREFIX = re.compile(r"^/earnings\b", re.I)

_HELP_WORDS = frozenset({"help", "?", "usage", "commands"})
_WATCH_WORDS = frozenset({"watch", "follow", "subscribe"})
_UNWATCH_WORDS = frozenset({"unwatch", "unfollow", "unsubscribe"})
_WATCHLIST_WORDS = frozenset({"watchlist", "watching", "watches", "subscriptions"})
_COMPARE_WORDS = frozenset({"compare", "cmp"})
_COMPARE_SEPARATORS = frozenset({"vs", "vs.", "versus", "with"})
_VERSUS = frozenset({"vs", "vs.", "versus"})
_GUIDANCE_WORDS = frozenset({"guidance", "outlook", "forecast"})
_HISTORY_WORDS = frozenset({"history", "trend", "quarters"})

_GAAP_WORD = re.compile(r"(?<!non-)(?<!non )\b(?:GAAP|IFRS|reported)\b", re.I)
_ADJ = re.compile(r"\badj\b\.?", re.I)
_NON_GAAP = re.compile(r"\bnon[\s-]?(GAAP|IFRS)\b", re.I)
_NON_WORD = re.compile(r"[^0-9a-z%]+")
_SUGGEST_CUTOFF = 0.7  # metric names
_CLOSE = 0.6  # company names and tickers
_MAX_SUGGESTIONS = 5


class Query(Frozen):
    """One parsed command.

    `words` are the company and metric words as typed. For digest/figure/guidance/history they name one
    company followed by an optional metric; for compare, two or more companies followed by the metric; for
    watch/unwatch, one company. The split between company and metric is made by the answer engine against
    the companies it knows (a name may have several words); `action` is "figure" when the words after the
    first name a catalogue metric and "digest" otherwise.
    """

    action: Action
    words: tuple[str, ...] = ()
    period: Period | None = None
    text: str = ""


def quarter_label(year: int, quarter: int | None) -> str:
    """'Q1 2024' for a quarter, 'FY2024' for a fiscal year."""
    return f"FY{year}" if quarter is None else f"Q{quarter} {year}"


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


def find_period(text: str) -> tuple[Period, tuple[int, int]] | None:
    """The first fiscal period named in `text` and its span, or None."""
    found: list[tuple[int, int, Period]] = []
    for pattern in (_Q_THEN_YEAR, _N_Q_YEAR, _YEAR_THEN_Q, _ORDINAL_QUARTER):
        m = pattern.search(text)
        if m:
            q = _ORDINALS[m.group("ord").lower()] if "ord" in pattern.groupindex else int(m.group("q"))
            y = _year(m.group("year"))
            found.append((m.start(), m.end(), Period(fiscal_year=y, fiscal_quarter=q, label=quarter_label(y, q))))
    m = _FISCAL_YEAR.search(text)
    if m:
        y = _year(m.group("year"))
        found.append((m.start(), m.end(), Period(fiscal_year=y, label=quarter_label(y, None))))
    if not found:
        return None
    start, end, period = min(found, key=lambda f: (f[0], -f[1]))
    return period, (start, end)


def parse_period(text: str | None) -> Period | None:
    """The fiscal period a string names ('Q1 2024', '1Q24', 'FY2024', 'first quarter 2024'), or None."""
    if not text:
        return None
    found = find_period(text)
    return found[0] if found else None


def _names_metric(words: list[str]) -> bool:
    return len(words) > 1 and find_metric_key(" ".join(words[1:])) is not None


def parse(text: str) -> Query:
    """Parse the text after `/earnings` (or after the bot's mention) into a Query. Never raises."""
    original = text.strip()
    body = _TRIM.sub("", _COMMAND_PREFIX.sub("", original))
    period: Period | None = None
    found = find_period(body)
    if found is not None:
        period, (start, end) = found
        body = f"{body[:start]} {body[end:]}"
    words = [w for w in _SPLIT.split(body) if w]
    lowered = [w.lower() for w in words]
    if not words or lowered[0] in _HELP_WORDS:
        return Query(action="help", text=original)
    head = lowered[0]
    if head in _WATCHLIST_WORDS or (head == "list" and len(words) == 1):
        return Query(action="watchlist", text=original)
    if head in _WATCH_WORDS:
        return Query(action="watch", words=tuple(words[1:]), text=original)
    if head in _UNWATCH_WORDS:
        return Query(action="unwatch", words=tuple(words[1:]), text=original)
    if head in _COMPARE_WORDS or any(w in _VERSUS for w in lowered[1:-1]):
        rest = words[1:] if head in _COMPARE_WORDS else words
        kept = tuple(w for w in rest if w.lower() not in _COMPARE_SEPARATORS)
        return Query(action="compare", words=kept, period=period, text=original)
    if lowered[-1] in _GUIDANCE_WORDS and len(words) > 1:
        return Query(action="guidance", words=tuple(words[:-1]), period=period, text=original)
    if lowered[-1] in _HISTORY_WORDS and len(words) > 1:
        return Query(action="history", words=tuple(words[:-1]), period=period, text=original)
    action: Action = "figure" if _names_metric(words) else "digest"
    return Query(action=action, words=tuple(words), period=period, text=original)


# --------------------------------------------------------------------------- company names


@dataclass(frozen=True)
class Company:
    """A company the engine can answer about: always with a ticker (the store is keyed by it)."""

    ticker: str
    name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.ticker})" if self.name else self.ticker


def norm(text: str) -> str:
    """Lower case words without punctuation, for comparing names."""
    return _NON_WORD.sub(" ", text.lower().replace("&", " and ")).strip()


class Directory:
    """Known companies by ticker, name and alias (config first, then what the store has seen)."""

    def __init__(self, configured: Sequence[CompanyConfig], stored: Iterable[tuple[str | None, str | None]]):
        self._by_key: dict[str, Company] = {}
        self._choices: dict[str, Company] = {}
        for c in configured:
            self._add(Company(c.ticker, c.name), (c.name, *c.aliases))
        for ticker, name in stored:
            if ticker and ticker.strip():
                self._add(Company(ticker.strip().upper(), name), (name,) if name else ())

    def _add(self, company: Company, names: Iterable[str]) -> None:
        existing = self._by_key.get(f"t:{company.ticker}")
        if existing is not None:
            company = existing if existing.name else company
        self._by_key[f"t:{company.ticker}"] = company
        self._choices[company.ticker.lower()] = company
        for name in names:
            key = normalise_company(name)
            if key and f"n:{key}" not in self._by_key:
                self._by_key[f"n:{key}"] = company
                self._choices[key] = company

    def find(self, text: str) -> Company | None:
        """The company named exactly (ticker, name or alias; case and punctuation ignored)."""
        by_ticker = self._by_key.get(f"t:{text.strip().upper()}")
        if by_ticker is not None:
            return by_ticker
        key = normalise_company(text)
        return self._by_key.get(f"n:{key}") if key else None

    def prefix(self, words: Sequence[str]) -> tuple[Company, int] | None:
        """The company named by the longest leading run of `words`, and how many words it took."""
        for n in range(len(words), 0, -1):
            company = self.find(" ".join(words[:n]))
            if company is not None:
                return company, n
        return None

    def suggest(self, text: str) -> tuple[str, ...]:
        """Close matches for an unknown company name or ticker, as labels."""
        key = normalise_company(text) or text.lower()
        matches = difflib.get_close_matches(key, list(self._choices), n=_MAX_SUGGESTIONS, cutoff=_CLOSE)
        return tuple(dict.fromkeys(self._choices[m].label for m in matches))

    def closeness(self, text: str) -> float:
        """How close `text` comes to any known ticker or name (difflib ratio, 0 to 1)."""
        key = normalise_company(text) or text.lower()
        return max((difflib.SequenceMatcher(None, key, c).ratio() for c in self._choices), default=0.0)

    def split(self, words: Sequence[str]) -> tuple[Company, str]:
        """The company the words start with and the rest of them (a metric, maybe empty); QueryError with
        suggestions when no known company leads."""
        if not words:
            raise QueryError(f"Name a company, e.g. {USAGE.split(' | ')[0]}.")
        found = self.prefix(words)
        if found is None:
            # The unknown name is the leading run of words closest to a known company (else the first word).
            candidates = [" ".join(words[:n]) for n in range(1, min(len(words), 4) + 1)]
            best = max(candidates, key=self.closeness)
            raise self.unknown(best if self.closeness(best) >= _CLOSE else words[0])
        company, n = found
        return company, " ".join(words[n:])

    def leading(self, words: Sequence[str]) -> tuple[list[Company], list[str]]:
        """The companies named one after another from the start of `words`, and the words left after them."""
        out: list[Company] = []
        rest = list(words)
        while rest:
            found = self.prefix(rest)
            if found is None:
                break
            company, n = found
            if company not in out:
                out.append(company)
            rest = rest[n:]
        return out, rest

    def unknown(self, text: str) -> QueryError:
        suggestions = self.suggest(text)
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ' Try "help" for examples.'
        return QueryError(f'No company "{text}".{hint}', suggestions)


# --------------------------------------------------------------------------- figure names


def metric_words(text: str) -> str:
    """The user's metric words in the catalogue's terms: 'adj.' -> 'adjusted', 'non gaap' -> 'non-GAAP'."""
    return _NON_GAAP.sub(lambda m: f"non-{m.group(1).upper()}", _ADJ.sub("adjusted", text)).strip()


def base_key(key: str) -> str:
    return key.removeprefix("adjusted_").removeprefix("gaap_")


def wanted_basis(text: str, key: str | None) -> str | None:
    if key is not None and key.startswith("adjusted_"):
        return "adjusted"
    return "gaap" if _GAAP_WORD.search(text) else None


def metric_basis(m: Metric) -> str:
    return m.basis or ("adjusted" if m.key.startswith("adjusted_") else "gaap")


def period_of(report: Report) -> Period | None:
    p = report.period
    if p.fiscal_year is None:
        return None
    return Period(fiscal_year=p.fiscal_year, fiscal_quarter=p.fiscal_quarter)


def _metric_period(m: Metric, report: Report) -> tuple[int | None, int | None]:
    """The (year, quarter) a figure is for: its own period when it names one, else its report's."""
    own = parse_period(m.period)
    if own is not None:
        return own.fiscal_year, own.fiscal_quarter
    return report.period.fiscal_year, report.period.fiscal_quarter


def find_metric(report: Report, text: str, period: Period | None = None) -> Metric | None:
    """The figure in `report` the user's words name, preferring the basis they said and the period asked.

    Order: same catalogue key (e.g. adjusted_ebitda_margin), then the same figure on the other basis,
    then a figure whose name is exactly the words (company-specific KPIs). Within each, figures for the
    asked period (or the report's own period when none was asked) come before others (e.g. full-year
    figures in a fourth-quarter release).
    """
    text = metric_words(text)
    key = find_metric_key(text)
    wanted = wanted_basis(text, key)
    words = norm(text)

    def rank(m: Metric) -> tuple[int, int, int] | None:
        if key is not None and m.key == key:
            level = 0
        elif key is not None and base_key(m.key) == base_key(key):
            level = 1
        elif norm(m.name) == words or norm(m.key.replace("_", " ")) == words:
            level = 2
        else:
            return None
        year, quarter = _metric_period(m, report)
        target = period or period_of(report)
        off_period = 0 if target is None or (year, quarter) == (target.fiscal_year, target.fiscal_quarter) else 1
        basis = 0 if wanted is None and metric_basis(m) == "gaap" else (0 if metric_basis(m) == wanted else 1)
        return level, off_period, basis

    ranked = [(r, i, m) for i, m in enumerate(report.metrics) if (r := rank(m)) is not None]
    return min(ranked, key=lambda t: (t[0], t[1]))[2] if ranked else None


def _score(query: str, name: str) -> float:
    q, n = query.split(), name.split()
    best = difflib.SequenceMatcher(None, query, name).ratio()
    for i in range(max(0, len(n) - len(q)) + 1):
        best = max(best, difflib.SequenceMatcher(None, query, " ".join(n[i : i + len(q)])).ratio())
    return best


def suggest_metrics(report: Report, text: str) -> tuple[str, ...]:
    """Names of the report's figures closest to the user's words (difflib over names and keys)."""
    query = norm(text)
    scores: dict[str, float] = {}
    for m in report.metrics:
        score = max(_score(query, norm(m.name)), _score(query, norm(m.key.replace("_", " "))))
        if score >= _SUGGEST_CUTOFF:
            scores[m.name] = max(scores.get(m.name, 0.0), score)
    return tuple(sorted(scores, key=lambda name: (-round(scores[name], 2), name))[:_MAX_SUGGESTIONS])
