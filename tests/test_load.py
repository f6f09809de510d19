"""Document loading on small hand-written fixtures: format detection, structure, metadata and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from bot.extract.load import MAX_BYTES, load_bytes, load_path
from bot.models import Document

# --------------------------------------------------------------------------- fixtures (written for these tests)

BILINGUAL = """警語：以下中文為機器翻譯，僅供參考
Operator
Operator
Welcome to the Example Cloud fourth-quarter call. Please go ahead.
歡迎參加範例雲第四季電話會議。請開始。
Mei Lin - Chief Financial Officer
Mei Lin - Chief Financial Officer
Total revenues were RMB2,468.3 million, up 4.0% from last year.
總營收為人民幣24.683億元，較去年增長4.0%。
Gross margin improved to 18.2% as we cut costs.
毛利率提升至18.2%，因為我們降低了成本。
That concludes our prepared remarks. We are happy to take questions now.
我們準備好的發言到此結束。現在很樂意回答問題。
Operator
Operator
The first question comes from Sam Wu of Harbor Securities.
第一個問題來自港灣證券的吳山。
Sam Wu - Analyst
Sam Wu - Analyst
How should we think about margins next year?
我們應該如何看待明年的利潤率？"""

TIMESTAMPED = """# 範例公司_20250102

**警語：此檔案由人工智慧產生。**

## Memo

### 營收
- 營收季增百分之八。 [(00:00:05) Amy Chen]

## Transcript

### Presentation

**Amy Chen - Example Corp, Chief Financial Officer**
(00:00:05) Revenue grew 8% sequentially to NT$12.5 billion.
(00:00:05) 營收季增8%，達新台幣125億元。

(00:00:40) Gross margin should stay near 46%.
(00:00:40) 毛利率應維持在46%左右。

### Q&A

**Bo Li - Harbor Securities, Analyst**
(00:01:10) Can you talk about capacity for next year?
(00:01:10) 能否談談明年的產能？
"""

SENTENCES = """Good morning and thanks for joining us.
Revenue was $4.1 billion, up 6% from a year ago.
We expect margins to expand in the U.S
and abroad next year.
With that, let's open the call for questions.
Thanks, I have one on pricing.
"""

JSON_TEXT = {"text": "Good afternoon. Revenue was $5.2 billion, up 8%. With that, let's go to Q&A. Our first "
             "question comes from the line of Ann Lee. Thanks. How is demand?"}
JSON_SECTIONS = {
    "event": {"year": 2024, "quarter": 3, "conference_date": "2024-10-30T17:00:00.000-04:00"},
    "prepared_remarks": "Welcome. Revenue was $9.1 billion. Gross margin was 45%.",
    "questions_and_answers": "Our first question comes from Raj Patel. How durable is the margin?",
}
JSON_SPEAKERS = {
    "event": {"year": 2023, "quarter": 1, "conference_date": "2023-02-02T17:00:00.000-05:00"},
    "speakers": [
        {"speaker": "spk2", "text": "Good day and welcome to the Example Inc. call."},
        {"speaker": "spk1", "text": "Thanks. Revenue was $3.0 billion, up 5%. With that, let's open the call to "
                                    "questions."},
        {"speaker": "spk3", "text": "Thanks for taking my question. What about pricing?"},
    ],
    "speaker_name_map_v2": {
        "spk1": {"name": "Dana Ruiz", "title": "Chief Executive Officer"},
        "spk2": {"name": "Pat Kim", "title": "Conference Operator"},
        "spk3": {"name": "Lee Park", "title": "Analyst"},
    },
}
JSON_CONTENT = [
    {
        "symbol": "kc",
        "quarter": 1,
        "year": 2024,
        "date": "2024-05-28 20:27:11",
        "content": "Operator: Good day and welcome to the call.\nJane Roe: Thank you. Revenue was $9.9 million.\n"
                   "Operator: Our first question comes from Max Poe.\nMax Poe: Thanks. What about margins?",
    }
]

HTML_RELEASE = """<!DOCTYPE html><html><head><title>Acme Reports Second Quarter Results</title>
<style>p { color: red }</style><script>var secret = "not text";</script></head><body>
<p>SPRINGFIELD, Ill. &ndash; August 5, 2025 &ndash; Acme&nbsp;Corp (NYSE: ACME) today reported revenue of
   $1.2&nbsp;billion.</p>
<div>Net income rose <b>12%</b> to $88 million<sup>1</sup>.</div>
<table>
<tr><td></td><td>Q2 2025</td><td></td><td>Q2 2024</td></tr>
<tr><td>Total revenue</td><td>$</td><td>4,655</td><td>$</td><td>4,262</td></tr>
<tr><td>Operating loss</td><td>(12.3</td><td>)</td><td>(9.1</td><td>)</td></tr>
<tr><td>Gross margin</td><td>41.5</td><td>%</td><td>40.2</td><td>%</td></tr>
<tr><td>&#8226;</td><td>Bookings were a record.</td></tr>
</table>
<div style="display:none">hidden inline XBRL header</div>
</body></html>"""

MARKDOWN_RELEASE = """# Acme Reports Record Quarter

SPRINGFIELD, IL - May 2, 2025 (NEWMEDIAWIRE) - **Acme Corp** (Nasdaq: ACME) today announced
[first quarter results](https://example.com/q1).

 * Revenue was $10.2 million, up 14%
* Net loss was ($1.1 million)

| Metric | Q1 2025 | Q1 2024 |
|---|---|---|
| Revenue | $ | 10.2 |

View the original release on www.newmediawire.com

---

[Original/Source Press Release](https://wire.example.com/acme-q1)

[Reddit Post](https://reddit.example.com/r/x)

![Registration](https://cdn.example.com/q.webp)
"""

TEXT_RELEASE = """Acme Corp Reports Third Quarter 2025 Results

SPRINGFIELD, Ill., Oct. 30, 2025 /PRNewswire/ -- Acme Corp (NYSE: ACME) today reported third quarter
revenue of $1.3 billion.

Revenue           1,300       1,150
"""


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF showing `lines` in Helvetica (enough for pypdf's text extraction)."""

    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 11 Tf 72 720 Td 14 TL " + " ".join(f"({escape(line)}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


PDF_RELEASE = make_pdf([
    "Acme Corp Reports Second Quarter 2025 Results",
    "SPRINGFIELD, Ill., Aug. 5, 2025 /PRNewswire/ -- Acme Corp (NYSE: ACME) today",
    "reported revenue of $1.2 billion, up 9% from $1.1 billion a year ago, and net",
    "income of $88 million.",
])


def assert_segments(doc: Document) -> None:
    """The Document contract: segments in order, each one stripped line of `text`, covering all of it."""
    previous_end = -1
    for seg in doc.segments:
        piece = doc.text[seg.start : seg.end]
        assert piece, seg
        assert piece == piece.strip(), seg
        assert "\n" not in piece, seg
        assert seg.start > previous_end, seg
        previous_end = seg.end
        assert doc.segment_at(seg.start) == seg
    assert "\n".join(doc.text[s.start : s.end] for s in doc.segments) == doc.text


def para(doc: Document, fragment: str) -> int:
    """Index of the segment whose text contains `fragment`."""
    hits = [i for i, s in enumerate(doc.segments) if fragment in doc.text[s.start : s.end]]
    assert hits, f"{fragment!r} not in any segment"
    return hits[0]


def jsonb(value: object) -> bytes:
    return json.dumps(value).encode()


# --------------------------------------------------------------------------- format detection


@pytest.mark.parametrize(
    ("data", "kind", "fmt"),
    [
        (BILINGUAL.encode(), "transcript", "bilingual_transcript"),
        (TIMESTAMPED.encode(), "transcript", "timestamped_transcript"),
        (SENTENCES.encode(), "transcript", "sentence_transcript"),
        (jsonb(JSON_TEXT), "transcript", "json_text"),
        (jsonb(JSON_SECTIONS), "transcript", "json_sections"),
        (jsonb(JSON_SPEAKERS), "transcript", "json_speakers"),
        (jsonb(JSON_CONTENT), "transcript", "json_content"),
        (HTML_RELEASE.encode(), "press_release", "html_release"),
        (MARKDOWN_RELEASE.encode(), "press_release", "markdown_release"),
        (TEXT_RELEASE.encode(), "press_release", "text_release"),
        (PDF_RELEASE, "press_release", "pdf"),
        (b"Mo: Hi all.\nOperator: Welcome.\nMo: Revenue rose 3%.\nIvy Chu: Thanks.\n", "transcript",
         "speaker_transcript"),
        ("\ufeffRevenue was $1.0 billion.\nWe grew 4%.\n".encode(), "transcript", "sentence_transcript"),
        ("Revenue was $1.0 billion.\nWe grew 4%.\n".encode("utf-16"), "transcript", "sentence_transcript"),
        (b"<p>Acme Corp (NYSE: ACME) reports results.</p>", "press_release", "html_release"),
        (b"[Operator Instructions] Thanks.\nRevenue rose 2%.\n", "transcript", "sentence_transcript"),
    ],
)
def test_format_is_detected_from_content(data: bytes, kind: str, fmt: str) -> None:
    doc = load_bytes(data)
    assert (doc.kind, doc.format) == (kind, fmt)
    assert_segments(doc)


@pytest.mark.parametrize(
    ("data", "name", "content_type", "fmt"),
    [
        (MARKDOWN_RELEASE.encode(), "release.txt", "text/plain", "markdown_release"),
        (HTML_RELEASE.encode(), "release.md", "text/markdown", "html_release"),
        (SENTENCES.encode(), "call.html", "text/html", "sentence_transcript"),
        (jsonb(JSON_TEXT), "call.txt", None, "json_text"),
    ],
)
def test_name_and_content_type_are_only_hints(data: bytes, name: str, content_type: str | None, fmt: str) -> None:
    assert load_bytes(data, name=name, content_type=content_type).format == fmt


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b" \n\t\r\n ", "empty input"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data, not text or PDF: NUL byte at offset 8"),
        (bytes(range(1, 32)) * 50, "binary data, not text or PDF: control character 0x01"),
        (b"a" * (20 * 1024 * 1024), "input is 20,971,520 bytes, larger than the 10,485,760-byte limit"),
        (b"Revenue was \xff up", "not UTF-8 text: invalid byte 0xff at offset 12"),
        (b"\xef\xbb\xbfCaf\xe9", "not UTF-8 text: invalid byte 0xe9 at offset 6"),
        (b"\xff\xfeR\x00e\x00v", "not UTF-16 text"),
        (b"<html><head><title>Results</title></head></html>", "HTML has no <body>"),
        (b"<html><body><script>var a = 1;</script></body></html>", "HTML <body> has no visible text"),
        (b'{"symbol": "KC", "year": 2024}', "JSON is not a transcript"),
        (b"[1, 2, 3]", "JSON is not a transcript"),
        (b'{"text": "unterminated', "not valid JSON"),
        (make_pdf([]), "PDF has no extractable text"),
        (b"%PDF-1.7\nthis is not really a PDF", "PDF could not be read"),
        (b"<?xml version='1.0'?><rss><channel></channel></rss>", "XML that is not HTML"),
        (b"<html><body>" + b"<div>" * 12_000 + b"x", "HTML nests elements 12,000 levels deep"),
    ],
)
def test_bad_input_is_an_input_error_naming_the_problem(data: bytes, message: str) -> None:
    name = "data.json" if message == "not valid JSON" else None
    with pytest.raises(InputError) as err:
        load_bytes(data, name=name)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_errors_name_the_document() -> None:
    with pytest.raises(InputError, match=r"^q3\.html: HTML has no <body>"):
        load_bytes(b"<html><head></head></html>", name="q3.html")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=3000).map(str.encode),
        st.tuples(
            st.sampled_from([b"%PDF-1.4\n", b"{", b"[", b"<html><body>", b"# ", b"\xef\xbb\xbf", b"\xff\xfe",
                             b"**A - B**\n(00:00:01) ", b"A - B\nA - B\n", b"<DOCUMENT><TEXT>", b"|"]),
            st.binary(max_size=2000),
        ).map(b"".join),
    )
)
def test_any_bytes_give_a_document_or_an_input_error(data: bytes) -> None:
    try:
        doc = load_bytes(data)
    except InputError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert_segments(doc)


# --------------------------------------------------------------------------- bilingual transcript (seed layout)


def test_bilingual_keeps_english_text_and_aligned_translations() -> None:
    doc = load_bytes(BILINGUAL.encode())
    assert doc.translation_language == "zh-Hant"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in doc.text), "only English in text"
    assert "Chief Financial Officer" not in doc.text and "Operator\n" not in doc.text
    revenue = doc.segments[para(doc, "RMB2,468.3 million")]
    assert (revenue.speaker, revenue.title, revenue.operator) == ("Mei Lin", "Chief Financial Officer", False)
    assert revenue.translation is not None and "24.683" in revenue.translation
    margin = doc.segments[para(doc, "Gross margin improved")]
    assert margin.translation is not None and "18.2%" in margin.translation
    welcome = doc.segments[para(doc, "Welcome to the Example Cloud")]
    assert (welcome.speaker, welcome.operator) == ("Operator", True)
    question = doc.segments[para(doc, "margins next year")]
    assert (question.speaker, question.title, question.section) == ("Sam Wu", "Analyst", "qa")


def test_bilingual_qa_starts_at_the_handover() -> None:
    doc = load_bytes(BILINGUAL.encode())
    sections = [s.section for s in doc.segments]
    handover = para(doc, "That concludes our prepared remarks")
    assert sections == ["prepared"] * handover + ["qa"] * (len(sections) - handover)


def test_english_only_doubled_speaker_lines() -> None:
    text = "Operator\nOperator\nWelcome.\nAl Ng - CEO\nAl Ng - CEO\nSales rose 3%.\nThank you.\n"
    doc = load_bytes(text.encode())
    assert doc.format == "speaker_transcript" and doc.translation_language is None
    assert [(s.speaker, s.title) for s in doc.segments] == [("Operator", None), ("Al Ng", "CEO"), ("Al Ng", "CEO")]


# --------------------------------------------------------------------------- other transcript layouts


def test_timestamped_transcript_skips_the_memo_and_keeps_timestamps() -> None:
    doc = load_bytes(TIMESTAMPED.encode())
    assert doc.text.split("\n") == [
        "Revenue grew 8% sequentially to NT$12.5 billion.",
        "Gross margin should stay near 46%.",
        "Can you talk about capacity for next year?",
    ]
    first, second, question = doc.segments
    assert (first.timestamp, first.speaker) == ("00:00:05", "Amy Chen")
    assert first.title == "Example Corp, Chief Financial Officer"
    assert first.translation is not None and "125" in first.translation
    assert second.translation is not None and "46%" in second.translation
    assert [s.section for s in doc.segments] == ["prepared", "prepared", "qa"]
    assert (question.speaker, question.timestamp) == ("Bo Li", "00:01:10")
    assert doc.title == "範例公司_20250102"
    assert doc.published == datetime(2025, 1, 2, tzinfo=UTC)
    assert doc.translation_language == "zh-Hant"


def test_sentence_lines_rejoin_cut_sentences_and_find_the_qa() -> None:
    doc = load_bytes(SENTENCES.encode())
    assert doc.text.split("\n")[2] == "We expect margins to expand in the U.S and abroad next year."
    assert [s.section for s in doc.segments] == ["prepared"] * 3 + ["qa"] * 2
    assert all(s.speaker is None for s in doc.segments)


@pytest.mark.parametrize(
    ("line", "starts_qa"),
    [
        ("This concludes our prepared remarks.", True),
        ("That concludes my comments, and I will now turn the call over to the operator for questions.", True),
        ("With that, let's open the call to questions.", True),
        ("Our first question comes from Ann Lee with Example Bank.", True),
        ("We'll take our first question from Ann Lee.", True),
        ("We will now begin the question-and-answer session.", True),
        ("And now we'll start the Q&A session.", True),
        ("Operator, please open the lines.", True),
        ("So again, thank you all, and we would welcome your questions and comments.", True),
        ("Now, we'd be happy to answer your questions", True),
        ("Operator? Question-and-Answer Session", True),
        ("A question-and-answer session will follow the formal presentation.", False),
        ("After that, we'll open the call to questions from analysts.", False),
        ("They will be available to answer your questions during the Q&A session that follows.", False),
        ("Before turning it over for Q&A, I want to cover the outlook.", False),
        ("I would now like to hand the conference over to Nina Gold.", False),
        ("Gross margin was 45%, in line with our prepared outlook.", False),
    ],
)
def test_qa_start(line: str, starts_qa: bool) -> None:
    doc = load_bytes(f"Revenue was $5 million, up 3%.\n{line}\nMargins improved by 2 points.\n".encode())
    assert [s.section for s in doc.segments] == ["prepared", *(["qa", "qa"] if starts_qa else ["prepared"] * 2)]


def test_json_text_is_split_into_paragraphs_with_the_qa_boundary_between_them() -> None:
    doc = load_bytes(jsonb(JSON_TEXT))
    boundary = para(doc, "With that, let's go to Q&A.")
    assert doc.text[doc.segments[boundary].start :].startswith("With that, let's go to Q&A.")
    assert {s.section for s in doc.segments[:boundary]} == {"prepared"}
    assert {s.section for s in doc.segments[boundary:]} == {"qa"}


def test_json_sections_use_the_questions_field_and_the_event() -> None:
    doc = load_bytes(jsonb(JSON_SECTIONS))
    assert (doc.fiscal_year, doc.fiscal_quarter) == (2024, 3)
    assert doc.published == datetime.fromisoformat("2024-10-30T17:00:00.000-04:00")
    assert doc.segments[para(doc, "Gross margin was 45%")].section == "prepared"
    assert doc.segments[para(doc, "How durable")].section == "qa"


def test_json_speakers_carry_names_titles_and_operator() -> None:
    doc = load_bytes(jsonb(JSON_SPEAKERS))
    welcome, revenue, handover, question = doc.segments
    assert (welcome.speaker, welcome.operator) == ("Pat Kim", True)
    assert (revenue.speaker, revenue.title, revenue.operator, revenue.section) == (
        "Dana Ruiz", "Chief Executive Officer", False, "prepared")
    assert doc.text[handover.start : handover.end] == "With that, let's open the call to questions."
    assert (handover.speaker, handover.section) == ("Dana Ruiz", "qa")
    assert (question.speaker, question.title, question.section) == ("Lee Park", "Analyst", "qa")


def test_json_content_list_parses_name_colon_turns() -> None:
    doc = load_bytes(jsonb(JSON_CONTENT))
    assert (doc.ticker, doc.fiscal_year, doc.fiscal_quarter) == ("KC", 2024, 1)
    assert doc.published == datetime(2024, 5, 28, 20, 27, 11, tzinfo=UTC)
    assert [(s.speaker, s.operator, s.section) for s in doc.segments] == [
        ("Operator", True, "prepared"),
        ("Jane Roe", False, "prepared"),
        ("Operator", True, "qa"),
        ("Max Poe", False, "qa"),
    ]
    assert doc.text.split("\n")[1] == "Thank you. Revenue was $9.9 million."


# --------------------------------------------------------------------------- releases


def test_html_release_text_tables_and_metadata() -> None:
    doc = load_bytes(HTML_RELEASE.encode(), url="https://example.com/r", source="edgar")
    lines = doc.text.split("\n")
    assert lines[0] == ("SPRINGFIELD, Ill. – August 5, 2025 – Acme Corp (NYSE: ACME) today reported revenue of "
                        "$1.2 billion.")
    assert lines[1] == "Net income rose 12% to $88 million."
    assert lines[2:] == [
        "Q2 2025 | Q2 2024",
        "Total revenue | $4,655 | $4,262",
        "Operating loss | (12.3) | (9.1)",
        "Gross margin | 41.5% | 40.2%",
        "Bookings were a record.",
    ]
    assert [s.section for s in doc.segments] == ["body", "body", "table", "table", "table", "table", "body"]
    assert "secret" not in doc.text and "hidden" not in doc.text and "color" not in doc.text
    assert doc.title == "Acme Reports Second Quarter Results"
    assert (doc.ticker, doc.published) == ("ACME", datetime(2025, 8, 5, tzinfo=UTC))
    assert (doc.url, doc.source) == ("https://example.com/r", "edgar")


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<html><head><title>Document</title></head><body><h1>Acme Q3</h1><p>Text.</p></body></html>", "Acme Q3"),
        ("<html><head><title>Acme Q3 Results</title></head><body><p>Text.</p></body></html>", "Acme Q3 Results"),
        ("<html><body><p>Exhibit 99.1</p><p>Acme Announces Q3 Results</p><p>Text.</p></body></html>",
         "Acme Announces Q3 Results"),
    ],
)
def test_html_title(html: str, title: str) -> None:
    assert load_bytes(html.encode()).title == title


def test_sec_document_wrapper_is_unwrapped() -> None:
    wrapped = "<DOCUMENT>\n<TYPE>EX-99.1\n<FILENAME>ex991.htm\n<TEXT>\n" + HTML_RELEASE + "\n</TEXT>\n</DOCUMENT>\n"
    doc = load_bytes(wrapped.encode())
    assert "EX-99.1" not in doc.text and "ex991.htm" not in doc.text
    assert doc.text.split("\n")[1] == "Net income rose 12% to $88 million."


def test_markdown_release_is_stripped_and_the_archive_block_dropped() -> None:
    doc = load_bytes(MARKDOWN_RELEASE.encode())
    assert doc.text.split("\n") == [
        "Acme Reports Record Quarter",
        "SPRINGFIELD, IL - May 2, 2025 (NEWMEDIAWIRE) - Acme Corp (Nasdaq: ACME) today announced first quarter "
        "results.",
        "Revenue was $10.2 million, up 14%",
        "Net loss was ($1.1 million)",
        "Metric | Q1 2025 | Q1 2024",
        "Revenue | $10.2",
    ]
    assert [s.section for s in doc.segments] == ["header", "body", "body", "body", "table", "table"]
    assert doc.title == "Acme Reports Record Quarter"
    assert doc.url == "https://wire.example.com/acme-q1"
    assert (doc.ticker, doc.published) == ("ACME", datetime(2025, 5, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("markdown", "title"),
    [
        ("# Acme Q3 Results ##\n\nRevenue rose 5%.", "Acme Q3 Results"),
        ("# Acme Ships C#\n\nRevenue rose 5%.", "Acme Ships C#"),
        ("## **Acme** [Q3](https://example.com) _Results_\n\nRevenue rose 5%.", "Acme Q3 Results"),
    ],
)
def test_markdown_title(markdown: str, title: str) -> None:
    doc = load_bytes(markdown.encode())
    assert (doc.title, doc.text.split("\n")[0]) == (title, title)


def test_plain_text_release_with_aligned_columns() -> None:
    doc = load_bytes(TEXT_RELEASE.encode())
    assert doc.text.split("\n") == [
        "Acme Corp Reports Third Quarter 2025 Results",
        "SPRINGFIELD, Ill., Oct. 30, 2025 /PRNewswire/ -- Acme Corp (NYSE: ACME) today reported third quarter "
        "revenue of $1.3 billion.",
        "Revenue | 1,300 | 1,150",
    ]
    assert [s.section for s in doc.segments] == ["header", "body", "table"]
    assert doc.published == datetime(2025, 10, 30, tzinfo=UTC)


def test_pdf_text_is_unwrapped_into_paragraphs() -> None:
    doc = load_bytes(PDF_RELEASE)
    assert doc.text.split("\n") == [
        "Acme Corp Reports Second Quarter 2025 Results",
        "SPRINGFIELD, Ill., Aug. 5, 2025 /PRNewswire/ -- Acme Corp (NYSE: ACME) today reported revenue of $1.2 "
        "billion, up 9% from $1.1 billion a year ago, and net income of $88 million.",
    ]
    assert (doc.title, doc.ticker) == ("Acme Corp Reports Second Quarter 2025 Results", "ACME")


# --------------------------------------------------------------------------- files


def test_load_path_reads_a_file(tmp_path: Path) -> None:
    file = tmp_path / "call.txt"
    file.write_bytes(SENTENCES.encode())
    assert load_path(file).text == load_bytes(SENTENCES.encode()).text
    assert load_path(str(file)).format == "sentence_transcript"


def test_load_path_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.txt: cannot read file"):
        load_path(tmp_path / "missing.txt")
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    with pytest.raises(InputError, match=r"big\.txt: file is 10,485,761 bytes, larger than the 10,485,760-byte"):
        load_path(big)
    with pytest.raises(InputError, match="cannot read file"):
        load_path(tmp_path)
