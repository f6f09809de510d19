"""Every real document extracts; every quote is verbatim and contains its figure; corpus guidance ranges."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from bot.extract import extract
from bot.extract.load import load_path
from bot.models import Document, Report
from tests.corpus import CORPUS, SEED, corpus_documents, require_shared

DOCUMENTS = corpus_documents()


@cache
def loaded(path: Path) -> tuple[Document, Report]:
    document = load_path(path)
    return document, extract(document)


def _id(p: Path) -> str:
    return p.name[:60]


def test_corpus_is_present() -> None:
    require_shared()
    assert len(DOCUMENTS) >= 60


@pytest.mark.parametrize("path", DOCUMENTS, ids=_id)
def test_quotes_are_verbatim_and_contain_the_figure(path: Path) -> None:
    document, report = loaded(path)
    raw = path.read_text(encoding="utf-8")
    for m in report.metrics:
        assert document.text[m.start : m.end] == m.quote
        assert m.value_text in m.quote, (m.key, m.value_text)
        if path == SEED:
            assert m.quote in raw
        for x in m.mentions:
            assert x.value_text in x.quote and x.quote in document.text
    for g in report.guidance:
        assert document.text[g.start : g.end] == g.quote
    for f in report.flags:
        assert f.quote in document.text


def test_seed_and_corpus_yield_figures() -> None:
    require_shared()
    with_figures = sum(1 for p in DOCUMENTS if loaded(p)[1].metrics)
    assert with_figures >= len(DOCUMENTS) - 3


# Guidance ranges the corpus states, as (file name start, metric words, low, high).
RANGES = [
    ("edgartools__adbeex991q123", "revenue", 4.75e9, 4.78e9),
    ("edgartools__adbeex991q123", "earnings per share", 15.30, 15.60),
    ("edgartools__adbeex991q123", "earnings per share", 2.65, 2.70),
    ("press-release-archive__citybiz_2025_1021_danaher", "earnings per", 7.70, 7.80),
    ("press-release-archive__newmediawire_2025_0813_forian", "revenue", 28e6, 30e6),
    ("press-release-archive__newmediawire_2025_0813_forian", "ebitda", -1.0e6, 1.0e6),
    ("MAEC__20170720_EBAY", "revenue", 2.35e9, 2.39e9),
    ("earningscall-python__nvda", "revenue", 31.85e9, 33.15e9),
    ("Taiwan-Earnings-Call-Dataset__2454", "operating expenses", 33, 37),
]


@pytest.mark.parametrize(("stem", "words", "low", "high"), RANGES)
def test_corpus_guidance_ranges(stem: str, words: str, low: float, high: float) -> None:
    require_shared()
    path = next((p for p in DOCUMENTS if p.name.startswith(stem)), None)
    assert path is not None, stem
    _, report = loaded(path)
    found = [
        g for g in report.guidance
        if g.low is not None and g.high is not None and g.low == pytest.approx(low) and g.high == pytest.approx(high)
    ]
    assert found, [(g.metric, g.low, g.high) for g in report.guidance if g.kind == "numeric"]
    assert any(re.search(words, (g.metric or "") + " " + g.quote, re.I) for g in found)


def test_sec_8k_without_results_is_not_mistaken_for_guidance() -> None:
    require_shared()
    _, report = loaded(CORPUS / "press_releases" / "edgartools__pressrelease3-8x24.htm")
    assert all(g.kind != "numeric" or g.low is not None for g in report.guidance)


def test_seed_is_among_documents() -> None:
    require_shared()
    assert SEED in DOCUMENTS
