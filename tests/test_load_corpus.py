"""Document loading on the real public documents under ../shared (skipped with a reason when absent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.extract.load import load_path
from bot.models import Document
from tests.corpus import CORPUS, SEED, corpus_documents, require_shared
from tests.test_load import assert_segments, para

pytestmark = pytest.mark.corpus

CJK = re.compile(r"[\u3400-\u9fff]")
TRANSCRIPTS = CORPUS / "transcripts"
RELEASES = CORPUS / "press_releases"


def expected_kind(path: Path) -> str | None:
    parts = path.relative_to(CORPUS).parts if path != SEED else ()
    if path == SEED or "transcripts" in parts or "ects" in parts:
        return "transcript"
    if "press_releases" in parts:
        return "press_release"
    return None  # ECTSum reference summaries: bullet lists, not calls or releases


def load(path: Path) -> Document:
    require_shared()
    return load_path(path)


@pytest.mark.parametrize("path", corpus_documents() or [None], ids=lambda p: p.name if p else "no-shared")
def test_every_document_loads(path: Path | None) -> None:
    if path is None:
        require_shared()
        return
    doc = load_path(path)
    assert_segments(doc)
    assert doc.segments, "no text"
    kind = expected_kind(path)
    if kind:
        assert doc.kind == kind
    if doc.kind == "transcript":
        sections = [s.section for s in doc.segments]
        assert set(sections) <= {"prepared", "qa"}
        assert sections == sorted(sections, key=lambda s: s == "qa"), "Q&A never returns to prepared remarks"
        assert not CJK.search(doc.text), "translations and memos stay out of the English text"


# --------------------------------------------------------------------------- the seed


def test_seed_speakers_titles_and_operator() -> None:
    doc = load(SEED)
    assert (doc.kind, doc.format, doc.translation_language) == ("transcript", "bilingual_transcript", "zh-Hant")
    speakers = {s.speaker for s in doc.segments}
    assert {"Tao Zou", "Haijian He", "Operator"} <= speakers
    zou = next(s for s in doc.segments if s.speaker == "Tao Zou")
    assert zou.title is not None and "Chief Executive Officer" in zou.title
    operators = [s for s in doc.segments if s.operator]
    assert operators and all(s.speaker == "Operator" for s in operators)
    assert all(s.operator for s in doc.segments if s.speaker == "Operator")
    assert " - Executive Vice Chairman" not in doc.text, "speaker lines are metadata, not text"


def test_seed_sections_split_at_the_end_of_the_prepared_remarks() -> None:
    doc = load(SEED)
    handover = para(doc, "This concludes our prepared remarks")
    assert {s.section for s in doc.segments[:handover]} == {"prepared"}
    assert {s.section for s in doc.segments[handover:]} == {"qa"}
    assert doc.segments[para(doc, "RMB1,775.7 million")].section == "prepared"
    question = doc.segments[para(doc, "what is your expectations for the adjusted EBITDA margin")]
    assert (question.section, question.title) == ("qa", "Analyst")


def test_seed_translations_are_aligned_to_their_english_paragraph() -> None:
    doc = load(SEED)
    revenue = doc.segments[para(doc, "RMB1,775.7 million")]
    assert revenue.speaker == "Haijian He"
    assert revenue.translation is not None and "17.757" in revenue.translation
    ebitda = doc.segments[para(doc, "Adjusted EBITDA reached RMB33.19 million")]
    assert ebitda.translation is not None and "3,319" in ebitda.translation
    assert all(s.translation for s in doc.segments), "every English paragraph of the seed has its translation"
    assert not CJK.search(doc.text)


# --------------------------------------------------------------------------- other transcripts


def test_timestamped_bilingual_transcript() -> None:
    doc = load(TRANSCRIPTS / "Taiwan-Earnings-Call-Dataset__2454_2026Q2.txt")
    assert doc.format == "timestamped_transcript" and doc.translation_language == "zh-Hant"
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", s.timestamp or "") for s in doc.segments)
    assert all(s.translation and CJK.search(s.translation) for s in doc.segments)
    assert {s.speaker for s in doc.segments} == {"Jason Wang", "Jessie Wang"}
    sections = [s.section for s in doc.segments]
    assert sections[0] == "prepared" and sections[-1] == "qa"
    first_qa = sections.index("qa")
    assert doc.segments[first_qa].timestamp == "00:05:27", "Q&A starts under the '### Q&A' header"
    assert not re.search(r"^\(\d\d:", doc.text, re.M), "timestamps are metadata, not text"


def test_speaker_map_transcript() -> None:
    doc = load(TRANSCRIPTS / "earningscall-python__aapl-q1-2022-speaker-name-map-v2.body.json")
    assert (doc.format, doc.fiscal_year, doc.fiscal_quarter) == ("json_speakers", 2023, 1)
    cook = next(s for s in doc.segments if s.speaker == "Tim Cook")
    assert cook.title == "CEO"
    assert any(s.operator and s.speaker == "Operator" for s in doc.segments)
    handover = para(doc, "let's open the call to questions")
    assert doc.segments[handover].section == "qa" and doc.segments[handover - 1].section == "prepared"


def test_qa_inside_prepared_remarks_field_is_found() -> None:
    doc = load(TRANSCRIPTS / "earningscall-python__nvda-q2-2025-level-4-data-missing.body.json")
    assert (doc.format, doc.fiscal_year, doc.fiscal_quarter) == ("json_sections", 2025, 2)
    assert doc.segments[para(doc, "open the call for questions")].section == "qa"
    assert doc.segments[0].section == "prepared"


# --------------------------------------------------------------------------- releases


def test_adobe_exhibit_tables_read_as_rows() -> None:
    doc = load(RELEASES / "edgartools__adbeex991q123.htm")
    rows = [doc.text[s.start : s.end] for s in doc.segments if s.section == "table"]
    assert any(re.fullmatch(r"Total revenue \| \$?[\d,]+ \| \$?[\d,]+", row) for row in rows), rows[:20]
    assert any(re.fullmatch(r"Subscription \| \$[\d,]+ \| \$[\d,]+", row) for row in rows), "$ merged with its number"
    assert any(re.fullmatch(r"Interest expense \| \(\d+\) \| \(\d+\)", row) for row in rows), "( ) merged"
    assert any(row.startswith("Total revenue | $4.75 billion to $4.78 billion") for row in rows)
    assert doc.title is not None and doc.title.startswith("Adobe Reports")
    assert doc.ticker == "ADBE" and doc.published is not None and doc.published.year == 2023


def test_markdown_release_drops_the_archive_link_block() -> None:
    path = RELEASES / "press-release-archive__citybiz_2025_1021_danaher-reports-third-quarter-2025-results.md"
    doc = load(path)
    assert doc.format == "markdown_release" and doc.title == "Danaher Reports Third Quarter 2025 Results"
    for boilerplate in ("Newsramp", "Reddit Post", "Blockchain Registration", "appeared first on", "](", "**"):
        assert boilerplate not in doc.text
    assert doc.url is not None and doc.url.startswith("https://")
    assert doc.segments[para(doc, "guidance range")].section == "body"
