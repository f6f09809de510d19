"""Teams cards: escaping, layout, the 28 KB budget, and the Adaptive Card 1.5 schema for every card."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema.protocols import Validator

from bot.digest.build import build_digest
from bot.digest.model import Answer, Digest, FigureLine, OutlookLine, Table
from bot.digest.teams import (
    MAX_MESSAGE_BYTES,
    clip,
    md,
    message_bytes,
    message_size,
    render_answer,
    render_digest,
    safe_url,
    to_message,
)
from bot.extract import extract
from bot.extract.load import load_path
from tests.faketeams import SHARED, card_texts

ZW = "\u200b"
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def valid(schema: Validator, card: dict[str, Any]) -> dict[str, Any]:
    errors = [f"{e.message[:200]} at {list(e.absolute_path)}" for e in schema.iter_errors(card)]
    assert not errors, errors[:3]
    assert card["version"] == "1.5"
    return card


def of_type(element: Any, kind: str) -> list[dict[str, Any]]:
    if isinstance(element, dict):
        own = [element] if element.get("type") == kind else []
        return own + [e for value in element.values() for e in of_type(value, kind)]
    if isinstance(element, list):
        return [e for item in element for e in of_type(item, kind)]
    return []


def figure(n: int, *, quote: str | None = None, **extra: Any) -> FigureLine:
    fields: dict[str, Any] = {
        "key": f"metric_{n}",
        "label": f"Segment {n} revenue",
        "value": f"RMB{100 + n:,}.5M",
        "change": f"{'▲' if n % 2 else '▼'} {n % 9 + 1}.2% YoY",
        "trend": "up" if n % 2 else "down",
        "quote": quote
        or f"Revenue from segment {n} reached RMB{100 + n}.5 million, up {n % 9 + 1}.2% year over year.",
        "speaker": "Jane Roe",
    }
    return FigureLine(**{**fields, **extra})


def outlook(n: int, *, quote: str | None = None) -> OutlookLine:
    return OutlookLine(
        text=f"Margins expected to improve in quarter {n}",
        quote=quote or f"We expect margins to keep improving through quarter {n} as mix shifts.",
        kind="qualitative",
        speaker="John Doe",
        where="John Doe, Q&A",
    )


def digest(
    *,
    headline: int = 3,
    figures: int = 5,
    outlook_lines: int = 2,
    warnings: int = 1,
    quote_chars: int = 0,
    **extra: Any,
) -> Digest:
    long_quote = ("Revenue grew as customers moved workloads to the platform. " * 40)[:quote_chars] or None
    fields: dict[str, Any] = {
        "title": "Northwind Cloud (NWC) · Q2 2025 earnings call",
        "company": "Northwind Cloud",
        "ticker": "NWC",
        "period": "Q2 2025",
        "source_label": "Transcript",
        "url": "https://investors.northwind.example/q2-2025",
        "headline": tuple(figure(i) for i in range(headline)),
        "outlook": tuple(outlook(i, quote=long_quote) for i in range(outlook_lines)),
        "warnings": tuple(
            f"Segment {i}: the text says an increase; the figures show a decrease." for i in range(warnings)
        ),
        "figures": tuple(figure(i, quote=long_quote) for i in range(figures)),
        "footer": f"Transcript · {figures} figures, 2 arithmetic-checked ✓",
        "figure_count": figures,
        "verified_count": 2,
    }
    return Digest(**{**fields, **extra})


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("Revenue rose 3.1% to RMB1,775.7M", "Revenue rose 3.1% to RMB1,775.7M"),
        ("**not bold**", r"\*\*not bold\*\*"),
        ("_not italic_ and snake_case", r"\_not italic\_ and snake\_case"),
        ("[click](https://evil.test/x)", rf"\[click\](https{ZW}://evil.{ZW}test/x)"),
        ("see www.northwind.example/ir", f"see www.{ZW}northwind.{ZW}example/ir"),
        ("mail ir@northwind.com", f"mail ir@northwind.{ZW}com"),
        ("<at>Everyone</at> look", r"\<at\>Everyone\</at\> look"),
        ("- not a list item", r"\- not a list item"),
        ("+ not a list item", r"\+ not a list item"),
        ("1. not a numbered item", r"1\. not a numbered item"),
        ("-1.6% EBITDA margin", "-1.6% EBITDA margin"),
        ("# not a heading", r"\# not a heading"),
        ("`not code`", r"\`not code\`"),
        ("AT&amp;T and R&D", r"AT\&amp;T and R&D"),
        ("back\\slash", r"back\\slash"),
        ("U.S. sales, e.g. in Q1", "U.S. sales, e.g. in Q1"),
        ("two\nlines\r\n  here", "two lines here"),
    ],
)
def test_md_escapes_document_text(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


@given(st.text(alphabet=st.characters(exclude_characters=ZW, exclude_categories=["Cs"]), max_size=200))
def test_md_shows_the_document_text_exactly(raw: str) -> None:
    shown = _UNESCAPE.sub(r"\1", md(raw, 1000)).replace(ZW, "")
    assert shown == clip(raw, 1000)


@given(st.text(alphabet="ab.:/[]()<>@*_\\ hpst", max_size=60))
def test_md_leaves_no_link_or_markup_syntax(raw: str) -> None:
    out = md(raw)
    unescaped = re.sub(r"\\.", "", out)  # what is left once escaped characters are taken out
    assert not re.search(r"[\[\]<>*_]", unescaped)
    assert not re.search(r"[a-z]://", out)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://ir.example.com/q2", "https://ir.example.com/q2"),
        ("http://ir.example.com/a b(1)", "http://ir.example.com/a%20b%281%29"),
        ("javascript:alert(1)", None),
        ("ftp://files.example.com/x", None),
        ("/relative/path", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, safe: str | None) -> None:
    assert safe_url(url) == safe


def test_clip_cuts_long_text_with_an_ellipsis() -> None:
    assert clip("word " * 100, 20) == "word word word word…"
    assert len(clip("x" * 5000, 900)) == 900


# --------------------------------------------------------------------------- digest cards


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("new_event", "Northwind Cloud (NWC) · Q2 2025 earnings call"),
        ("event_update", "Update: Northwind Cloud (NWC) · Q2 2025 earnings call"),
        ("revision", "Corrected release: Northwind Cloud (NWC) · Q2 2025 earnings call"),
    ],
)
def test_digest_header_says_update_or_correction(schema: Validator, kind: str, header: str) -> None:
    card = valid(schema, render_digest(digest(), kind=kind))
    first = card["body"][0]
    assert (first["text"], first["size"], first["weight"]) == (header, "large", "bolder")
    assert card["fallbackText"] == header


def test_unknown_delivery_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown delivery kind 'edited'"):
        render_digest(digest(), kind="edited")


def test_digest_card_layout(schema: Validator) -> None:
    headline = (
        figure(
            1, label="Total revenues", value="RMB1,775.7M", change="▲ 3.1% QoQ", trend="up", verified=True
        ),
        figure(
            2,
            label="Enterprise cloud",
            value="RMB588.2M",
            change="▼ 12.2% QoQ (calc.)",
            trend="down",
            computed=True,
            warning="the text says an increase",
        ),
        figure(3, label="Adj. EBITDA", value="RMB33.2M", change=None, trend=None, qualifier="first positive"),
    )
    d = digest(headline=0).model_copy(update={"headline": headline})
    card = valid(schema, render_digest(d))
    table = of_type(card["body"], "Table")[0]
    rows = [[card_texts(cell)[0] for cell in row["cells"]] for row in table["rows"]]
    assert rows == [
        ["Figure", "Value", "Change"],
        ["Total revenues", "RMB1,775.7M ✓", "▲ 3.1% QoQ"],
        ["Enterprise cloud", "RMB588.2M", "▼ 12.2% QoQ (calc.) ⚠"],
        ["Adj. EBITDA", "RMB33.2M", "first positive"],
    ]
    assert table["rows"][2]["cells"][2]["items"][0]["color"] == "attention"
    warning_box = next(c for c in of_type(card["body"], "Container") if c.get("style") == "attention")
    assert [b["color"] for b in warning_box["items"]] == ["attention"]
    assert card_texts(warning_box) == ["⚠ Segment 0: the text says an increase; the figures show a decrease."]
    body = card_texts(card)
    assert "Outlook" in body
    assert "• Margins expected to improve in quarter 0 (John Doe, Q&A)" in body
    assert "“We expect margins to keep improving through quarter 0 as mix shifts.”" in body
    assert "All 5 figures with their quotes" in body
    assert body[-1] == "Transcript · 5 figures, 2 arithmetic-checked ✓"
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open source document",
            "url": "https://investors.northwind.example/q2-2025",
        }
    ]
    assert card["lang"] == "en"


def test_document_strings_cannot_inject_markup_or_links(schema: Validator) -> None:
    evil = digest(
        title="Evil [Corp](https://phish.test) <at>General</at>",
        warnings=0,
        url="javascript:alert(1)",
    ).model_copy(update={"warnings": ("**URGENT** click https://phish.test/now",)})
    card = valid(schema, render_digest(evil))
    body = "\n".join(card_texts(card))
    assert "](" not in body.replace(r"\](", "")
    assert "<at>" not in body and not re.search(r"[a-z]://", body)
    assert "actions" not in card  # no OpenUrl to a javascript: link


@pytest.mark.parametrize(
    ("shape", "figure_list", "quotes", "all_items"),
    [
        ({}, True, True, True),
        ({"figures": 120, "quote_chars": 900}, False, True, True),
        ({"figures": 120, "outlook_lines": 40, "quote_chars": 900}, False, False, True),
        ({"figures": 50, "outlook_lines": 60, "headline": 60, "warnings": 60, "quote_chars": 900}, 0, 0, 0),
    ],
)
def test_big_digests_shed_figures_then_quotes_then_items(
    schema: Validator, shape: dict[str, int], figure_list: bool, quotes: bool, all_items: bool
) -> None:
    figure_list, quotes, all_items = bool(figure_list), bool(quotes), bool(all_items)
    d = digest(**shape)
    card = valid(schema, render_digest(d))
    body = card_texts(card)
    assert message_size(card) <= MAX_MESSAGE_BYTES
    assert any(t.startswith("All ") and t.endswith("with their quotes") for t in body) is figure_list
    assert any(t.startswith("“We expect") or t.startswith("“Revenue grew") for t in body) is quotes
    shown = len(of_type(card, "TableRow")) - 1 + sum(t.startswith("• ") for t in body)
    shown += sum(t.startswith("⚠ Segment") for t in body)
    assert (shown == len(d.headline) + len(d.outlook) + len(d.warnings)) is all_items
    shortened = [t for t in body if t.startswith("Shortened to fit")]
    if figure_list:
        assert not shortened
    else:
        assert shortened == [
            "Shortened to fit Teams' message size limit. [Full digest](https://investors.northwind.example/q2-2025)"
        ]


def test_truncation_keeps_headline_rows_first_and_in_order(schema: Validator) -> None:
    d = digest(headline=400, outlook_lines=50, warnings=50, figures=0, quote_chars=900)
    card = valid(schema, render_digest(d, full_url="https://status.example/digest/1"))
    rows = of_type(card, "TableRow")[1:]
    labels = [card_texts(r["cells"][0])[0] for r in rows]
    assert 10 < len(labels) < 400
    assert labels == [f"Segment {i} revenue" for i in range(len(labels))]
    assert not any(t.startswith("• ") for t in card_texts(card))  # outlook gave way before the headline
    assert card_texts(card)[-1].endswith("[Full digest](https://status.example/digest/1)")
    assert message_size(card) <= MAX_MESSAGE_BYTES


def test_message_wraps_the_card_as_teams_expects() -> None:
    card = render_digest(digest())
    message = to_message(card)
    assert message == {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    assert len(message_bytes(card)) == message_size(card)
    assert "Northwind Cloud (NWC) · Q2".encode() in message_bytes(card)  # UTF-8, not \u escapes


# --------------------------------------------------------------------------- answers


def test_figure_answer_shows_value_change_prior_and_quote(schema: Validator) -> None:
    line = figure(
        1,
        label="Adjusted EBITDA margin",
        value="1.9%",
        change="▲ 8.9pp YoY",
        trend="up",
        prior="Q1 2024: -7%",
        verified=True,
        quote="Adjusted EBITDA margin improved to positive 1.9% this quarter.",
        speaker="Jane Roe",
    )
    answer = Answer(
        title="Northwind Cloud (NWC) · Q2 2025 · Adjusted EBITDA margin",
        figures=(line,),
        source_label="Q2 2025 earnings call transcript",
        url="https://investors.northwind.example/q2-2025",
    )
    card = valid(schema, render_answer(answer))
    assert card_texts(card) == [
        "Northwind Cloud (NWC) · Q2 2025 · Adjusted EBITDA margin",
        "**Adjusted EBITDA margin** 1.9% · ▲ 8.9pp YoY · Q1 2024: -7% · ✓ checked",
        "“Adjusted EBITDA margin improved to positive 1.9% this quarter.” (Jane Roe)",
        "Source: Q2 2025 earnings call transcript",
    ]
    assert card["actions"][0]["url"] == "https://investors.northwind.example/q2-2025"


def test_error_answer_is_in_attention_colour_with_suggestions(schema: Validator) -> None:
    answer = Answer(
        ok=False,
        title='No metric "ebita" for NWC.',
        suggestions=("Adjusted EBITDA", "Adjusted EBITDA margin"),
        shareable=False,
    )
    card = valid(schema, render_answer(answer))
    assert card["body"][0]["color"] == "attention"
    assert card_texts(card) == [
        'No metric "ebita" for NWC.',
        "Did you mean: Adjusted EBITDA, Adjusted EBITDA margin?",
    ]
    assert "actions" not in card


def test_history_answer_is_a_table_newest_first(schema: Validator) -> None:
    table = Table(
        columns=("Period", "Revenue", "Change", "Checked"),
        rows=(("Q2 2025", "RMB1,900.0M", "7.0% QoQ", "✓"), ("Q1 2025", "RMB1,775.7M", "3.1% QoQ", "")),
    )
    card = valid(
        schema, render_answer(Answer(title="Northwind Cloud (NWC) · Revenue by quarter", table=table))
    )
    rendered = of_type(card, "Table")[0]
    assert [[card_texts(c)[0] for c in row["cells"]] for row in rendered["rows"]] == [
        ["Period", "Revenue", "Change", "Checked"],
        ["Q2 2025", "RMB1,900.0M", "7.0% QoQ", "✓"],
        ["Q1 2025", "RMB1,775.7M", "3.1% QoQ", ""],
    ]


def test_digest_answer_embeds_the_digest(schema: Validator) -> None:
    d = digest()
    card = valid(schema, render_answer(Answer(title=d.title, digest=d, source_label="Transcript", url=d.url)))
    body = card_texts(card)
    assert body[:2] == [d.title, d.title]
    assert "Outlook" in body and "All 5 figures with their quotes" in body
    assert len(of_type(card, "TableRow")) == 4


def test_huge_answers_fit(schema: Validator) -> None:
    rows = tuple((f"Q{i % 4 + 1} {2000 + i // 4}", "x" * 200, "y" * 200, "✓") for i in range(400))
    answer = Answer(
        title="Northwind Cloud (NWC) · Revenue by quarter",
        lines=tuple("note " * 100 for _ in range(20)),
        table=Table(columns=("Period", "Revenue", "Change", "Checked"), rows=rows),
        digest=digest(figures=200, quote_chars=900),
        url="https://investors.northwind.example/q2-2025",
    )
    card = valid(schema, render_answer(answer))
    assert message_size(card) <= MAX_MESSAGE_BYTES
    assert card_texts(card)[-1].startswith("Shortened to fit Teams' message size limit. [Full digest](https://")


# --------------------------------------------------------------------------- real documents


def _largest_corpus_document() -> Path:
    folders = [SHARED / "corpus" / "press_releases", SHARED / "corpus" / "transcripts"]
    if not all(f.is_dir() for f in folders):
        pytest.skip(f"corpus not found under {SHARED / 'corpus'} (../shared is absent)")
    return max((p for f in folders for p in f.iterdir() if p.is_file()), key=lambda p: p.stat().st_size)


@pytest.mark.corpus
@pytest.mark.parametrize("which", ["largest corpus document", "seed"])
def test_real_documents_render_valid_cards_under_28_kb(schema: Validator, which: str) -> None:
    if which == "seed":
        path = SHARED / "seed" / "000_b4c0d37c8ab855e5.txt"
        if not path.is_file():
            pytest.skip(f"seed not found at {path} (../shared is absent)")
    else:
        path = _largest_corpus_document()
    report = extract(load_path(path))
    d = build_digest(report)
    for kind in ("new_event", "event_update", "revision"):
        card = valid(schema, render_digest(d, kind=kind))
        assert message_size(card) <= MAX_MESSAGE_BYTES, (path.name, kind, message_size(card))
        assert card["body"][0]["text"].endswith(md(d.title, 300))
    figure_answer = Answer(title=d.title, figures=d.figures, outlook=d.outlook, url=d.url)
    assert message_size(valid(schema, render_answer(figure_answer))) <= MAX_MESSAGE_BYTES
