"""Digest and Answer -> Adaptive Card 1.5 for Microsoft Teams, escaped and kept under Teams' 28 KB limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from bot.digest.model import Answer, Digest, FigureLine, OutlookLine, Table

Card = dict[str, Any]

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses messages over 28 KB; measured on the serialised message, kept below both 28,000 and 28,672.
MAX_MESSAGE_BYTES = 28_000

# Delivery kinds (bot.delivery) and how the card header says them.
HEADER_PREFIX = {"new_event": "", "event_update": "Update: ", "revision": "Corrected release: "}

_SHORTENED = "Shortened to fit Teams' message size limit."

# Longest text (characters) one document string may take in a card, by role.
_TITLE_CHARS = 300
_TEXT_CHARS = 600
_QUOTE_CHARS = 900
_CELL_CHARS = 120

# Markdown-significant characters of the Adaptive Card subset, HTML tags (<at> mentions) and entities.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#~]|&(?=#?\w+;))")
# A list-item marker at the start of a text block ("- ", "+ ", "1. "); "1)" is already harmless.
_LEADING_MARKER = re.compile(r"^(?:([-+])|(\d+)\.)(?=\s)")
# "scheme:" before "//" would autolink; so would a dot between letters ("example.com", "www.x").
_SCHEME = re.compile(r"(?i)(?<=[a-z0-9])(?=://)")
_DOMAIN_DOT = re.compile(r"(?i)(?<=[a-z0-9])\.(?=[a-z]{2,}\b)")
_WHITESPACE = re.compile(r"\s+")
_ZWSP = "\u200b"


# --------------------------------------------------------------------------- text


def clip(text: str, limit: int) -> str:
    """`text` on one line, whitespace collapsed, cut to `limit` characters with an ellipsis."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _escape_marker(match: re.Match[str]) -> str:
    return "\\" + match.group(1) if match.group(1) else match.group(2) + "\\."


def md(text: str, limit: int = _TEXT_CHARS) -> str:
    """Document text made inert for a TextBlock: markdown escaped, links and mentions neutralised, clipped."""
    escaped = _MD_SPECIAL.sub(r"\\\1", clip(text, limit))
    escaped = _LEADING_MARKER.sub(_escape_marker, escaped)
    escaped = _SCHEME.sub(_ZWSP, escaped)
    return _DOMAIN_DOT.sub("." + _ZWSP, escaped)


def safe_url(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) link, with characters that would end a markdown link encoded."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url.strip(), safe=":/?#@!$&'*+,;=%~-._")


# --------------------------------------------------------------------------- elements


def _text(text: str, **style: Any) -> Card:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _cell(text: str, **style: Any) -> Card:
    return {"type": "TableCell", "items": [_text(text, **style)]}


def _table(header: Sequence[str], rows: Sequence[Card], widths: Sequence[int]) -> Card:
    head = {"type": "TableRow", "cells": [_cell(h, weight="bolder") for h in header]}
    return {
        "type": "Table",
        "columns": [{"type": "TableColumnDefinition", "width": w} for w in widths],
        "rows": [head, *rows],
        "firstRowAsHeader": True,
        "showGridLines": False,
    }


def _heading(text: str) -> Card:
    return _text(text, weight="bolder", spacing="medium")


def _change_text(line: FigureLine) -> str:
    """The change as the builder worded it (arrow included, computed ones marked), qualifier, warning sign."""
    parts = [md(line.change, _CELL_CHARS)] if line.change else []
    if line.qualifier:
        parts.append(md(line.qualifier, _CELL_CHARS))
    if line.warning:
        parts.append("⚠")
    return " ".join(parts)


def _headline_row(line: FigureLine) -> Card:
    value = md(line.value, _CELL_CHARS) + (" ✓" if line.verified else "")
    change = _change_text(line)
    change_style: dict[str, Any] = {"color": "attention"} if line.warning else {}
    return {
        "type": "TableRow",
        "cells": [_cell(md(line.label, _CELL_CHARS)), _cell(value), _cell(change or " ", **change_style)],
    }


def _headline(lines: Sequence[FigureLine]) -> Card:
    return _table(("Figure", "Value", "Change"), [_headline_row(line) for line in lines], (3, 2, 3))


def _who(who: str | None) -> str:
    return f" ({md(who, _CELL_CHARS)})" if who else ""


def _quote(quote_text: str, speaker: str | None, translation: str | None) -> list[Card]:
    blocks = [_text(f"“{md(quote_text, _QUOTE_CHARS)}”{_who(speaker)}", isSubtle=True, spacing="none")]
    if translation and translation != quote_text:
        blocks.append(_text(md(translation, _QUOTE_CHARS), isSubtle=True, spacing="none"))
    return blocks


def _figure_blocks(line: FigureLine, *, quotes: bool) -> list[Card]:
    """A figure on its own: bold label, value, change, prior, basis and period; then its quote."""
    facts = [f"**{md(line.label, _CELL_CHARS)}** {md(line.value, _CELL_CHARS)}"]
    change = _change_text(line)
    if change:
        facts.append(change)
    facts.extend(md(extra, _CELL_CHARS) for extra in (line.prior, line.basis, line.period) if extra)
    if line.verified:
        facts.append("✓ checked")
    blocks = [_text(" · ".join(facts))]
    if line.warning:
        blocks.append(_text(f"⚠ {md(line.warning)}", color="attention", spacing="none"))
    if quotes:
        blocks.extend(_quote(line.quote, line.speaker, line.translation))
    return blocks


def _outlook_blocks(line: OutlookLine, *, quotes: bool) -> list[Card]:
    details = [md(d, _CELL_CHARS) for d in (line.range, line.direction) if d]
    suffix = f" ({', '.join(details)})" if details else ""
    # `where` already names the speaker when there is one ("Jane Roe, Q&A").
    blocks = [_text(f"• {md(line.text)}{suffix}{_who(line.where or line.speaker)}", spacing="small")]
    if quotes:
        blocks.extend(_quote(line.quote, None, line.translation))
    return blocks


def _warnings(warnings: Sequence[str]) -> Card:
    items = [_text(f"⚠ {md(w)}", color="attention", spacing="small") for w in warnings]
    return {"type": "Container", "style": "attention", "items": items}


def _shortened(url: str | None) -> Card:
    link = f" [Full digest]({url})" if url else ""
    return _text(_SHORTENED + link, isSubtle=True, size="small")


def _card(body: list[Card], *, fallback: str, url: str | None, lang: str | None = None) -> Card:
    card: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": fallback,
        "body": body,
    }
    if lang:
        card["lang"] = lang
    if url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open source document", "url": url}]
    return card


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class _Level:
    """How much of the content a card carries: the full figure list, quotes, and how many items."""

    figures: bool = True
    quotes: bool = True
    keep: int | None = None  # items kept, in priority order; None keeps all
    shortened: bool = False


def _take(keep: int | None, *groups: Sequence[Any]) -> list[list[Any]]:
    """The first `keep` items across `groups` in order (the later groups give way first)."""
    if keep is None:
        return [list(g) for g in groups]
    taken = []
    for group in groups:
        taken.append(list(group[: max(keep, 0)]))
        keep -= len(taken[-1])
    return taken


def _fit(build: Callable[[_Level], Card], items: int, max_bytes: int) -> Card:
    """The fullest card under `max_bytes`: all of it, then without the full figure list, then without quotes,
    then with as many items as fit (binary search: fewer items never make a card bigger)."""
    for level in (_Level(), _Level(False, True, None, True), _Level(False, False, None, True)):
        card = build(level)
        if message_size(card) <= max_bytes:
            return card
    best = build(_Level(False, False, 0, True))  # header, note and link: a few hundred bytes at most
    low, high = 0, items - 1
    while low < high:
        mid = (low + high + 1) // 2
        card = build(_Level(False, False, mid, True))
        if message_size(card) <= max_bytes:
            low, best = mid, card
        else:
            high = mid - 1
    return best


def to_message(card: Card) -> dict[str, Any]:
    """The message Teams takes (Workflows webhook body, outgoing-webhook reply) around one card."""
    attachment = {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def message_bytes(card: Card) -> bytes:
    """The exact bytes posted for `card`: compact UTF-8 JSON of the message around it."""
    return json.dumps(to_message(card), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def message_size(card: Card) -> int:
    return len(message_bytes(card))


# --------------------------------------------------------------------------- digest


def _digest_items(digest: Digest) -> int:
    return len(digest.headline) + len(digest.warnings) + len(digest.outlook)


def _digest_body(digest: Digest, level: _Level) -> list[Card]:
    """Headline table, warnings, outlook and (at full size) every figure with its quote."""
    headline, warnings, outlook = _take(level.keep, digest.headline, digest.warnings, digest.outlook)
    body: list[Card] = []
    if headline:
        body.append(_headline(headline))
    if outlook:
        body.append(_heading("Outlook"))
        for line in outlook:
            body.extend(_outlook_blocks(line, quotes=level.quotes))
    if warnings:
        body.append(_warnings(warnings))
    if level.figures and digest.figures:
        items: list[Card] = [_heading(f"All {len(digest.figures)} figures with their quotes")]
        for figure in digest.figures:
            items.extend(_figure_blocks(figure, quotes=level.quotes))
        body.append({"type": "Container", "separator": True, "items": items})
    return body


def render_digest(
    digest: Digest,
    *,
    kind: str = "new_event",
    full_url: str | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> Card:
    """The channel card for a digest; `kind` is the delivery kind (new_event, event_update, revision).

    When the message would exceed `max_bytes` it drops the full figure list, then the quotes, then outlook
    lines, warnings and headline rows from the end, and links to `full_url` (default: the source URL).
    """
    if kind not in HEADER_PREFIX:
        raise ValueError(f"unknown delivery kind {kind!r}; expected one of {', '.join(HEADER_PREFIX)}")
    header = HEADER_PREFIX[kind] + md(digest.title, _TITLE_CHARS)
    source = safe_url(digest.url)
    link = safe_url(full_url) or source

    def build(level: _Level) -> Card:
        body = [_text(header, size="large", weight="bolder", style="heading")]
        body.extend(_digest_body(digest, level))
        body.append(_text(md(digest.footer), isSubtle=True, size="small", separator=True))
        if level.shortened:
            body.append(_shortened(link))
        return _card(body, fallback=header, url=source, lang=digest.language)

    return _fit(build, _digest_items(digest), max_bytes)


# --------------------------------------------------------------------------- answer


def _answer_table(table: Table, rows: Sequence[tuple[str, ...]]) -> Card:
    cells = [
        {"type": "TableRow", "cells": [_cell(md(value, _CELL_CHARS)) for value in row]} for row in rows
    ]
    return _table([md(c, _CELL_CHARS) for c in table.columns], cells, [1] * len(table.columns))


def render_answer(answer: Answer, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Card:
    """The reply card for a query: title, lines, figures with quotes, a table, outlook, an embedded digest.

    An answer that is not `ok` (an error or a "did you mean") shows its title in the attention colour.
    """
    title = md(answer.title, _TITLE_CHARS)
    source = safe_url(answer.url) or (safe_url(answer.digest.url) if answer.digest else None)
    table_rows = answer.table.rows if answer.table else ()
    own_items = len(answer.suggestions) + len(answer.lines) + len(answer.figures) + len(table_rows)
    own_items += len(answer.outlook)
    digest_items = _digest_items(answer.digest) if answer.digest else 0

    def build(level: _Level) -> Card:
        keep = level.keep
        suggestions, lines, figures, rows, outlook = _take(
            keep, answer.suggestions, answer.lines, answer.figures, table_rows, answer.outlook
        )
        style: dict[str, Any] = {} if answer.ok else {"color": "attention"}
        body = [_text(title, size="large", weight="bolder", style="heading", **style)]
        if suggestions:
            body.append(_text("Did you mean: " + ", ".join(md(s, _CELL_CHARS) for s in suggestions) + "?"))
        body.extend(_text(md(line)) for line in lines)
        for figure in figures:
            body.extend(_figure_blocks(figure, quotes=level.quotes))
        if answer.table is not None and rows:
            body.append(_answer_table(answer.table, rows))
        if outlook:
            body.append(_heading("Outlook"))
            for line in outlook:
                body.extend(_outlook_blocks(line, quotes=level.quotes))
        if answer.digest is not None:
            rest = None if keep is None else max(keep - own_items, 0)
            digest_level = _Level(level.figures, level.quotes, rest, level.shortened)
            body.append(_text(md(answer.digest.title, _TITLE_CHARS), weight="bolder", separator=True))
            body.extend(_digest_body(answer.digest, digest_level))
        if answer.source_label:
            body.append(_text("Source: " + md(answer.source_label), isSubtle=True, size="small"))
        if level.shortened:
            body.append(_shortened(source))
        return _card(body, fallback=title, url=source)

    return _fit(build, own_items + digest_items, max_bytes)
