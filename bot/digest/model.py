"""The platform-neutral digest and answer types that every renderer (Slack, Teams, console, HTML) draws.

Strings that come from documents (quotes, speaker names, titles, company names) are held raw here;
each renderer escapes them for its own markup.
"""

from __future__ import annotations

from typing import Literal

from bot.models import Frozen

Trend = Literal["up", "down", "flat"]


class FigureLine(Frozen):
    """One figure as a person reads it: label, formatted value, its stated change, and its quote."""

    key: str
    label: str
    value: str
    change: str | None = None
    trend: Trend | None = None
    computed: bool = False
    prior: str | None = None
    basis: str | None = None
    period: str | None = None
    quote: str
    speaker: str | None = None
    verified: bool | None = None
    checks: tuple[str, ...] = ()
    warning: str | None = None
    qualifier: str | None = None
    translation: str | None = None


class OutlookLine(Frozen):
    """One guidance or outlook statement: a short text, the verbatim quote and who said it where."""

    text: str
    quote: str
    kind: Literal["numeric", "qualitative", "refusal"]
    speaker: str | None = None
    where: str | None = None
    range: str | None = None
    direction: str | None = None
    translation: str | None = None


class Digest(Frozen):
    """A report made readable: what the channel post, the card, the terminal and the status page show."""

    title: str
    company: str | None = None
    ticker: str | None = None
    period: str | None = None
    source_label: str
    url: str | None = None
    headline: tuple[FigureLine, ...] = ()
    outlook: tuple[OutlookLine, ...] = ()
    warnings: tuple[str, ...] = ()
    figures: tuple[FigureLine, ...] = ()
    footer: str
    figure_count: int = 0
    verified_count: int = 0
    language: str = "en"


class Table(Frozen):
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


class Answer(Frozen):
    """The reply to one query, platform-neutral. `ok` is False for errors and 'did you mean' replies."""

    ok: bool = True
    title: str
    lines: tuple[str, ...] = ()
    figures: tuple[FigureLine, ...] = ()
    outlook: tuple[OutlookLine, ...] = ()
    table: Table | None = None
    digest: Digest | None = None
    suggestions: tuple[str, ...] = ()
    source_label: str | None = None
    url: str | None = None
    shareable: bool = True
