"""An HTTP JSON earnings-call transcript API: each ticker's next expected quarter, the API key masked."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import quote

import httpx
from pydantic import field_validator, model_validator

from bot.errors import SourceError
from bot.sources.base import (
    FetchedDocument,
    PollResult,
    SourceSpec,
    SourceState,
    log_item_failure,
    must_back_off,
    remember,
    with_source,
)
from bot.sources.http import fetch
from bot.sources.rss import parse_date

logger = logging.getLogger(__name__)

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_PLACEHOLDER = re.compile(r"\{(\w*)\}")
_ALLOWED = frozenset({"ticker", "year", "quarter"})


class Quarter(NamedTuple):
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Quarter | None:
        match = _QUARTER.match(text.strip().upper())
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    @classmethod
    def before(cls, day: date) -> Quarter:
        """The calendar quarter before the one `day` is in."""
        return cls(day.year, (day.month - 1) // 3 + 1).step(-1)

    def step(self, n: int) -> Quarter:
        index = self.year * 4 + self.quarter - 1 + n
        return Quarter(index // 4, index % 4 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"


class TranscriptsSpec(SourceSpec):
    """A transcript API at `base_url`; `path` is a template with {ticker}, {year} and {quarter}.

    The key is read from the environment variable `api_key_env` at poll time and sent as the query
    parameter (api_key_in="query") or header (api_key_in="header") named `api_key_name`.
    """

    kind: Literal["transcripts"] = "transcripts"
    base_url: str
    path: str = "/transcript?symbol={ticker}&year={year}&quarter={quarter}"
    api_key_env: str = "TRANSCRIPTS_API_KEY"
    api_key_in: Literal["query", "header"] = "query"
    api_key_name: str = "apikey"
    start: str | None = None  # first quarter to ask for, "2024Q3"; default: the last calendar quarter
    catch_up: int = 4  # most quarters one poll fetches per ticker

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        unknown = set(_PLACEHOLDER.findall(v)) - _ALLOWED
        if unknown:
            raise ValueError(
                f"path has unknown placeholders {sorted(unknown)}; use {{ticker}}, {{year}}, {{quarter}}"
            )
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v: str | None) -> str | None:
        if v is not None and Quarter.parse(v) is None:
            raise ValueError(f"start {v!r} must look like 2024Q3")
        return v

    @model_validator(mode="after")
    def _check(self) -> TranscriptsSpec:
        if not self.tickers:
            raise ValueError("tickers: a transcripts source needs at least one ticker")
        if self.catch_up < 1:
            raise ValueError("catch_up must be at least 1")
        return self


def _mask(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def pick_transcript(data: Any, year: int, quarter: int) -> tuple[Any, datetime | None] | None:
    """The transcript of (year, quarter) in an API answer, with its date; None when it is not out yet.

    Shapes: {"text"}, {"prepared_remarks", "questions_and_answers"}, {"speakers", ...} (each with an
    optional "event"), and a list of {symbol, quarter, year, date, content}.
    """
    if isinstance(data, list):
        rows = [r for r in data if isinstance(r, dict) and isinstance(r.get("content"), str)]
        rows = [r for r in rows if r["content"].strip()]
        if data and not rows:
            raise ValueError("a list without any {content} transcript")
        same = [r for r in rows if _is_quarter(r, year, quarter)]
        return ([same[0]], parse_date(str(same[0].get("date") or "") or None)) if same else None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object or list, got {type(data).__name__}")
    has_text = any(isinstance(data.get(k), str) and data[k].strip() for k in ("text", "prepared_remarks"))
    has_turns = isinstance(data.get("speakers"), list) and bool(data["speakers"])
    if not (has_text or has_turns):
        if any(k in data for k in ("text", "prepared_remarks", "speakers")):
            return None  # the API knows the call but has no text yet
        raise ValueError(f"no transcript fields in the answer (keys: {sorted(data)[:6]})")
    event: Any = data.get("event") if isinstance(data.get("event"), dict) else {}
    if not _is_quarter(event, year, quarter):
        return None  # the API answered with another quarter: the one asked for is not out yet
    return data, parse_date(event.get("conference_date"))


def _is_quarter(row: dict[str, Any], year: int, quarter: int) -> bool:
    """True unless `row` names a fiscal year or quarter other than the ones asked for."""
    for field, want in (("year", year), ("quarter", quarter)):
        said = row.get(field)
        if said is not None and str(said).strip().lstrip("Qq") != str(want):
            return False
    return True


class TranscriptsSource:
    """Asks the API for each ticker's next expected quarter; the cursor keeps it per ticker as JSON."""

    def __init__(self, spec: TranscriptsSpec, today: Callable[[], date] | None = None) -> None:
        self.spec = spec
        self._today = today or (lambda: datetime.now(UTC).date())

    def _key(self) -> str:
        key = os.environ.get(self.spec.api_key_env, "").strip()
        if not key:
            raise SourceError(
                f"source {self.spec.name}: environment variable {self.spec.api_key_env} is not set"
            )
        return key

    def _cursor(self, state: SourceState) -> dict[str, Quarter]:
        try:
            raw = json.loads(state.cursor) if state.cursor else {}
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            logger.warning(
                "source %s: unreadable cursor, starting over",
                self.spec.name,
                extra={"source": self.spec.name},
            )
            raw = {}
        start = Quarter.parse(self.spec.start) if self.spec.start else None
        default = start or Quarter.before(self._today())
        return {t: Quarter.parse(str(raw.get(t, ""))) or default for t in self.spec.tickers}

    async def _ask(
        self, client: httpx.AsyncClient, secret: str, ticker: str, q: Quarter
    ) -> FetchedDocument | None:
        spec = self.spec
        url = spec.base_url.rstrip("/") + spec.path.format(
            ticker=quote(ticker), year=q.year, quarter=q.quarter
        )
        request_url, headers = url, {}
        if spec.api_key_in == "header":
            headers[spec.api_key_name] = secret
        else:
            request_url = str(httpx.URL(url).copy_merge_params({spec.api_key_name: secret}))
        try:
            got = await fetch(
                client, request_url, validator=None, timeout=spec.timeout_seconds, headers=headers
            )
        except SourceError as err:
            if err.status == 404:
                return None
            raise SourceError(
                _mask(str(err), secret), status=err.status, retry_after=err.retry_after
            ) from None
        if got is None:
            return None
        try:
            picked = pick_transcript(json.loads(got.content), q.year, q.quarter)
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise SourceError(
                _mask(f"{url.split('?')[0]}: malformed transcript JSON ({exc})", secret)
            ) from None
        if picked is None:
            return None
        body, when = picked
        content = json.dumps(body).encode() if isinstance(body, list) else got.content
        return FetchedDocument(
            source=spec.name,
            key=f"{ticker}:{q}",
            url=url,
            title=f"{ticker} {q.year} Q{q.quarter} earnings call transcript",
            published=when,
            content=content,
            content_type="application/json",
            ticker=ticker,
            form="transcript",
            fiscal_year=q.year,
            fiscal_quarter=q.quarter,
        )

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        name = self.spec.name
        secret = self._key()
        cursor = self._cursor(state)
        docs: list[FetchedDocument] = []
        failures: list[SourceError] = []
        for ticker in self.spec.tickers:
            q = cursor[ticker]
            try:
                for _ in range(self.spec.catch_up):
                    doc = await self._ask(client, secret, ticker, q)
                    if doc is None:  # not out yet; a quarter the API never gets must not stall us
                        doc = await self._ask(client, secret, ticker, q.step(1))
                        if doc is None:
                            break
                        q = q.step(1)
                    if doc.key not in state.seen:
                        docs.append(doc)
                    q = q.step(1)
            except SourceError as err:
                if must_back_off(err):
                    raise with_source(name, err) from None
                log_item_failure(logger, name, f"{ticker}:{q}", err)
                failures.append(err)
            cursor[ticker] = q
        if failures and len(failures) == len(self.spec.tickers):
            raise with_source(name, failures[0])
        return PollResult(
            documents=tuple(docs),
            state=SourceState(
                validators=state.validators,
                seen=remember(state.seen, (d.key for d in docs)),
                cursor=json.dumps({t: str(q) for t, q in sorted(cursor.items())}),
            ),
        )

    async def backfill(
        self, client: httpx.AsyncClient, ticker: str, quarters: int
    ) -> tuple[FetchedDocument, ...]:
        """The latest `quarters` transcripts, walking back from a year past today (fiscal years run ahead)."""
        secret = self._key()
        symbol = ticker.strip().upper()
        q = Quarter.before(self._today()).step(5)
        docs: list[FetchedDocument] = []
        failures: list[SourceError] = []
        for _ in range(quarters + 8):
            if len(docs) >= quarters:
                break
            try:
                doc = await self._ask(client, secret, symbol, q)
            except SourceError as err:
                if must_back_off(err):
                    raise with_source(self.spec.name, err) from None
                log_item_failure(logger, self.spec.name, f"{symbol}:{q}", err)
                failures.append(err)
                doc = None
            if doc is not None:
                docs.append(doc)
            q = q.step(-1)
        if failures and not docs:
            raise with_source(self.spec.name, failures[0])
        return tuple(docs)
