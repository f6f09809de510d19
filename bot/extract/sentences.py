"""Splitting a document into sentences, located by offsets into `Document.text`, and finding words in them."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.models import Document, Segment

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket: group 1) before whitespace and an
# opening capital, digit, quote or bracket; abbreviations are rejected after the match.
SENTENCE_END = re.compile(r"""[.!?](["'”’)\]]?)\s+(?=["'“‘(\[]?[A-Z0-9$€£¥])""")
# The same pattern for text without "!" or "?". Its literal first character lets the regex engine jump from one
# "." to the next; the [.!?] class above is tested at every character, which is twice as slow over prose.
PERIOD_END = re.compile(r"""\.(["'”’)\]]?)\s+(?=["'“‘(\[]?[A-Z0-9$€£¥])""")
ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Inc|Corp|Co|Ltd|Jr|Sr|St|vs|No|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct"
    r"|Nov|Dec|U\.S|U\.K|e\.g|i\.e|etc|Fig|Ph|Nos)\.|\b[A-Z]\.)$"
)
MAX_SENTENCE = 1200


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, several times slower, and
# thousands of sentences are built per document. Treat instances as immutable; `unsafe_hash` keeps the
# field-based hash a frozen dataclass has.
@dataclass(slots=True, unsafe_hash=True)
class Sentence:
    """One sentence: its text, its offsets in the document, and the segment it belongs to."""

    text: str
    start: int
    end: int
    segment: Segment
    index: int


def split_segment(text: str, segment: Segment, first_index: int) -> list[Sentence]:
    """The sentences of one segment; table rows and short lines stay whole."""
    out: list[Sentence] = []
    _split_into(out, text, segment, "?" in text or "!" in text)
    for s in out:
        s.index += first_index
    return out


def _split_into(out: list[Sentence], text: str, segment: Segment, marks: bool) -> None:
    """Append the sentences of one segment to `out` (numbered by their position in it); `marks`: whether "?" or "!"
    can occur in the segment.

    Most segments are one sentence: that case costs one regex search, one strip and one Sentence.
    """
    start = segment.start
    body = text[start : segment.end]
    if segment.section == "table" or len(body) < 40:
        if body.strip():
            out.append(Sentence(body, start, segment.end, segment, len(out)))
        return
    ends = SENTENCE_END if marks and ("?" in body or "!" in body) else PERIOD_END
    m = ends.search(body)
    if m is None and len(body) <= MAX_SENTENCE:
        text = body.strip()
        if text:
            if len(text) != len(body):
                start += body.find(text)  # where the leading whitespace ends: `text` starts with a non-space
            out.append(Sentence(text, start, start + len(text), segment, len(out)))
        return
    first = len(out)
    pos = 0
    while m is not None:
        cut = m.start() + 1
        if not ABBREVIATION.search(body[max(0, cut - 6) : cut]):
            _append_trimmed(out, body[pos : m.end(1)], start + pos, segment)
            pos = m.end()
        m = ends.search(body, m.end())
    _append_trimmed(out, body[pos:] if pos else body, start + pos, segment)
    if len(body) > MAX_SENTENCE:  # only then can a sentence be too long
        out[first:] = [part for s in out[first:] for part in _cap(s)]


def _append_trimmed(out: list[Sentence], piece: str, at: int, segment: Segment) -> None:
    """Append `piece` (found at document offset `at`) without surrounding whitespace, unless it is blank."""
    text = piece.strip()
    if text:
        if len(text) != len(piece):
            at += piece.find(text)  # where the leading whitespace ends: `text` starts with a non-space
        out.append(Sentence(text, at, at + len(text), segment, len(out)))


def _cap(sentence: Sentence) -> list[Sentence]:
    """Very long run-on 'sentences' (ASR text without punctuation) are cut at clause boundaries."""
    if len(sentence.text) <= MAX_SENTENCE:
        return [sentence]
    parts: list[Sentence] = []
    text, base, a = sentence.text, sentence.start, 0
    while len(text) - a > MAX_SENTENCE:
        cut = max(text.rfind(", ", a, a + MAX_SENTENCE), text.rfind("; ", a, a + MAX_SENTENCE))
        cut = cut + 1 if cut > a else a + MAX_SENTENCE
        parts.append(Sentence(text[a:cut], base + a, base + cut, sentence.segment, sentence.index))
        a = cut
        while a < len(text) and text[a] == " ":
            a += 1
    parts.append(Sentence(text[a:], base + a, sentence.end, sentence.segment, sentence.index))
    return parts


def sentences(document: Document) -> list[Sentence]:
    """Every sentence of the document, in order. Documents without segments are one segment."""
    text = document.text
    segments = document.segments or (Segment(start=0, end=len(text)),)
    marks = "?" in text or "!" in text
    out: list[Sentence] = []
    for seg in segments:
        _split_into(out, text, seg, marks)
    return out


# --------------------------------------------------------------------------- which sentences contain which words

# How often characters occur in lower-cased earnings text, per 10,000 (measured on the corpus); others are rarer.
CHAR_FREQUENCY = {
    " ": 1540, "e": 977, "t": 686, "a": 630, "o": 610, "i": 608, "n": 601, "r": 577, "s": 499, "l": 327, "d": 288,
    "c": 281, "h": 268, "u": 259, "m": 197, "p": 185, "g": 174, "f": 161, "w": 140, "y": 116, "v": 104, "b": 97,
    ".": 94, ",": 91, "2": 42, "k": 40, "0": 38, "1": 34, "x": 30, "-": 29, "q": 28,
}
OTHER_FREQUENCY = 20
# Costs for planning the search, in the unit of stopping at one candidate character per 10,000 of a document:
# a regex pass over it, and each further word tested at a stop.
PASS_COST = 220
BRANCH_COST = 0.2

Word = tuple[str, int, tuple[int, ...]]  # a word, the offset of its anchor character, the word lists holding it


@dataclass(frozen=True, slots=True)
class _Anchor:
    """One regex pass, finding the words that share an anchor character.

    `pattern` matches at the anchor of any of `words`; its empty group n + 1 says word n matched. The regex reports
    only the first word matching at a place, so `shadowed[n]` lists the later words that could match there too.
    """

    pattern: re.Pattern[str]
    words: tuple[Word, ...]
    shadowed: tuple[tuple[Word, ...], ...]


def sentences_containing(
    text: str, sentences: Sequence[Sentence], word_lists: Sequence[Sequence[str]]
) -> list[set[int]]:
    """For each list of (lower-case) words, the positions in `sentences` of the sentences where one of them starts.

    Case-insensitive. Rather than a `str.find` scan of the document per word, words are grouped by a fairly rare
    character they contain and each group is found by one regex pass stopping only at that character (`_plan`).
    """
    low = text.lower()
    if len(low) != len(text):  # lower-casing moved the offsets: test each sentence
        return [{i for i, s in enumerate(sentences) if any(w in s.text.lower() for w in ws)} for ws in word_lists]
    found: list[set[int]] = [set() for _ in word_lists]
    starts = [s.start for s in sentences]
    for anchor in _plan(tuple(tuple(words) for words in word_lists)):
        for m in anchor.pattern.finditer(low):
            at, n = m.start(), m.lastindex
            assert n is not None  # every branch ends in a group
            _, offset, lists = anchor.words[n - 1]
            _mark(found, sentences, starts, at - offset, lists)
            for word, offset, lists in anchor.shadowed[n - 1]:
                if at >= offset and low.startswith(word, at - offset):
                    _mark(found, sentences, starts, at - offset, lists)
    return found


def _mark(
    found: list[set[int]], sentences: Sequence[Sentence], starts: list[int], at: int, lists: tuple[int, ...]
) -> None:
    """Record a word found at document offset `at` for the sentence it starts in, in each of its lists."""
    i = bisect_right(starts, at) - 1
    if i >= 0 and at < sentences[i].end:
        for n in lists:
            found[n].add(i)


@lru_cache(maxsize=8)
def _plan(word_lists: tuple[tuple[str, ...], ...]) -> tuple[_Anchor, ...]:
    """The regex passes finding these words: greedily, the anchor character costing least per word it finds."""
    lists_of: dict[str, tuple[int, ...]] = {}
    for n, words in enumerate(word_lists):
        for word in words:
            if not word:
                raise ValueError("cannot search for an empty word")
            if n not in lists_of.get(word, ()):
                lists_of[word] = (*lists_of.get(word, ()), n)
    anchors: list[_Anchor] = []
    left = list(lists_of)
    while left:
        char = min(sorted(set("".join(left))), key=lambda c: _cost_per_word(c, left))
        anchors.append(_anchor(char, [(w, w.rindex(char), lists_of[w]) for w in left if char in w]))
        left = [w for w in left if char not in w]
    return tuple(anchors)


def _cost_per_word(char: str, words: list[str]) -> float:
    """The estimated cost of a regex pass anchored on `char`, per word of `words` it would find."""
    count = sum(char in w for w in words)
    return (PASS_COST + CHAR_FREQUENCY.get(char, OTHER_FREQUENCY) * (1 + BRANCH_COST * count)) / count


def _anchor(char: str, words: list[Word]) -> _Anchor:
    """The pass for words sharing an anchor character (the last occurrence of that character in each word).

    The pattern is the anchor, then a branch per word: the rest of the word, a lookbehind for the whole word, and an
    empty group naming the branch. A match ends at the end of a word, after which the anchor character does not
    recur in it, so `finditer` skips no anchor of another word.
    """
    branches = "|".join(f"{re.escape(w[k + 1 :])}(?<={re.escape(w)})()" for w, k, _ in words)
    shadowed = tuple(tuple(later for later in words[n + 1 :] if _overlap(word, later)) for n, word in enumerate(words))
    return _Anchor(re.compile(f"{re.escape(char)}(?:{branches})"), tuple(words), shadowed)


def _overlap(a: Word, b: Word) -> bool:
    """Whether both words can occur with their anchors at the same place of a text."""
    (word_a, at_a, _), (word_b, at_b, _) = a, b
    before_a, before_b, after_a, after_b = word_a[:at_a], word_b[:at_b], word_a[at_a:], word_b[at_b:]
    return (before_a.endswith(before_b) or before_b.endswith(before_a)) and (
        after_a.startswith(after_b) or after_b.startswith(after_a)
    )
