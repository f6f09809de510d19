"""Document loading: bytes or a file in any supported format -> a Document (English text plus segments).

Detects the format from the content, decodes text, reads PDFs and transcript-API JSON itself, and hands
markup to `load_html` and transcript layouts to `load_transcript`.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from bot.errors import InputError
from bot.extract.load_html import DATELINE, parse_html, parse_markdown, release, row_paras
from bot.extract.load_transcript import (
    Para,
    Parsed,
    clean,
    colon_speaker_count,
    colon_turns,
    doubled_speaker_lines,
    is_operator,
    line_paragraphs,
    mark_sections,
    paragraphs,
    parse_colon_speakers,
    parse_sentence_lines,
    parse_speaker_lines,
    parse_timestamped,
    turn,
)
from bot.models import Document

__all__ = ["MAX_BYTES", "load_bytes", "load_path"]

log = logging.getLogger(__name__)

MAX_BYTES: int = 10 * 1024 * 1024

PDF_MAGIC = re.compile(rb"\s*%PDF-")
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])  # CONTROL's characters as UTF-8 bytes
NEWLINES = re.compile(r"\r\n?")
HTML_START = re.compile(
    r"\s*(?:<!doctype\s+html|<html\b|<head\b|<body\b|<document>|<!--|<\?xml[^>]{0,200}\?>\s*<html\b)", re.I
)
HTML_TAG = re.compile(r"<(?:div|p|table|tr|td|span|font|br|h[1-6]|b|i|a|ul|li)\b[^<>]{0,500}>", re.I)
XML_NOT_HTML = re.compile(r"\s*(?:<\?xml\b|<(?:rss|feed|rdf:RDF)\b)", re.I)
TIMESTAMP_AT_LINE = re.compile(r"\n\(\d{1,2}:\d{2}(?::\d{2})?\)\s")  # in "\n" + text: literal-prefix scan
MD_LINK_SIGNAL = re.compile(r"\[[^\]\n]{1,300}\]\((?:https?://|/|#)[^)\s]{0,500}\)")
MD_HEADING_LINE = re.compile(r"#{1,6}[ \t]+\S")
MD_FIRST_HEADING = re.compile(r"\s*#{1,6}\s+\S")
RELEASE_MARKS = ("newswire", "business wire", "newmediawire", "accesswire", "newsfile", "(nyse", "(nasdaq", "(otc")
REPORTS_RESULTS = re.compile(r"\b(?:reports|announces|posts)\b[^.\n]{0,120}?\b(?:results|earnings)\b")  # lower()
BLANK_LINES = re.compile(r"\n[ \t]*\n")
CELL_GAP = re.compile(r" {2,}|\t+")
DIGIT = re.compile(r"\d")


def load_path(path: str | Path) -> Document:
    """Read and load one file; an unreadable or oversized file is an InputError naming it."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{file}: file is {size:,} bytes, larger than the {MAX_BYTES:,}-byte limit")
        data = file.read_bytes()
    except OSError as err:
        raise InputError(f"{file}: cannot read file: {err.strerror or err.__class__.__name__}") from None
    return load_bytes(data, name=str(file))


def load_bytes(
    data: bytes,
    *,
    name: str | None = None,
    content_type: str | None = None,
    url: str | None = None,
    source: str | None = None,
) -> Document:
    """Detect the format from the content (name/content_type are hints) and load it as a Document."""
    try:
        parsed = _parse_bytes(data, name, content_type)
        return _document(parsed, url, source)
    except InputError as err:
        raise InputError(f"{name}: {err}" if name else str(err)) from None


# --------------------------------------------------------------------------- bytes -> text


def _parse_bytes(data: bytes, name: str | None, content_type: str | None) -> Parsed:
    if not data:
        raise InputError("empty input: no bytes to read")
    if len(data) > MAX_BYTES:
        raise InputError(f"input is {len(data):,} bytes, larger than the {MAX_BYTES:,}-byte limit")
    if PDF_MAGIC.match(data):
        parsed = _parse_text(_pdf_text(data), markdown_hint=False)
        parsed.format = "pdf"
        return parsed
    text = _decode(data)
    hint = f"{name or ''} {content_type or ''}".lower()
    return _parse(text, hint)


def _decode(data: bytes) -> str:
    """UTF-8 (optionally with BOM) or UTF-16 with BOM; anything else is an InputError saying where."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise InputError(f"not UTF-16 text: invalid data at offset {err.start + 2}") from None
        may_have_controls = True
    else:
        skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        nul = data.find(b"\x00")
        if nul >= 0:
            raise InputError(f"binary data, not text or PDF: NUL byte at offset {nul}")
        try:
            text = data[skip:].decode("utf-8")
        except UnicodeDecodeError as err:
            offset = err.start + skip
            raise InputError(f"not UTF-8 text: invalid byte 0x{data[offset]:02x} at offset {offset}") from None
        # ASCII bytes never occur inside a multi-byte UTF-8 sequence, so the text has a control character only
        # when `data` has a control byte; bytes.translate tells that far faster than CONTROL scanning the text
        may_have_controls = len(data.translate(None, CONTROL_BYTES)) != len(data)
    controls = CONTROL.findall(text) if may_have_controls else []
    if controls and ("\x00" in controls or len(controls) * 100 > len(text)):
        first = CONTROL.search(text)
        where = first.start() if first else 0
        raise InputError(f"binary data, not text or PDF: control character 0x{ord(text[where]):02x} at {where}")
    if controls:
        text = CONTROL.sub(" ", text)
    return NEWLINES.sub("\n", text) if "\r" in text else text


def _pdf_text(data: bytes) -> str:
    """The text layer of a PDF, pages separated by blank lines."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError("PDF is encrypted: cannot read its text")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InputError:
        raise
    except Exception as err:  # pypdf raises many unrelated types for damaged files
        log.info("pypdf could not read a PDF: %s", err.__class__.__name__)
        raise InputError(f"PDF could not be read: {err.__class__.__name__}") from None
    text = NEWLINES.sub("\n", "\n\n".join(pages))
    text = CONTROL.sub(" ", text.replace("\x00", ""))
    if not text.strip():
        raise InputError("PDF has no extractable text (scanned images?)")
    return text


# --------------------------------------------------------------------------- format detection


def _parse(text: str, hint: str) -> Parsed:
    if not text.strip():
        raise InputError("empty input: only whitespace")
    start = text.lstrip()[:1]
    if start in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            if "json" in hint:
                raise InputError(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
        except (ValueError, RecursionError) as err:  # e.g. an integer too long to convert, deep nesting
            raise InputError(f"not a readable JSON transcript: {err.__class__.__name__}") from None
        else:
            return _parse_json(data)
    head = text[:5000]
    if start == "<":
        if HTML_START.match(head) or HTML_TAG.search(head) or "html" in hint:
            return parse_html(text)
        if XML_NOT_HTML.match(head):
            raise InputError("XML that is not HTML (a feed?) is not a document")
    elif "html" in hint and HTML_TAG.search(head):
        return parse_html(text)
    return _parse_text(text, markdown_hint="markdown" in hint or hint.rstrip().endswith(".md"))


def _parse_text(text: str, *, markdown_hint: bool) -> Parsed:
    """Plain text or Markdown: transcripts by their layout, releases by their wording."""
    if sum(1 for _ in islice(TIMESTAMP_AT_LINE.finditer("\n" + text), 2)) >= 2:
        return parse_timestamped(text)
    lines = [line.strip() for line in text.split("\n")]
    if doubled_speaker_lines(lines) >= 2:
        return parse_speaker_lines(text)
    signals = _markdown_signals(text[:20_000], lines[:400])
    if MD_FIRST_HEADING.match(text) or signals >= 3 or (markdown_hint and signals):
        return parse_markdown(text)
    head = [line for line in lines[:300] if line]
    labelled, names = colon_speaker_count(head)
    if labelled >= 3 and names >= 2 and labelled * 3 >= len(head):
        return parse_colon_speakers(text)
    if _looks_like_release(text[:3000].lower(), head[:30]):
        return _parse_text_release(text)
    return parse_sentence_lines(text)


def _looks_like_release(start: str, lines: list[str]) -> bool:
    """A wire/exchange mark, "X reports ... results" or a dateline near the top (`start` is lower-cased)."""
    if any(mark in start for mark in RELEASE_MARKS):
        return True
    if any(verb in start for verb in ("reports", "announces", "posts")) and REPORTS_RESULTS.search(start):
        return True
    return any(DATELINE.match(line) for line in lines if ", 20" in line or ", 19" in line)


def _markdown_signals(head: str, lines: list[str]) -> int:
    """How many Markdown constructs (headings, links, bold, pipe-table rows) the start of a text has."""
    marked = [line for line in lines if line.startswith(("#", "|"))]  # a cheap filter before the exact tests
    count = sum(1 for line in marked if MD_HEADING_LINE.match(line) or (line.startswith("|") and line.endswith("|")))
    # a one-character `in` is many times faster than a two-character one: test "]" and "*" first
    if "]" in head and "](" in head:
        count += len(MD_LINK_SIGNAL.findall(head))
    return count + (head.count("**") // 2 if "*" in head else 0)


def _parse_text_release(text: str) -> Parsed:
    """A plain-text release: blank-line blocks, hard-wrapped lines re-joined, aligned columns as rows."""
    paras: list[Para] = []
    lengths = sorted(len(line) for line in text.split("\n") if line.strip())
    width = lengths[int(len(lengths) * 0.9)] if lengths else 0
    wrapped = width >= 40 and sum(1 for n in lengths if n >= 0.6 * width) * 2 >= len(lengths)
    for block in BLANK_LINES.split(text):
        lines = [line for line in block.split("\n") if line.strip()]
        plain: list[str] = []
        for line in lines:
            cells = CELL_GAP.split(line.strip()) if "  " in line or "\t" in line else []
            if len(cells) >= 3 and DIGIT.search(line):  # aligned columns holding figures: a table row
                paras.extend(Para(p) for p in _unwrap(plain, width, wrapped))
                plain = []
                paras.extend(row_paras([clean(cell) for cell in cells]))
            else:
                plain.append(line)
        paras.extend(Para(p) for p in _unwrap(plain, width, wrapped))
    return release("text_release", paras)


def _unwrap(lines: list[str], width: int, wrapped: bool) -> list[str]:
    """Hard-wrapped lines back into paragraphs: a line well short of the wrap width ends its paragraph."""
    if not wrapped:
        return line_paragraphs(lines)
    out: list[str] = []
    current: list[str] = []
    for raw in lines:
        line = clean(raw)
        if not line:
            continue
        current.append(line)
        if len(raw.strip()) < 0.75 * width:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


# --------------------------------------------------------------------------- JSON transcript API shapes

JSON_SHAPES = (
    '{"text": ...}, {"event", "prepared_remarks", "questions_and_answers"}, '
    '{"speakers": [...], "speaker_name_map_v2"} or [{"symbol", "content"}]'
)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _parse_json(data: Any) -> Parsed:
    """A transcript API response in one of the known shapes; anything else is an InputError."""
    if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("content"), str):
        item = data[0]
        paras = colon_turns(item["content"])
        mark_sections(paras)
        symbol = _str(item.get("symbol"))
        return Parsed(
            "json_content",
            "transcript",
            paras,
            ticker=symbol.strip().upper() if symbol else None,
            fiscal_year=_int(item.get("year")),
            fiscal_quarter=_int(item.get("quarter")),
            published=_parse_datetime(item.get("date")),
        )
    if not isinstance(data, dict):
        raise InputError(f"JSON is not a transcript: expected one of {JSON_SHAPES}")
    event: dict[str, Any] = data["event"] if isinstance(data.get("event"), dict) else {}
    meta: dict[str, Any] = {
        "fiscal_year": _int(event.get("year")),
        "fiscal_quarter": _int(event.get("quarter")),
        "published": _parse_datetime(event.get("conference_date")),
        "ticker": (_str(event.get("symbol")) or "").strip().upper() or None,
    }
    speakers = data.get("speakers")
    if isinstance(speakers, list) and speakers:
        return Parsed("json_speakers", "transcript", _json_speakers(data, speakers), **meta)
    prepared = data.get("prepared_remarks")
    answers = data.get("questions_and_answers")
    if isinstance(prepared, str) or isinstance(answers, str):
        paras = [Para(p) for p in paragraphs(prepared)] if isinstance(prepared, str) else []
        qa_from = len(paras)
        paras.extend(Para(p) for p in (paragraphs(answers) if isinstance(answers, str) else []))
        mark_sections(paras, qa_from if isinstance(answers, str) else None)
        return Parsed("json_sections", "transcript", paras, **meta)
    if isinstance(data.get("text"), str):
        paras = [Para(p) for p in paragraphs(data["text"])]
        mark_sections(paras)
        return Parsed("json_text", "transcript", paras, **meta)
    raise InputError(f"JSON is not a transcript: expected one of {JSON_SHAPES}")


def _json_speakers(data: dict[str, Any], speakers: list[Any]) -> list[Para]:
    names = data.get("speaker_name_map_v2")
    names = names if isinstance(names, dict) else {}
    paras: list[Para] = []
    for number, item in enumerate(speakers):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            log.warning("skipping speaker turn %d: no text", number)
            continue
        label = item.get("speaker")
        info = names.get(label) if isinstance(label, str) else None
        info = info if isinstance(info, dict) else {}
        name = _str(info.get("name")) or _str(item.get("name"))
        title = _str(info.get("title")) or _str(item.get("title"))
        paras.extend(turn(item["text"], name, title, is_operator(name, title)))
    mark_sections(paras)
    return paras


def _parse_datetime(value: object) -> datetime | None:
    """An ISO date/time from structured data (naive values are taken as UTC); None when unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        log.info("ignoring unparseable date %r", value[:40])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- paragraphs -> Document


def _document(parsed: Parsed, url: str | None, source: str | None) -> Document:
    """Join paragraphs one per line and locate each as a Segment (validated in one pydantic call)."""
    paras = [p for p in parsed.paras if p.text]
    if not paras:
        raise InputError(f"no text found in the document ({parsed.format})")
    segments: list[dict[str, object]] = []
    position = 0
    for para in paras:
        end = position + len(para.text)
        segments.append(_segment_fields(position, end, para))
        position = end + 1
    return Document.model_validate(
        {
            "text": "\n".join(p.text for p in paras),
            "kind": parsed.kind,
            "format": parsed.format,
            "segments": segments,
            "title": parsed.title,
            "ticker": parsed.ticker,
            "fiscal_year": parsed.fiscal_year,
            "fiscal_quarter": parsed.fiscal_quarter,
            "url": url or parsed.url,
            "published": parsed.published,
            "source": source,
            "translation_language": parsed.translation_language,
        }
    )


def _segment_fields(start: int, end: int, para: Para) -> dict[str, object]:
    """A Segment's fields without those at their default: pydantic fills a default faster than it checks a value."""
    fields: dict[str, object] = {"start": start, "end": end}
    if para.speaker is not None:
        fields["speaker"] = para.speaker
    if para.title is not None:
        fields["title"] = para.title
    if para.section != "body":
        fields["section"] = para.section
    if para.operator:
        fields["operator"] = True
    if para.translation is not None:
        fields["translation"] = para.translation
    if para.timestamp is not None:
        fields["timestamp"] = para.timestamp
    return fields
