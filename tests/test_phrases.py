"""Phrase lookup: the fast index finds exactly what a plain token-by-token scan finds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.extract.phrases import TOKEN, PhraseIndex, expand

PHRASES = [
    "revenue",
    "total revenue",
    "total net revenue",
    "net income",
    "net",
    "gross margin",
    "g&a expenses",
    "same-store sales",
    "r&d",
    "free cash flow",
    "cash",
    "cash flow",
    "earnings per share",
    "per share",
    "top-line",
]
INDEX = PhraseIndex((p, p) for p in PHRASES)


def plain_scan(text: str) -> list[tuple[int, int, str]]:
    """The reference: tokenize, then take the longest phrase at each token, left to right."""
    toks = list(TOKEN.finditer(text))
    words = [t.group().lower() for t in toks]
    phrases = sorted(((tuple(w.lower() for w in TOKEN.findall(p)), p) for p in PHRASES), key=lambda e: -len(e[0]))
    out, i = [], 0
    while i < len(words):
        for words_of, p in phrases:
            k = len(words_of)
            if tuple(words[i : i + k]) == words_of:
                out.append((toks[i].start(), toks[i + k - 1].end(), p))
                i += k
                break
        else:
            i += 1
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Total net revenue was $5 million.", [(0, 17, "total net revenue")]),
        ("Net income and net cash", [(0, 10, "net income"), (15, 18, "net"), (19, 23, "cash")]),
        ("Same-store sales rose; G&A expenses fell.", [(0, 16, "same-store sales"), (23, 35, "g&a expenses")]),
        ("non-revenue items, revenue's share, revenues", []),
        ("-revenue- and 'cash'", [(1, 8, "revenue"), (15, 19, "cash")]),
        ("Free cash flow per share", [(0, 14, "free cash flow"), (15, 24, "per share")]),
        ("İstanbul revenue", [(9, 16, "revenue")]),
        ("REVENUE\u00a0and CASH FLOW", [(0, 7, "revenue"), (12, 21, "cash flow")]),
    ],
)
def test_find(text: str, expected: list[tuple[int, int, str]]) -> None:
    assert [(h.start, h.end, h.payload) for h in INDEX.find(text)] == expected == plain_scan(text)


WORDS = [*{w for p in PHRASES for w in p.split()}, "Revenue", "NET", "the", "x", "s", "é", "ſ", "’", "'", "-", "&"]
SEPARATORS = [" ", "  ", "-", "'", "’", ",", ".", "\n", "\u00a0", "&", "", "(", "$5"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=30))
def test_the_index_finds_what_a_plain_scan_finds(parts: list[tuple[str, str]]) -> None:
    text = "".join(w + sep for w, sep in parts)
    assert [(h.start, h.end, h.payload) for h in INDEX.find(text)] == plain_scan(text)


@pytest.mark.parametrize(
    ("alias", "phrases"),
    [
        (r"total (?:net )?revenues?", ["total net revenue", "total net revenues", "total revenue", "total revenues"]),
        (r"R&D (?:expenses?|costs?)", ["R&D cost", "R&D costs", "R&D expense", "R&D expenses"]),
        (r"net (?:income|profits?)(?: attributable to [\w ,.&'-]{1,60}?)?", None),
    ],
)
def test_expand(alias: str, phrases: list[str] | None) -> None:
    assert expand(alias) == phrases
