"""Inbox folder source: new, replaced, hidden, partial and still-growing files; plus the registry and defaults."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from bot.errors import ConfigError, SourceError
from bot.sources import SOURCE_KINDS, AnySourceSpec, build_source, default_specs
from bot.sources.base import SourceSpec, SourceState
from bot.sources.edgar import EdgarSource
from bot.sources.inbox import InboxSource, InboxSpec, is_candidate
from bot.sources.rss import RssSource
from bot.sources.transcripts import TranscriptsSource
from bot.sources.webpage import WebpageSource


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=False) as c:  # unused by the inbox, required by the interface
        yield c


def inbox(folder: Path, **extra: Any) -> InboxSource:
    return InboxSource(InboxSpec.model_validate({"name": "inbox", "path": folder, "settle_seconds": 0.05, **extra}))


def write(path: Path, text: str, mtime: float | None = None) -> None:
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ACME_q3_2025.txt", True),
        ("release.pdf", True),
        ("call.json", True),
        (".DS_Store", False),
        (".~lock.release.docx#", False),
        ("upload.tmp", False),
        ("release.pdf.part", False),
        ("release.PDF.crdownload", False),
        ("notes.txt~", False),
    ],
)
def test_is_candidate(name: str, expected: bool) -> None:
    assert is_candidate(name) is expected


async def test_new_files_once_then_replaced_file_again(tmp_path: Path, client: httpx.AsyncClient) -> None:
    write(tmp_path / "ACME_q3_2025.txt", "Revenue was $412.3 million.", mtime=1_700_000_000)
    write(tmp_path / "release.md", "# Acme results", mtime=1_700_000_100)
    write(tmp_path / ".hidden.txt", "no")
    write(tmp_path / "upload.part", "no")
    (tmp_path / "subfolder").mkdir()
    source = inbox(tmp_path, tickers=("ACME",))
    first = await source.poll(client, SourceState())
    assert [d.title for d in first.documents] == ["ACME_q3_2025", "release"]  # oldest first
    doc = first.documents[0]
    assert doc.key == f"ACME_q3_2025.txt:{1_700_000_000 * 10**9}:27"
    assert (doc.content, doc.content_type, doc.ticker) == (b"Revenue was $412.3 million.", "text/plain", "ACME")
    assert doc.published is not None and doc.published.timestamp() == 1_700_000_000
    assert doc.url == (tmp_path / "ACME_q3_2025.txt").resolve().as_uri()
    assert first.documents[1].content_type == "text/markdown"

    assert (await source.poll(client, first.state)).documents == ()

    write(tmp_path / "ACME_q3_2025.txt", "Revenue was $412.4 million (corrected).", mtime=1_700_000_500)
    (tmp_path / "release.md").unlink()
    third = await source.poll(client, first.state)
    assert [d.content for d in third.documents] == [b"Revenue was $412.4 million (corrected)."]
    assert third.state.seen == (third.documents[0].key,)  # the removed and the replaced files are forgotten


async def test_file_still_being_written_waits(tmp_path: Path, client: httpx.AsyncClient) -> None:
    target = tmp_path / "growing.txt"
    target.write_text("start\n")
    stop = threading.Event()

    def grow() -> None:
        with target.open("a") as fh:
            while not stop.is_set():
                fh.write("more text\n")
                fh.flush()
                time.sleep(0.01)

    writer = threading.Thread(target=grow)
    writer.start()
    try:
        source = inbox(tmp_path, settle_seconds=0.1)
        busy = await source.poll(client, SourceState())
    finally:
        stop.set()
        writer.join()
    assert busy.documents == () and busy.state.seen == ()
    done = await source.poll(client, busy.state)
    assert len(done.documents) == 1 and done.documents[0].content == target.read_bytes()


async def test_oversized_file_is_logged_and_skipped(
    tmp_path: Path, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "big.txt", "x" * 100)
    write(tmp_path / "small.txt", "ok")
    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        result = await inbox(tmp_path, max_bytes=10).poll(client, SourceState())
    assert [d.title for d in result.documents] == ["small"]
    assert not any(k.startswith("big.txt") for k in result.state.seen)
    assert any("big.txt" in r.getMessage() and r.source == "inbox" for r in caplog.records)  # type: ignore[attr-defined]


async def test_missing_folder_is_created_and_a_file_path_is_refused(tmp_path: Path, client: httpx.AsyncClient) -> None:
    folder = tmp_path / "new" / "inbox"
    assert (await inbox(folder).poll(client, SourceState())).documents == ()
    assert folder.is_dir()
    (tmp_path / "plain").write_text("not a folder")
    with pytest.raises(SourceError, match=r"source inbox: inbox .*plain"):
        await inbox(tmp_path / "plain").poll(client, SourceState())


async def test_backfill_picks_files_naming_the_ticker(tmp_path: Path, client: httpx.AsyncClient) -> None:
    for name in ("ACME_q2_2025.txt", "acme-q3-2025.pdf", "ACMEX_q3.txt", "other.txt"):
        write(tmp_path / name, name)
    docs = await inbox(tmp_path).backfill(client, "ACME", 4)
    assert sorted(d.title or "" for d in docs) == ["ACME_q2_2025", "acme-q3-2025"]


def test_default_is_the_inbox_alone(tmp_path: Path) -> None:
    specs = default_specs(tmp_path / "drop")
    assert specs == [InboxSpec(name="inbox", path=tmp_path / "drop")]
    assert isinstance(build_source(specs[0]), InboxSource)


CONFIGS: list[tuple[dict[str, Any], type[Any]]] = [
    ({"kind": "rss", "name": "wire", "url": "https://wire.example.com/rss"}, RssSource),
    ({"kind": "edgar", "name": "sec", "tickers": ["ACME"], "user_agent": "Bot ops@example.com"}, EdgarSource),
    (
        {"kind": "transcripts", "name": "calls", "base_url": "https://api.example.com", "tickers": ["ACME"]},
        TranscriptsSource,
    ),
    ({"kind": "webpage", "name": "ir", "url": "https://ir.example.com/news", "selector": "a"}, WebpageSource),
    ({"kind": "inbox", "name": "drop", "path": "./inbox"}, InboxSource),
]


@pytest.mark.parametrize(("config", "cls"), CONFIGS)
def test_config_union_builds_each_kind(config: dict[str, Any], cls: type[Any]) -> None:
    spec = TypeAdapter(AnySourceSpec).validate_python(config)
    assert type(spec) is SOURCE_KINDS[config["kind"]]
    source = build_source(spec)
    assert isinstance(source, cls) and source.spec is spec


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"kind": "ftp", "name": "x"}, "does not match any of the expected tags"),
        ({"kind": "rss", "name": "wire"}, "url"),
        ({"kind": "inbox", "name": "drop", "colour": "blue"}, "colour"),
    ],
)
def test_config_union_rejects_bad_entries(config: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        TypeAdapter(AnySourceSpec).validate_python(config)


def test_build_source_refuses_an_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown source kind 'ftp'"):
        build_source(SourceSpec(name="odd", kind="ftp"))


async def test_polls_run_concurrently_without_blocking(tmp_path: Path, client: httpx.AsyncClient) -> None:
    write(tmp_path / "a.txt", "a")
    started = time.monotonic()
    results = await asyncio.gather(*(inbox(tmp_path, settle_seconds=0.2).poll(client, SourceState()) for _ in range(5)))
    assert all(len(r.documents) == 1 for r in results)
    assert time.monotonic() - started < 0.9  # the settle wait is an async sleep, not a blocking one
