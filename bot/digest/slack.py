"""Digest and Answer -> Slack Block Kit messages, within Slack's limits, with document text made inert."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from bot.digest.model import Answer, Digest, FigureLine, OutlookLine, Table

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK = 4000
MAX_BUTTON_VALUE = 2000
# Slack rejects very large payloads before the block limits bite; keep each message comfortably small.
MAX_MESSAGE_CHARS = 12000

SHARE_ACTION = "share_answer"
ELLIPSIS = "…"
_ZWSP = "\u200b"
_WORD_JOINER = "\u2060"

_CONTROL = re.compile(r"[&<>]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# @channel, @here, @everyone typed as words: broken with a word joiner so they never notify.
_BROADCAST = re.compile(r"(?<![\w.+-])@(?=(?:channel|here|everyone)\b)", re.I)
# Bare links Slack would auto-link: break the scheme separator and "www." so no link is formed.
_SCHEME = re.compile(r"(?<=[A-Za-z]):(?=//)")
_WWW = re.compile(r"\b(www)\.", re.I)
# mrkdwn formatting markers: a zero-width space after each stops document text from restyling a message.
_FORMATTING = re.compile(r"[*_~`]")
_NEWLINES = re.compile(r"\s*\n\s*")


def escape(text: str, *, formatting: bool = True) -> str:
    """Document text made inert for mrkdwn: &, <, > as entities (so no <!channel>, <@U..>, <url|x> can form),
    broadcast words and bare links broken, and (by default) formatting markers neutralised."""
    out = _CONTROL.sub(lambda m: _ENTITIES[m.group(0)], text)
    out = _BROADCAST.sub("@" + _WORD_JOINER, out)
    out = _SCHEME.sub(":" + _WORD_JOINER, out)
    out = _WWW.sub(lambda m: f"{m.group(1)}{_WORD_JOINER}.", out)
    if formatting:
        out = _FORMATTING.sub(lambda m: m.group(0) + _ZWSP, out)
    return out


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for `<url|label>` (no '|', '>' or spaces), or None."""
    if not url:
        return None
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https") or len(url) > 2000:
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


def link(url: str | None, label: str) -> str:
    """A mrkdwn link with an escaped label, or just the escaped label when the URL is not http(s)."""
    href = safe_url(url)
    text = escape(label).replace("|", "¦")
    return f"<{href.replace('&', '&amp;')}|{text}>" if href else text


@dataclass(frozen=True)
class SlackMessage:
    """What chat.postMessage, chat.update and response_url take: a plain-text fallback and blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(truncate(text, MAX_SECTION_TEXT))}


def _context(*texts: str) -> Block:
    elements = [_mrkdwn(truncate(t, MAX_SECTION_TEXT)) for t in texts[:MAX_CONTEXT_ELEMENTS]]
    return {"type": "context", "elements": elements}


def _header(text: str) -> Block:
    plain = _NEWLINES.sub(" ", text).strip() or "Earnings"
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(plain, MAX_HEADER), "emoji": False}}


def _quote(text: str, speaker: str | None = None) -> str:
    lines = [f"> {escape(line)}" for line in _NEWLINES.split(text.strip()) if line]
    who = f"\n— {escape(speaker)}" if speaker else ""
    return "\n".join(lines) + who


def _change(line: FigureLine) -> str:
    """The change as the builder worded it (arrow included; computed ones say so)."""
    return escape(line.change) if line.change else ""


def _check(line: FigureLine) -> str:
    if line.verified:
        return "✓ checked"
    if line.verified is False:
        return "✗ check failed"
    return ""


def figure_summary(line: FigureLine, *, detail: bool = False) -> str:
    """'RMB1,775.7M  ▲ 3.1% QoQ  _first positive_  ⚠' (mrkdwn, escaped); `detail` adds the prior values and
    whether the arithmetic was checked."""
    parts = [escape(line.value), _change(line)]
    if line.qualifier:
        parts.append(f"_{escape(line.qualifier)}_")
    if detail and line.prior:
        parts.append(f"({escape(line.prior)})")
    if detail:
        parts.append(_check(line))
    if line.warning:
        parts.append("⚠")
    return "  ".join(p for p in parts if p)


def _figure_field(line: FigureLine) -> Block:
    text = f"*{escape(line.label)}*\n{figure_summary(line)}"
    return _mrkdwn(truncate(text, MAX_FIELD_TEXT))


def _figure_sections(lines: Sequence[FigureLine]) -> list[Block]:
    return [
        {"type": "section", "fields": [_figure_field(line) for line in lines[i : i + MAX_FIELDS]]}
        for i in range(0, len(lines), MAX_FIELDS)
    ]


def _who(line: OutlookLine) -> str:
    """Who said it where ('Haijian He, Q&A'): `where` already names the speaker when there is one."""
    return line.where or line.speaker or ""


def _outlook_text(line: OutlookLine) -> str:
    who = _who(line)
    suffix = f" _({escape(who)})_" if who else ""
    return f"• {escape(line.text)}{suffix}"


def _bullets(title: str, items: Sequence[str], overflow: str) -> tuple[str, int]:
    """A titled bullet list within one section's limit; returns the text and how many items fit."""
    text = title
    for i, item in enumerate(items):
        more = f"\n{overflow.format(n=len(items) - i)}"
        candidate = f"{text}\n{item}"
        rest_fits = i == len(items) - 1 or len(candidate) + len(more) <= MAX_SECTION_TEXT
        if len(candidate) > MAX_SECTION_TEXT or not rest_fits:
            return f"{text}{more}", i
        text = candidate
    return text, len(items)


def _fallback(digest: Digest) -> str:
    """The notification text: Slack parses it too, so it is escaped like the blocks."""
    figures = "; ".join(f"{f.label} {f.value}" + (f" ({f.change})" if f.change else "") for f in digest.headline)
    return truncate(escape(f"{digest.title}: {figures}" if figures else digest.title), MAX_FALLBACK)


def render_digest(digest: Digest, *, note: str | None = None) -> SlackMessage:
    """The channel post: header, headline figures, outlook, warnings, source and footer."""
    blocks: list[Block] = [_header(digest.title)]
    if note:
        blocks.append(_context(escape(note)))
    blocks.extend(_figure_sections(digest.headline))
    if digest.outlook:
        text, _ = _bullets("*Outlook*", [_outlook_text(o) for o in digest.outlook], "…and {n} more in the thread")
        blocks.append(_section(text))
    if digest.warnings:
        text, _ = _bullets("", [f"⚠ {escape(w)}" for w in digest.warnings], "⚠ …and {n} more in the thread")
        blocks.append(_section(text.strip()))
    blocks.append(_context(_footer(digest)))
    return SlackMessage(text=_fallback(digest), blocks=_fit(blocks))


def _footer(digest: Digest) -> str:
    """The footer with its leading source label as the link to the document ('Transcript · 24 figures...')."""
    source = link(digest.url, digest.source_label)
    if digest.footer.startswith(digest.source_label):
        return source + escape(digest.footer[len(digest.source_label) :])
    return f"{source} · {escape(digest.footer)}"


def _fit(blocks: list[Block]) -> list[Block]:
    """At most MAX_BLOCKS blocks; the footer (last block) is kept."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    return [*blocks[: MAX_BLOCKS - 1], blocks[-1]]


def _figure_detail(line: FigureLine) -> str:
    head = f"*{escape(line.label)}*  {figure_summary(line, detail=True)}"
    extra = [f"⚠ {escape(line.warning)}"] if line.warning else []
    extra += [escape(c) for c in line.checks]
    if line.translation:
        extra.append(f"_{escape(line.translation)}_")
    body = "\n".join([head, *extra, _quote(line.quote, line.speaker)])
    return truncate(body, MAX_SECTION_TEXT)


def _outlook_detail(line: OutlookLine) -> str:
    who = _who(line)
    head = f"• {escape(line.text)}" + (f" _({escape(who)})_" if who else "")
    return truncate(f"{head}\n{_quote(line.quote)}", MAX_SECTION_TEXT)


def _pack(title: str, sections: Iterable[str]) -> list[SlackMessage]:
    """Sections packed into as few messages as the block and size limits allow, each with a fallback text."""
    messages: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for text in sections:
        block = _section(text)
        if current and (len(current) >= MAX_BLOCKS or size + len(text) > MAX_MESSAGE_CHARS):
            messages.append(current)
            current, size = [], 0
        current.append(block)
        size += len(text)
    if current:
        messages.append(current)
    total = len(messages)
    return [
        SlackMessage(text=truncate(escape(f"{title} ({i}/{total})" if total > 1 else title),
                                   MAX_FALLBACK), blocks=blocks)
        for i, blocks in enumerate(messages, start=1)
    ]


def render_thread(digest: Digest) -> list[SlackMessage]:
    """The thread under the post: every figure with its quote and speaker, then the guidance quotes."""
    sections: list[str] = []
    if digest.figures:
        source = link(digest.url, digest.source_label)
        sections.append(f"*All {len(digest.figures)} figures with their quotes* · {source}")
        sections.extend(_figure_detail(f) for f in digest.figures)
    if digest.outlook:
        sections.append("*Outlook, as said*")
        sections.extend(_outlook_detail(o) for o in digest.outlook)
    if len(digest.warnings) > 1:
        sections.append("\n".join(f"⚠ {escape(w)}" for w in digest.warnings))
    return _pack(f"{digest.title}: figures and quotes", sections)


# --------------------------------------------------------------------------- answers


def _table(table: Table) -> str:
    """A monospaced table in a code block (cells escaped, backticks replaced so the block cannot end early)."""
    rows = [table.columns, *table.rows]
    cells = [[escape(c, formatting=False).replace("`", "'") for c in row] for row in rows]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in cells) for i in range(len(table.columns))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    body = "\n".join(lines)
    return f"```{truncate(body, MAX_SECTION_TEXT - 6)}```"


def _answer_fallback(answer: Answer) -> str:
    parts = [answer.title]
    parts += [f"{f.label} {f.value}" + (f" ({f.change})" if f.change else "") for f in answer.figures]
    parts += list(answer.lines)
    return truncate(escape(" · ".join(parts)), MAX_FALLBACK)


def share_button(value: str) -> Block | None:
    """The "Share in channel" button carrying the command text (None when it would not fit)."""
    if not value or len(value) > MAX_BUTTON_VALUE:
        return None
    return {
        "type": "actions",
        "elements": [{
            "type": "button", "action_id": SHARE_ACTION, "value": value,
            "text": {"type": "plain_text", "text": "Share in channel", "emoji": False},
        }],
    }


def render_answer(answer: Answer, *, share: str | None = None, shared_by: str | None = None) -> SlackMessage:
    """A query answer. `share` (the command text) adds the button; `shared_by` (a Slack user id) credits
    the person who shared it in the channel."""
    if answer.digest is not None:
        blocks = list(render_digest(answer.digest).blocks)
    else:
        blocks = [_section(f"{'' if answer.ok else '⚠ '}*{escape(answer.title)}*")]
        for line in answer.figures:
            blocks.append(_section(_figure_detail(line)))
        if answer.outlook:
            blocks.extend(_section(_outlook_detail(o)) for o in answer.outlook)
        if answer.table is not None:
            blocks.append(_section(_table(answer.table)))
        if answer.lines:
            text, _ = _bullets("", [escape(line) for line in answer.lines], "…and {n} more")
            blocks.append(_section(text.strip()))
        if answer.source_label:
            blocks.append(_context(f"Source: {link(answer.url, answer.source_label)}"))
    if shared_by and re.fullmatch(r"[UW][A-Z0-9]{2,20}", shared_by):
        blocks.append(_context(f"Shared by <@{shared_by}>"))
    button = share_button(share) if share and answer.shareable else None
    blocks = _fit(blocks)
    if button is not None:
        blocks = [*blocks[: MAX_BLOCKS - 1], button]
    return SlackMessage(text=_answer_fallback(answer), blocks=blocks)
