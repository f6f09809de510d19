"""Transcript parsing: speaker turns, aligned translations, timestamps, sentences and where the Q&A starts."""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate

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
    # most lines are clean already: whitespace other than " " and INVISIBLE characters are all non-printable
    if text.isprintable() and "  " not in text and not text.startswith(" ") and not text.endswith(" "):
        return text
    if INVISIBLE.search(text):
        text = INVISIBLE.sub("", text)
    return " ".join(text.split())


# --------------------------------------------------------------------------- languages

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
KANA = re.compile(r"[\u3040-\u30ff]")
HANGUL = re.compile(r"[\uac00-\ud7af]")
TRADITIONAL = re.compile("[們這會說為業與國經財營額對於個來後過還發現開關長門問間當點應實網機電車東見]")
SIMPLIFIED = re.compile("[们这会说为业与国经财营额对于个来后过还发现开关长门问间当点应实网机电车东见]")


def is_foreign(line: str) -> bool:
    """True for a line written mostly in CJK script (a translation, not English source text).

    CJK characters take three bytes in UTF-8, so the encoded length counts them without a Python loop.
    """
    if not CJK.search(line):
        return False
    wide = (len(line.encode("utf-8")) - len(line)) // 2
    return wide * 7 >= (len(line) - wide) * 2


def translation_language(paras: Iterable[Para]) -> str | None:
    """BCP-47 tag of the kept translations ("zh-Hant", "zh-Hans", "ja", "ko", "zh"), None when none."""
    sample = "".join(p.translation for p in paras if p.translation)[:20_000]
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
QA_TRIGGER = re.compile(  # searched in lower-cased text (see qa_opening)
    r"""
    \b(?=[bfghlnopqtwy])  # a word starting with a letter all alternatives (each at a \b) start with: fails fast
    (?:
    \b(?:this|that|which)\s+(?:concludes|completes|ends|wraps\s+up)\s+(?:our|my|the)\s+
        (?:prepared|formal|opening)\s+(?:remarks|comments|presentation|statements)
    | \b(?:take|have|for|with|to)\s+(?:our|the|your)\s+first\s+question\b
    | \b(?:our|the|your)\s+first\s+question\s+(?:today\s+)?(?:comes|is\s+coming|will\s+come|is\s+from)\b
    | \b(?:now|with\s+that|let's|let’s|let\s+us)\b[^.?!\n]{0,40}?
        \b(?:open|start|begin|go|move|take|conduct|turn|hand|proceed)\b[^.?!\n]{0,40}?
        (?:\bq\s?&\s?a\b|\bquestions?\b|\bquestion[- ]and[- ]answer)
    | \bplease\s+(?:open|start|begin)\s+(?:up\s+)?the\s+(?:phone\s+)?(?:lines?\b|floor\b|q\s?&\s?a|questions?\b)
    | \b(?:would\s+welcome|(?:be\s+)?(?:happy|glad|pleased)\s+to\s+(?:take|answer))\s+(?:your|any)\s+questions\b
        (?:\s+and\s+comments)?[ \t]*(?:[.!]|(?m:$))
    | (?m:^)(?:operator[^\w\n]+)?(?:questions?[- ](?:and|&)[- ]answers?|q\s?&\s?a)
        (?:[- ]session|[ ]portion)?[^\w\n]*(?m:$)
    )
    """,
    re.X,
)
# words one of which every Q&A opening contains, as patterns starting with a literal (which `re` scans for quickly;
# no occurrence can begin inside another's match), and " ends " (a leading space is slow for `re`: str.find finds it)
QA_KEYWORDS = tuple(
    map(re.compile, (r"q(?=uestion|&a| & a)", r"co(?=nclud|mplet)", r"wraps up", r"please (?=open|start|begin)"))
)
QA_HEADING = re.compile(r"^(?:questions?[- ]?(?:and|&)[- ]?answers?|Q\s?&\s?A)(?:[- ]session)?\W*$", re.I)


def speaker_of(label: str) -> tuple[str, str | None, bool]:
    """Split a speaker label "Name - Title" into (name, title, is_operator)."""
    parts = SPEAKER_SPLIT.split(clean(label), maxsplit=1)
    name = parts[0].strip()
    title = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
    return name, title, is_operator(name, title)


def is_operator(name: str | None, title: str | None) -> bool:
    return bool(name and name.strip().lower() == "operator") or bool(title and OPERATOR_WORD.search(title))


def qa_opening(text: str) -> int | None:
    """Offset where the Q&A is first opened in `text` (a handover, or the first question called), if it is.

    Lower-casing a whole text, or scanning it with a case-insensitive alternation, is slow in Python: the
    keywords are found in an ASCII copy, and the full pattern runs, lower-cased, from 100 characters before
    each to 80 after it. In the copy (non-ASCII characters as "?") a keyword is where it is in text.lower():
    only U+0130 (whose lower() is longer) and U+212A (Kelvin sign, lower "k", in no keyword) lower to ASCII.
    """
    folded = text.replace("\u0130", "I").encode("ascii", "replace").lower().decode("ascii")
    found = [match.start() for keyword in QA_KEYWORDS for match in keyword.finditer(folded)]
    at = -1
    while (at := folded.find(" ends ", at + 1)) >= 0:
        if folded.startswith(("our", "my", "the"), at + 6):
            found.append(at)
    for at in sorted(found):
        begin = max(0, at - 100)
        context = 1 if begin else 0  # the character before the window decides `\b` and `^` at its start
        window = text[begin - context : at + 80].replace("\u0130", "I").lower()
        match = QA_TRIGGER.search(window, context)
        if match:
            return begin - context + match.start()
    return None



def mark_sections(paras: list[Para], qa_from: int | None = None) -> None:
    """Set section prepared/qa: the Q&A starts at `qa_from` (an explicit header) or the first handover."""
    start = len(paras) if qa_from is None else qa_from
    texts = [para.text for para in paras[:start]]
    opening = qa_opening("\n".join(texts))  # one search over the paragraphs joined, not one per paragraph
    if opening is not None:
        offsets = list(accumulate((len(text) + 1 for text in texts), initial=0))  # where each paragraph starts
        start = bisect_right(offsets, opening) - 1
    for i, para in enumerate(paras):
        para.section = "prepared" if i < start else "qa"


# --------------------------------------------------------------------------- sentences and paragraphs

ABBREVIATIONS = (
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "Inc", "Corp", "Co", "Ltd", "No", "Nos", "vs", "approx",
    "etc", "Gov", "Sen", "Gen", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    "U.S", "U.K", "e.g", "i.e", "a.m", "p.m",
)


def _not_after(words: tuple[str, ...]) -> str:
    """Lookbehinds rejecting the position after "word.", one per word length (a lookbehind has a fixed width)."""
    lengths = sorted({len(word) for word in words})
    return "".join(rf"(?<!\b(?:{'|'.join(re.escape(w) for w in words if len(w) == n)})\.)" for n in lengths)


# a sentence ends at . ! or ? before a capital, except after a title, an initial or a common abbreviation
# (a leading character class is quick for `re` to scan for; the lookbehinds can only reject a full stop)
SENTENCE_END = re.compile(
    r"[.!?]" + _not_after(ABBREVIATIONS) + r"(?<!\b[A-Z]\.)" + r"[.!?]*[\"”’)\]]*\s+(?=[\"“(\[]?[A-Z0-9$])"
)
PARAGRAPH_CHARS = 500


def paragraphs(text: str) -> list[str]:
    """Running text (one long string) grouped into readable paragraphs of whole sentences.

    The sentence that opens the Q&A always starts a new paragraph, so the section boundary falls
    between paragraphs.
    """
    text = clean(text)
    opening = qa_opening(text)
    out: list[str] = []
    begin = 0
    sentence = 0
    for end in [match.end() for match in SENTENCE_END.finditer(text)] + [len(text)]:
        opens_qa = opening is not None and sentence <= opening < end
        if sentence > begin and (sentence - begin >= PARAGRAPH_CHARS or opens_qa):
            out.append(text[begin:sentence].strip())
            begin = sentence
        sentence = end
    out.append(text[begin:].strip())
    return [p for p in out if p]


def turn(text: str, speaker: str | None, title: str | None, operator: bool) -> list[Para]:
    """One speaker turn (a long string) as paragraphs attributed to the speaker."""
    return [Para(p, speaker=speaker, title=title, operator=operator) for p in paragraphs(text)]


# --------------------------------------------------------------------------- one sentence per line

TERMINAL_CHARS = ".!?:;\"”’)"
TERMINAL = re.compile(f"[{re.escape(TERMINAL_CHARS)}]$")


def line_paragraphs(lines: Iterable[str]) -> list[str]:
    """Non-empty lines as paragraphs; a line continuing a cut sentence (lower-case start) is joined on."""
    out: list[list[str]] = []
    for raw in lines:
        line = clean(raw)
        if not line:
            continue
        if out and "a" <= line[0] <= "z" and out[-1][-1][-1] not in TERMINAL_CHARS:  # cleaned: no "\n" at the end
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
    return (  # written exactly twice, and looking like a label
        bool(line) and i + 1 < len(lines) and lines[i + 1] == line
        and (i + 2 >= len(lines) or lines[i + 2] != line) and (i == 0 or lines[i - 1] != line)
        and len(line) <= 200 and not TERMINAL.search(line) and not CJK.search(line)
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
HEADING = re.compile(r"^(#{1,6})\s*(.*)$")
TRANSCRIPT_HEADING = re.compile(r"\n#{1,3}[ \t]*[Tt]ranscript\b")  # searched in "\n" + text: fast literal scan
TITLE_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")


def parse_timestamped(text: str) -> Parsed:
    """AI-memo transcripts: memo first (skipped), then speaker headers and timestamped bilingual lines."""
    lines = text.split("\n")
    title = next((m.group(2).strip() for m in map(HEADING.match, lines) if m and len(m.group(1)) == 1), None)
    heading = TRANSCRIPT_HEADING.search("\n" + text)
    if heading:
        lines = text[heading.end() - 1 :].split("\n")
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
            if started and qa_from is None and QA_HEADING.match(clean(head.group(2)).rstrip("# ")):
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
    match = NAME_LINE.match(line) if ":" in line else None  # the colon test is much cheaper than a failed match
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
