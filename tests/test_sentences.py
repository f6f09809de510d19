"""Sentence splitting and finding which sentences contain which words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.extract.facts import sentences_with
from bot.extract.guidance import CUES, SAFE_HARBOR_PHRASES
from bot.extract.sentences import Sentence, sentences, sentences_containing
from bot.models import Document, Segment


def _doc(text: str, *segments: Segment) -> Document:
    return Document(text=text, kind="transcript", format="text", segments=segments)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Revenue grew 5%. Margins improved to 16.8% this quarter.",
            ["Revenue grew 5%.", "Margins improved to 16.8% this quarter."],
        ),
        (
            "We met Mr. Smith at the U.S. office today. He agreed.",
            ["We met Mr. Smith at the U.S. office today.", "He agreed."],
        ),
        (
            'He said "growth is back." Then we moved on to capex plans.',
            ['He said "growth is back."', "Then we moved on to capex plans."],
        ),
        (
            "Is that right? Yes! We expect 2% growth from here on out.",
            ["Is that right?", "Yes!", "We expect 2% growth from here on out."],
        ),
        (
            "Revenue was $1.2 billion. 2024 was a good year for all of us.",
            ["Revenue was $1.2 billion.", "2024 was a good year for all of us."],
        ),
        ("Short line", ["Short line"]),
        ("   \n  ", []),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    got = sentences(_doc(text))
    assert [s.text for s in got] == expected
    assert all(text[s.start : s.end] == s.text for s in got)
    assert [s.index for s in got] == list(range(len(got)))


def test_table_rows_stay_whole_and_run_ons_are_cut() -> None:
    row = "Revenue   1,775.7   1,722.5. Net loss   (12.3)   (9.8)"
    run_on = ", ".join(["revenue grew in every region and every segment"] * 40)
    text = row + "\n" + run_on
    got = sentences(
        _doc(text, Segment(start=0, end=len(row), section="table"), Segment(start=len(row) + 1, end=len(text)))
    )
    assert got[0].text == row
    assert len(got) > 2 and all(len(s.text) <= 1200 for s in got[1:])
    assert all(text[s.start : s.end] == s.text for s in got)


def test_a_sentence_is_immutable_in_use_and_hashable() -> None:
    s = sentences(_doc("Revenue grew 5%. Margins improved."))[0]
    assert s == Sentence(s.text, s.start, s.end, s.segment, s.index)
    assert hash(s) == hash(Sentence(s.text, s.start, s.end, s.segment, s.index))


WORDS = ["expect", "guid", "range", "safe harbor", "risk factors", "this year", "outlook", "xx", "ex"]
PIECES = [*WORDS, "Expect", "GUIDANCE", "Range", "revenue", "grew", "5%", ". ", "? ", " ", "  ", "\n", "a", "e", "t"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=60),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
)
def test_words_are_found_as_a_substring_scan_finds_them(pieces: list[str], first: list[str], second: list[str]) -> None:
    text = "".join(pieces)
    found = sentences(_doc(text))
    expected = [
        {i for i, s in enumerate(found) if any(w in text.lower()[s.start : s.end] for w in ws)}
        for ws in (first, second)
    ]
    assert sentences_containing(text, found, [first, second]) == expected


def test_sentences_with_one_list_or_several() -> None:
    text = (
        "Revenue grew 5%. This document contains forward-looking statements. "
        "We expect revenue of $2 billion next quarter. Thank you."
    )
    found = sentences(_doc(text))
    boilerplate, forward = sentences_with(text, found, SAFE_HARBOR_PHRASES, CUES)
    assert boilerplate == {1}
    assert forward == {2} == sentences_with(text, found, CUES)
