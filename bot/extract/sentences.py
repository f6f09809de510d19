"""Splitting a document's segments into sentences, located by offsets into `Document.text`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import Document, Segment

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before whitespace and an
# opening capital, digit, quote or bracket; abbreviations are rejected after the match.
SENTENCE_END = re.compile(r"""[.!?]["'”’)\]]?\s+(?=["'“‘(\[]?[A-Z0-9$€£¥])""")
ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Inc|Corp|Co|Ltd|Jr|Sr|St|vs|No|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct"
    r"|Nov|Dec|U\.S|U\.K|e\.g|i\.e|etc|Fig|Ph|Nos)\.|\b[A-Z]\.)$"
)
MAX_SENTENCE = 1200


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: its text, its offsets in the document, and the segment it belongs to."""

    text: str
    start: int
    end: int
    segment: Segment
    index: int


def split_segment(text: str, segment: Segment, first_index: int) -> list[Sentence]:
    """The sentences of one segment; table rows and short lines stay whole."""
    body = text[segment.start : segment.end]
    if segment.section == "table" or len(body) < 40:
        return [Sentence(body, segment.start, segment.end, segment, first_index)] if body.strip() else []
    out: list[Sentence] = []
    pos = 0
    for m in SENTENCE_END.finditer(body):
        cut = m.start() + 1
        if ABBREVIATION.search(body[max(0, cut - 6) : cut]):
            continue
        if m.group(0)[1:2] in {'"', "'", "”", "’", ")", "]"}:
            cut += 1
        piece = body[pos:cut]
        if piece.strip():
            out.append(_sentence(body, pos, cut, segment, first_index + len(out)))
        pos = m.end()
    if pos < len(body) and body[pos:].strip():
        out.append(_sentence(body, pos, len(body), segment, first_index + len(out)))
    return [s for part in out for s in _cap(part)]


def _sentence(body: str, a: int, b: int, segment: Segment, index: int) -> Sentence:
    while a < b and body[a].isspace():
        a += 1
    while b > a and body[b - 1].isspace():
        b -= 1
    return Sentence(body[a:b], segment.start + a, segment.start + b, segment, index)


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
    segments = document.segments or (Segment(start=0, end=len(document.text)),)
    out: list[Sentence] = []
    for seg in segments:
        out.extend(split_segment(document.text, seg, len(out)))
    return out
