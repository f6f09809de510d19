"""`earnings-bot extract`: the terminal digest, --json, --lang zh, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from bot.extract import extract
from bot.extract.load import load_bytes
from tests.corpus import SEED, require_shared

CLI = [sys.executable, "-m", "bot.cli"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])


def test_terminal_digest_of_the_seed() -> None:
    require_shared()
    out = run("extract", str(SEED), "--width", "160")
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "Kingsoft Cloud (KC) · Q1 2024 earnings call" in text
    assert "RMB1,775.7M" in text and "3.1% QoQ" in text
    assert "All figures" in text


def test_json_contract() -> None:
    require_shared()
    out = run("extract", str(SEED), "--json")
    assert out.returncode == 0, out.stderr.decode()
    data = json.loads(out.stdout)
    assert {"company", "ticker", "kind", "period", "currency", "metrics", "guidance", "flags"} <= set(data)
    m = next(x for x in data["metrics"] if x["key"] == "revenue")
    assert m["value"] == 1775700000
    assert set(m["change"]) == {"qoq_pct"}
    for key in ("key", "name", "value", "unit", "basis", "period", "change", "prior", "quote", "speaker", "verified"):
        assert key in m
    g = data["guidance"][0]
    for key in ("metric", "period", "low", "high", "unit", "direction", "text", "quote", "speaker"):
        assert key in g


def test_stdin_and_chinese() -> None:
    require_shared()
    out = run("extract", "-", "--lang", "zh", "--width", "160", stdin=SEED.read_bytes())
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "人民幣" in text and "億元" in text  # the quotes are the aligned Chinese paragraphs


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\x00" * 50, "binary"),
        (b"caf\xe9 revenue was $5 million", "UTF-8"),
        (b"<html><head><title>x</title></head></html>", "body"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(content)
    out = run("extract", str(path))
    assert out.returncode != 0
    err = out.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert words.lower() in err.lower()


def test_huge_file_gives_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"Revenue was $5 million. " * (20 * 1024 * 1024 // 24 + 1))
    out = run("extract", str(path))
    assert out.returncode != 0
    err = out.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_file(tmp_path: Path) -> None:
    out = run("extract", str(tmp_path / "nope.txt"))
    assert out.returncode != 0 and "no such file" in out.stderr.decode()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_extracting_any_string_never_raises(text: str) -> None:
    try:
        document = load_bytes(text.encode("utf-8"))
    except InputError:
        return
    extract(document)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "Revenue", "revenues", " was ", " were ", "$", "RMB", "1,775.7", "12.9", "%", " million", " billion",
    " up ", " from ", " compared with ", " in the last quarter", " year over year", ", ", ". ", "(", ")", "[",
    "]", " respectively", " guidance", " expect ", " to ", " between ", " and ", "negative ", "net loss ",
    "gross margin ", " percentage points", "(sic ", "adjusted EBITDA ", "\n",
]), max_size=40))
def test_extracting_figure_soup_never_raises(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        document = load_bytes(text.encode("utf-8"))
    except InputError:
        return
    report = extract(document)
    for m in report.metrics:
        assert m.quote == document.text[m.start : m.end]
