"""The terminal: the digest as a rich table (the `extract` preview) and the console sink of the service."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.digest.model import Digest, FigureLine

if TYPE_CHECKING:
    from bot.store import DeliveryItem

TREND_STYLE = {"up": "green", "down": "red", "flat": "yellow"}


def _change(f: FigureLine) -> Text:
    if f.qualifier and not f.change:
        return Text(f.qualifier, style="cyan")
    text = Text(f.change or "", style=TREND_STYLE.get(f.trend or "", ""))
    if f.qualifier:
        text.append(f"  {f.qualifier}", style="cyan")
    if f.warning:
        text.append(" ⚠", style="bold yellow")
    return text


def headline_table(digest: Digest) -> Table:
    table = Table.grid(padding=(0, 2))
    for _ in range(2):
        table.add_column(style="bold")
        table.add_column(justify="right")
        table.add_column()
    cells = [(Text(f.label.replace("Adjusted ", "Adj. ")), Text(f.value), _change(f)) for f in digest.headline]
    for i in range(0, len(cells), 2):
        left = cells[i]
        right = cells[i + 1] if i + 1 < len(cells) else (Text(""), Text(""), Text(""))
        table.add_row(*left, *right)
    return table


def digest_renderable(digest: Digest, *, full: bool = True) -> Group:
    """The channel post, then (when `full`) every figure with its quote."""
    parts: list[Table | Text | Panel] = [headline_table(digest)]
    if digest.outlook:
        parts.append(Text("\nOutlook", style="bold"))
        for o in digest.outlook:
            line = Text(" • ")
            line.append(o.text)
            if o.where:
                line.append(f"  ({o.where})", style="dim")
            parts.append(line)
    for w in digest.warnings:
        parts.append(Text(f"⚠ {w}", style="yellow"))
    parts.append(Text(digest.footer + (f" · {digest.url}" if digest.url else ""), style="dim"))
    post = Panel(Group(*parts), title=escape(digest.title), title_align="left")
    if not full:
        return Group(post)
    figures = Table(title="All figures", show_lines=True, expand=True)
    figures.add_column("Figure", style="bold", ratio=2)
    figures.add_column("Value", justify="right", no_wrap=True, min_width=12)
    figures.add_column("Change / prior", ratio=2)
    figures.add_column("Check", justify="center", ratio=1)
    figures.add_column("Quote", ratio=6)
    for f in digest.figures:
        change = " · ".join(p for p in (f.change, f.prior) if p)
        check = {True: "✓", False: "✗", None: ""}[f.verified]
        who = f" — {f.speaker}" if f.speaker else ""
        figures.add_row(Text(f.label), Text(f.value), Text(change), Text(check), Text(f"“{f.quote}”{who}"))
    guidance = Table(title="Guidance and outlook quotes", show_lines=True, expand=True)
    guidance.add_column("Kind", ratio=1)
    guidance.add_column("Statement", ratio=3)
    guidance.add_column("Quote", ratio=6)
    for o in digest.outlook:
        guidance.add_row(Text(o.kind), Text(o.text), Text(f"“{o.quote}”" + (f" — {o.speaker}" if o.speaker else "")))
    return Group(post, figures, guidance) if digest.outlook else Group(post, figures)


def print_digest(digest: Digest, *, file: TextIO | None = None, width: int | None = None, full: bool = True) -> None:
    console = Console(file=file or sys.stdout, width=width, soft_wrap=False, highlight=False)
    console.print(digest_renderable(digest, full=full))


class ConsoleSink:
    """The embedded default route: digests printed in the terminal where the service runs."""

    platform = "console"

    def __init__(self, file: TextIO | None = None) -> None:
        self._file = file

    async def send(self, item: DeliveryItem, digest: Digest) -> str | None:
        print_digest(digest, file=self._file or sys.stdout, full=False)
        return None
