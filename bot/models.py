"""The frozen pydantic types every stage passes along: Document in, Report out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

DocumentKind = Literal["transcript", "press_release"]
Section = Literal["header", "prepared", "qa", "body", "table"]
Basis = Literal["adjusted", "gaap"]
Direction = Literal["raised", "lowered", "reaffirmed", "withdrawn", "initiated"]
GuidanceKind = Literal["numeric", "qualitative", "refusal"]


class Frozen(BaseModel):
    """Base for every boundary type: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- configuration shared with the extractor


class CompanyConfig(Frozen):
    """A company on the watchlist: how it is named in documents and where its digests go."""

    ticker: str
    name: str
    aliases: tuple[str, ...] = ()
    cik: int | None = None
    currency: str | None = None

    @field_validator("ticker")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()


class MetricAlias(Frozen):
    """A company-specific KPI added to the metric catalogue."""

    key: str
    name: str
    aliases: tuple[str, ...]
    kind: Literal["money", "percent", "count", "any"] = "any"



# --------------------------------------------------------------------------- documents


class Segment(Frozen):
    """One paragraph (or table row) of a loaded document, located by offsets into `Document.text`."""

    start: int
    end: int
    speaker: str | None = None
    title: str | None = None
    section: Section = "body"
    operator: bool = False
    translation: str | None = None
    timestamp: str | None = None


class Document(Frozen):
    """A loaded document: the English source text and its structure.

    `text` is the text every quote is a substring of. For bilingual documents it holds only the
    English paragraphs (joined by newlines); each segment keeps its aligned translation.
    """

    text: str
    kind: DocumentKind
    format: str
    segments: tuple[Segment, ...] = ()
    title: str | None = None
    company: str | None = None
    ticker: str | None = None
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None
    url: str | None = None
    published: datetime | None = None
    source: str | None = None
    translation_language: str | None = None

    def segment_at(self, offset: int) -> Segment | None:
        """The segment containing `offset`, or None when it lies between segments."""
        lo, hi = 0, len(self.segments) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            seg = self.segments[mid]
            if offset < seg.start:
                hi = mid - 1
            elif offset >= seg.end:
                lo = mid + 1
            else:
                return seg
        return None


# --------------------------------------------------------------------------- report


class Period(Frozen):
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None
    label: str | None = None


class Change(Frozen):
    """Changes the text states; keys that were not said are omitted from JSON.

    `pct` / `pp` hold a change the text states without saying against which period.
    """

    yoy_pct: float | None = None
    qoq_pct: float | None = None
    yoy_pp: float | None = None
    qoq_pp: float | None = None
    pct: float | None = None
    pp: float | None = None

    @model_serializer
    def _said_only(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def is_empty(self) -> bool:
        return all(v is None for v in self.__dict__.values())


class Prior(Frozen):
    """Prior-period values the text states, in the metric's base unit."""

    prior_year: float | None = None
    prior_quarter: float | None = None

    @model_serializer
    def _said_only(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def is_empty(self) -> bool:
        return all(v is None for v in self.__dict__.values())


class Mention(Frozen):
    """Another place the same figure was said (less precisely, or by another speaker)."""

    value: float
    value_text: str
    quote: str
    speaker: str | None = None
    start: int
    end: int


class Metric(Frozen):
    key: str
    name: str
    value: float
    unit: str
    basis: Basis | None = None
    period: str | None = None
    change: Change = Field(default_factory=Change)
    prior: Prior = Field(default_factory=Prior)
    quote: str
    speaker: str | None = None
    verified: bool | None = None
    value_text: str
    start: int
    end: int
    section: Section | None = None
    approximate: bool = False
    qualifier: str | None = None
    checks: tuple[str, ...] = ()
    mentions: tuple[Mention, ...] = ()
    translation: str | None = None


class Guidance(Frozen):
    metric: str | None = None
    period: str | None = None
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    direction: Direction | None = None
    kind: GuidanceKind = "numeric"
    text: str
    quote: str
    speaker: str | None = None
    start: int
    end: int
    section: Section | None = None
    translation: str | None = None


class Flag(Frozen):
    kind: str
    message: str
    quote: str
    metric: str | None = None
    start: int | None = None
    end: int | None = None


class Report(Frozen):
    """What the extractor found in one document."""

    company: str | None = None
    ticker: str | None = None
    kind: DocumentKind
    period: Period = Field(default_factory=Period)
    currency: str | None = None
    title: str | None = None
    url: str | None = None
    metrics: tuple[Metric, ...] = ()
    guidance: tuple[Guidance, ...] = ()
    flags: tuple[Flag, ...] = ()
    translation_language: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The public JSON contract (`earnings-bot extract --json`)."""
        return self.model_dump(mode="json")

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)
