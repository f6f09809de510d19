"""Digest -> HTML fragment for the status page; every string from a document is escaped."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from bot.digest.model import Digest, FigureLine, OutlookLine


def safe_href(url: str | None) -> str | None:
    """`url` escaped for an href attribute, or None when it is not an http(s) link (no javascript: etc.)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return escape(url.strip(), quote=True) if scheme in ("http", "https") else None


def _who(*parts: str | None) -> str:
    """The first of `parts` that is set (the digest's `where` already names the speaker)."""
    who = next((p for p in parts if p), None)
    return f' <span class="who">({escape(who)})</span>' if who else ""


def _change(line: FigureLine) -> str:
    """The change as the digest states it (arrow and "(calc.)" included), coloured by its trend."""
    if not line.change:
        return ""
    title = ' title="computed by the bot, not stated in the text"' if line.computed else ""
    return f'<span class="trend-{line.trend or "none"}"{title}>{escape(line.change)}</span>'


def _figure_row(line: FigureLine) -> str:
    check = ' <span class="ok" title="arithmetic-checked">✓</span>' if line.verified else ""
    warning = (
        f' <span class="warning" title="{escape(line.warning, quote=True)}">⚠</span>' if line.warning else ""
    )
    qualifier = f' <span class="qualifier">{escape(line.qualifier)}</span>' if line.qualifier else ""
    return (
        "<tr>"
        f'<th scope="row">{escape(line.label)}</th>'
        f'<td class="value">{escape(line.value)}{check}</td>'
        f"<td>{_change(line)}{qualifier}{warning}</td>"
        "</tr>"
    )


def _quote_row(line: FigureLine) -> str:
    return (
        "<tr>"
        f'<th scope="row">{escape(line.label)}</th>'
        f'<td class="value">{escape(line.value)}</td>'
        f"<td><q>{escape(line.quote)}</q>{_who(line.speaker)}</td>"
        "</tr>"
    )


def _outlook_item(line: OutlookLine) -> str:
    return f"<li>{escape(line.text)}{_who(line.where, line.speaker)}<br><q>{escape(line.quote)}</q></li>"


def render_digest(digest: Digest) -> str:
    """One <article> for the digest: header, headline figures, outlook, warnings, all figures, footer."""
    href = safe_href(digest.url)
    title = escape(digest.title)
    heading = f'<a href="{href}" rel="noopener noreferrer">{title}</a>' if href else title
    meta = " · ".join(
        escape(p)
        for p in (digest.company, digest.ticker, digest.period, digest.source_label)
        if p
    )
    parts = [
        f'<article class="digest" lang="{escape(digest.language, quote=True)}">',
        f"<header><h3>{heading}</h3><p class=\"meta\">{meta}</p></header>",
    ]
    if digest.headline:
        rows = "".join(_figure_row(line) for line in digest.headline)
        parts.append(f'<table class="headline"><tbody>{rows}</tbody></table>')
    if digest.outlook:
        items = "".join(_outlook_item(line) for line in digest.outlook)
        parts.append(f'<section class="outlook"><h4>Outlook</h4><ul>{items}</ul></section>')
    if digest.warnings:
        items = "".join(f"<li>⚠ {escape(w)}</li>" for w in digest.warnings)
        parts.append(f'<ul class="warnings">{items}</ul>')
    if digest.figures:
        rows = "".join(_quote_row(line) for line in digest.figures)
        parts.append(
            f"<details><summary>All {len(digest.figures)} figures with their quotes</summary>"
            f'<table class="figures"><tbody>{rows}</tbody></table></details>'
        )
    parts.append(f'<footer>{escape(digest.footer)}</footer></article>')
    return "".join(parts)
