"""`earnings-bot status`: a delivery that failed for good is shown with the reason Slack gave."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli_sources
from bot.cli import main as cli_main
from bot.config import Route
from bot.store import Store
from tests.reports import inbox_transcript


async def test_status_shows_a_permanent_failure_with_its_reason(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = await Store.open(sqlite_url)
    try:
        fetched, document, report = inbox_transcript("Kingsoft Cloud")
        await store.ingest(fetched, document, report, [Route(platform="slack", target="C0GONE")])
        (item,) = await store.pending_deliveries("slack")
        assert await store.claim_delivery(item.id, "test", 60)
        await store.mark_failed(item.id, "channel_not_found: the channel was deleted", permanent=True, retry_at=None)
    finally:
        await store.close()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_sources, "_logging", lambda settings, config: None)
    assert await _run(["status"]) == 0
    out = capsys.readouterr().out
    assert "1 failed" in out
    assert "channel_not_found" in out and "C0GONE" in out


async def _run(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(cli_main, argv)
