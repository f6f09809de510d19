"""Transcript parsing: speaker turns, aligned translations, timestamps, sentences and where the Q&A starts."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.models import DocumentKind, Section

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- shared paragraph type


@dataclass(slots=True)
class Para:
    """One paragraph (or table row) before offsets are assigned; `text` is already cleaned."""

    text: str
    speaker: str | None = None
    title: str | None = None
    section: Section = "body"
    operator: bool = False
    translation: str | None = None
    timestamp: str | None = None


@dataclass(slots=True)
class Parsed:
    """What a format parser found: paragraphs plus the metadata the content states."""

    format: str
    kind: DocumentKind
    paras: list[Para] = field(default_factory=list)
    title: str | None = None
    ticker: str | None = None
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None
    published: datetime | None = None
    url: str | None = None
    translation_language: str | None = None


INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def clean(text: str) -> str:
    """One line of readable text: invisible characters dropped, whitespace runs collapsed."""
    if INVISIBLE.search(text):
        text = INVISIBLE.sub("", text)
    return " ".join(text.split())


# --------------------------------------------------------------------------- languages

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
KANA = re.compile(r"[\u3040-\u30ff]")
HANGUL = re.compile(r"[\uac00-\ud7af]")
TRADITIONAL = re.compile("[們這會說為業與國經財營額對於個來後過還發現開關長門問間當點應實網機電車東見]")
SIMPLIFIED = re.compile("[们这会说为业与国经财营额对于个来后过还发现开关长门问间当点应实网机电车东见]")


def is_foreign(line: str) -> bool:
    """True for a line written mostly in CJK script (a translation, not English source text)."""
    cjk = len(CJK.findall(line))
    return cjk > 0 and cjk * 7 >= len(LATIN.findall(line)) * 3


def translation_language(paras: Iterable[Para]) -> str | None:
    """BCP-47 tag of the kept translations ("zh-Hant", "zh-Hans", "ja", "ko", "zh"), None when none."""
    sample = "".join(p.translation for p in paras if p.translation)[:50_000]
    if not sample:
        return None
    if KANA.search(sample):
        return "ja"
    if HANGUL.search(sample):
        return "ko"
    trad, simp = len(TRADITIONAL.findall(sample)), len(SIMPLIFIED.findall(sample))
    return "zh-Hant" if trad > simp else "zh-Hans" if simp > trad else "zh"


# --------------------------------------------------------------------------- speakers and Q&A

SPEAKER_SPLIT = re.compile(r"\s+[-–—]\s+")
OPERATOR_WORD = re.compile(r"\boperator\b", re.I)
QA_TRIGGER = re.compile(
    r"""
    \b(?:this|that|which)\s+(?:concludes|completes|ends|wraps\s+up)\s+(?:our|my|the)\s+
        (?:prepared|formal|opening)\s+(?:remarks|comments|presentation|statements)
    | \b(?:take|have|for|with|to)\s+(?:our|the|your)\s+first\s+question\b
    | \b(?:our|the|your)\s+first\s+question\s+(?:today\s+)?(?:comes|is\s+coming|will\s+come|is\s+from)\b
    | \b(?:now|with\s+that|let's|let\s+us)\b[^.?!]{0,40}?
        \b(?:open|start|begin|go|move|take|conduct|turn|hand|proceed)\b[^.?!]{0,40}?
        (?:\bQ\s?&\s?A\b|\bquestions?\b|\bquestion[- ]and[- ]answer)
    | \bplease\s+(?:open|start|begin)\s+(?:up\s+)?the\s+(?:phone\s+)?(?:lines?\b|floor\b|Q\s?&\s?A|questions?\b)
    | \b(?:would\s+welcome|(?:be\s+)?(?:happy|glad|pleased)\s+to\s+(?:take|answer))\s+(?:your|any)\s+questions\b
        (?:\s+and\s+comments)?\s*[.!]?\s*$
    | ^(?:operator\W+)?(?:questions?[- ](?:and|&)[- ]answers?|Q\s?&\s?A)(?:[- ]session|\s+portion)?\W*$
    """,
    re.I | re.X,
)
QA_HINT = re.compile(r"question|q\s?&\s?a|remarks|comments|presentation|statements|lines?\b|floor")  # on lower()
QA_HEADING = re.compile(r"^(?:questions?[- ]?(?:and|&)[- ]?answers?|Q\s?&\s?A)(?:[- ]session)?\W*$", re.I)


def speaker_of(label: str) -> tuple[str, str | None, bool]:
    """Split a speaker label "Name - Title" into (name, title, is_operator)."""
    parts = SPEAKER_SPLIT.split(clean(label), maxsplit=1)
    name = parts[0].strip()
    title = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
    return name, title, is_operator(name, title)


def is_operator(name: str | None, title: str | None) -> bool:
    return bool(name and name.strip().lower() == "operator") or bool(title and OPERATOR_WORD.search(title))


def starts_qa(text: str) -> bool:
    """True for a sentence or paragraph that opens the Q&A (a handover or the first question called).

    The full pattern only runs in a window around each keyword (found case-sensitively in the
    lower-cased text: case-insensitive alternations are an order of magnitude slower in `re`).
    """
    for hint in QA_HINT.finditer(text.lower()):
        if QA_TRIGGER.search(text, max(0, hint.start() - 100), hint.end() + 60):  # $ may match at the window end
            return True
    return False


def mark_sections(paras: list[Para], qa_from: int | None = None) -> None:
    """Set section prepared/qa: the Q&A starts at `qa_from` (an explicit header) or the first handover."""
    start = len(paras) if qa_from is None else qa_from
    for i, para in enumerate(paras[:start]):
        if starts_qa(para.text):
            start = i
            break
    for i, para in enumerate(paras):
        para.section = "prepared" if i < start else "qa"


# --------------------------------------------------------------------------- sentences and paragraphs

SENTENCE_END = re.compile(r"[.!?]+[\"”’)\]]*\s+(?=[\"“(\[]?[A-Z0-9$])")
ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Inc|Corp|Co|Ltd|No|Nos|vs|approx|etc|Gov|Sen|Gen|Jan|Feb|Mar|Apr|Jun"
    r"|Jul|Aug|Sep|Sept|Oct|Nov|Dec|U\.S|U\.K|e\.g|i\.e|a\.m|p\.m)|\b[A-Z])\.$"
)
PARAGRAPH_CHARS = 500


def sentences(text: str) -> list[str]:
    """Sentences of running text, not splitting after titles, initials and common abbreviations."""
    out: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        dot = match.start()
        if text[dot] == "." and ABBREVIATION.search(text, max(0, dot - 8), dot + 1):
            continue
        end = match.end()
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def paragraphs(text: str) -> list[str]:
    """Running text (one long string) grouped into readable paragraphs of whole sentences.

    A sentence that hands over to the Q&A always starts a new paragraph, so the section boundary
    falls between paragraphs.
    """
    out: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in sentences(clean(text)):
        if current and (size >= PARAGRAPH_CHARS or starts_qa(sentence)):
            out.append(" ".join(current))
            current, size = [], 0
        current.append(sentence)
        size += len(sentence) + 1
    if current:
        out.append(" ".join(current))
    return out


def turn(text: str, speaker: str | None, title: str | None, operator: bool) -> list[Para]:
    """One speaker turn (a long string) as paragraphs attributed to the speaker."""
    return [Para(p, speaker=speaker, title=title, operator=operator) for p in paragraphs(text)]


# --------------------------------------------------------------------------- one sentence per line

TERMINAL = re.compile(r"[.!?:;\"”’)]$")
LOWER_START = re.compile(r"^[a-z]")


def line_paragraphs(lines: Iterable[str]) -> list[str]:
    """Non-empty lines as paragraphs; a line continuing a cut sentence (lower-case start) is joined on."""
    out: list[list[str]] = []
    for raw in lines:
        line = clean(raw)
        if not line:
            continue
        if out and LOWER_START.match(line) and not TERMINAL.search(out[-1][-1]):
            out[-1].append(line)
        else:
            out.append([line])
    return [" ".join(parts) for parts in out]


def parse_sentence_lines(text: str) -> Parsed:
    """ECTSum/MAEC-style transcripts: one sentence per line, no speakers."""
    paras = [Para(p) for p in line_paragraphs(text.split("\n"))]
    mark_sections(paras)
    return Parsed("sentence_transcript", "transcript", paras)


# --------------------------------------------------------------------------- doubled speaker lines (seed)


def is_doubled_label(lines: list[str], i: int) -> bool:
    """True when lines[i] is a speaker label written exactly twice (lines[i] == lines[i + 1])."""
    line = lines[i]
    return (
        bool(line)
        and i + 1 < len(lines)
        and lines[i + 1] == line
        and (i + 2 >= len(lines) or lines[i + 2] != line)
        and (i == 0 or lines[i - 1] != line)
        and len(line) <= 200
        and not TERMINAL.search(line)
        and not CJK.search(line)
    )


def doubled_speaker_lines(lines: list[str]) -> int:
    """How many speaker labels appear written twice on consecutive lines (the seed's layout)."""
    return sum(1 for i in range(len(lines) - 1) if lines[i] and lines[i] == lines[i + 1] and is_doubled_label(lines, i))


def parse_speaker_lines(text: str) -> Parsed:
    """Speaker label lines (doubled), English paragraphs each optionally followed by a translation."""
    lines = [clean(line) for line in text.split("\n")]
    paras: list[Para] = []
    speaker: str | None = None
    title: str | None = None
    operator = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        doubled = is_doubled_label(lines, i - 1)
        if doubled or line.lower() == "operator":
            speaker, title, operator = speaker_of(line)
            i += 1 if doubled else 0
        elif is_foreign(line):
            if paras and paras[-1].translation is None and paras[-1].speaker == speaker:
                paras[-1].translation = line
            else:
                log.debug("skipping untranslated foreign line %d", i)
        else:
            paras.append(Para(line, speaker=speaker, title=title, operator=operator))
    mark_sections(paras)
    language = translation_language(paras)
    return Parsed(
        "bilingual_transcript" if language else "speaker_transcript",
        "transcript",
        paras,
        translation_language=language,
    )


# --------------------------------------------------------------------------- "(hh:mm:ss) text" lines

TIMESTAMP_LINE = re.compile(r"^\((\d{1,2}:\d{2}(?::\d{2})?)\)\s*(.*)$")
BOLD_SPEAKER = re.compile(r"^\*\*(.+?)\*\*:?$")
HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*$")
TRANSCRIPT_HEADING = re.compile(r"^#{1,3}\s*transcript\b", re.I | re.M)
TITLE_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")


def parse_timestamped(text: str) -> Parsed:
    """AI-memo transcripts: memo first (skipped), then speaker headers and timestamped bilingual lines."""
    lines = text.split("\n")
    title = next((m.group(2) for m in map(HEADING.match, lines) if m and len(m.group(1)) == 1), None)
    heading = TRANSCRIPT_HEADING.search(text)
    if heading:
        lines = text[heading.end() :].split("\n")
    paras: list[Para] = []
    qa_from: int | None = None
    speaker: str | None = None
    stitle: str | None = None
    operator = False
    started = heading is not None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        head = HEADING.match(line)
        bold = BOLD_SPEAKER.match(line)
        stamped = TIMESTAMP_LINE.match(line)
        if head:
            if started and qa_from is None and QA_HEADING.match(clean(head.group(2))):
                qa_from = len(paras)
            continue
        if bold:
            started = True
            speaker, stitle, operator = speaker_of(bold.group(1))
            continue
        if not started and not stamped:
            continue
        started = True
        stamp, body = (stamped.group(1), clean(stamped.group(2))) if stamped else (None, clean(line))
        if not body:
            continue
        if is_foreign(body):
            last = paras[-1] if paras else None
            if last is not None and last.translation is None and last.speaker == speaker:
                last.translation = body
            continue
        paras.append(Para(body, speaker=speaker, title=stitle, operator=operator, timestamp=stamp))
    mark_sections(paras, qa_from)
    published = None
    if title and (date := TITLE_DATE.search(title)):
        try:
            published = datetime(int(date[1]), int(date[2]), int(date[3]), tzinfo=UTC)
        except ValueError:
            published = None
    return Parsed(
        "timestamped_transcript",
        "transcript",
        paras,
        title=clean(title) if title else None,
        published=published,
        translation_language=translation_language(paras),
    )


# --------------------------------------------------------------------------- "Name: text" lines

NAME_LINE = re.compile(
    r"^((?:[A-Z][\w.'’-]*|de|da|van|von|der|del|la|le)(?:\s+(?:[A-Z][\w.'’-]*|de|da|van|von|der|del|la|le)){0,5})"
    r"\s*:\s+(\S.*)$"
)
NOT_A_NAME = re.compile(r"\d|^(?:Note|Source|Date|Time|Q|A|Question|Answer|Re|Subject|Contact|Email)$", re.I)


def name_colon(line: str) -> tuple[str, str] | None:
    """("Name", "text") for a line "Name: text" whose label looks like a person or Operator."""
    match = NAME_LINE.match(line)
    if not match or NOT_A_NAME.search(match.group(1)):
        return None
    return match.group(1).strip(), match.group(2)


def colon_speaker_count(lines: list[str]) -> tuple[int, int]:
    """(lines labelled "Name: ...", distinct names) over the given lines."""
    names = [hit[0] for line in lines if (hit := name_colon(line.strip()))]
    return len(names), len(set(names))


def colon_turns(content: str) -> list[Para]:
    """Speaker turns from "Name: text" lines; unlabelled lines continue the current speaker."""
    paras: list[Para] = []
    speaker: str | None = None
    operator = False
    for raw in content.split("\n"):
        line = raw.strip()
        if not line:
            continue
        hit = name_colon(line)
        if hit:
            speaker, line = hit
            operator = is_operator(speaker, None)
        paras.extend(turn(line, speaker, None, operator))
    return paras


def parse_colon_speakers(text: str) -> Parsed:
    paras = colon_turns(text)
    mark_sections(paras)
    return Parsed("speaker_transcript", "transcript", paras)
