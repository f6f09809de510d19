"""The seed call end to end on Slack: its digest post (against a reviewed snapshot), its thread, and answers
to commands about it. The seed is read from ../shared at run time; the snapshot holds no document text:
every run of 30+ characters taken from the document is stored as a reference into it and resolved here."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakeslack import BOT_TOKEN, FakeSlack
from test_slack_app import Served, command_body, settings, shown, signed

from bot.config import BotConfig, Route
from bot.delivery import Dispatcher
from bot.digest.build import build_digest
from bot.digest.slack import render_digest, render_thread
from bot.extract import extract
from bot.extract.load import load_path
from bot.models import CompanyConfig, Document, Report
from bot.platforms.slack import SlackSink, build_slack, web_client
from bot.sources.base import FetchedDocument
from bot.store import Store

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "000_b4c0d37c8ab855e5.txt"
SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "slack_seed_digest.json"
CHANNEL = "C0DIGEST1"
COMPANIES = (CompanyConfig(ticker="KC", name="Kingsoft Cloud"),)
MIN_RUN = 30
REF = re.compile(r"⟦seed (\d+)\+(\d+)⟧")

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def seed() -> tuple[Document, Report]:
    if not SEED.is_file():
        pytest.skip(f"the seed transcript is not at {SEED} (../shared is absent)")
    document = load_path(SEED)
    return document, extract(document)


def redact(text: str, source: str) -> str:
    """`text` with every run of MIN_RUN+ characters found in `source` replaced by ⟦seed start+length⟧."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if i + MIN_RUN > len(text) or text[i : i + MIN_RUN] not in source:
            out.append(text[i])
            i += 1
            continue
        end = i + MIN_RUN
        while end < len(text) and text[i : end + 1] in source:
            end += 1
        out.append(f"⟦seed {source.find(text[i:end])}+{end - i}⟧")
        i = end
    return "".join(out)


def resolve(text: str, source: str) -> str:
    return REF.sub(lambda m: source[int(m.group(1)) : int(m.group(1)) + int(m.group(2))], text)


def walk(node: Any, change: Any) -> Any:
    if isinstance(node, dict):
        return {k: walk(v, change) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, change) for v in node]
    return change(node) if isinstance(node, str) else node


def test_seed_digest_post_matches_the_reviewed_snapshot(seed: tuple[Document, Report]) -> None:
    document, report = seed
    message = render_digest(build_digest(report))
    rendered = {"text": message.text, "blocks": message.blocks}
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        stored = walk(rendered, lambda s: redact(s, document.text))
        SNAPSHOT.write_text(json.dumps(stored, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"wrote a new snapshot {SNAPSHOT.name}: review it by eye and run again")
    expected = walk(json.loads(SNAPSHOT.read_text(encoding="utf-8")), lambda s: resolve(s, document.text))
    assert rendered == expected


def test_seed_snapshot_carries_no_document_text(seed: tuple[Document, Report]) -> None:
    document, _ = seed
    stored = SNAPSHOT.read_text(encoding="utf-8")
    runs = [stored[i : i + MIN_RUN] for i in range(0, len(stored) - MIN_RUN)]
    assert not [r for r in runs if r in document.text]


def test_seed_digest_post_shape(seed: tuple[Document, Report]) -> None:
    _, report = seed
    message = render_digest(build_digest(report))
    assert message.blocks[0]["text"]["text"] == "Kingsoft Cloud (KC) · Q1 2024 earnings call"
    fields = [f["text"] for b in message.blocks if b.get("fields") for f in b["fields"]]
    assert fields[0] == "*Total revenues*\nRMB1,775.7M  ▲ 3.1% QoQ"
    assert any(f.startswith("*Adjusted EBITDA margin*\n1.9%  ▲ 8.9pp YoY") for f in fields)
    text = shown({"blocks": message.blocks})
    assert "*Outlook*" in text and "⚠ Enterprise cloud revenue" in text
    assert "<https" not in text or report.url  # the seed has no URL: the source is named, not linked


def test_seed_thread_has_every_figure_and_guidance_quote(seed: tuple[Document, Report]) -> None:
    _, report = seed
    digest = build_digest(report)
    thread = render_thread(digest)
    sections = [b["text"]["text"] for m in thread for b in m.blocks if b["type"] == "section"]
    for line in digest.figures:
        assert any(s.startswith(f"*{line.label.replace('&', '&amp;')}*") for s in sections), line.label
    assert sum(s.startswith("• ") for s in sections) == len(report.guidance)


@pytest.fixture
async def store(sqlite_url: str, seed: tuple[Document, Report]) -> AsyncIterator[Store]:
    document, report = seed
    opened = await Store.open(sqlite_url)
    fetched = FetchedDocument(source="seed", key=SEED.name, content=SEED.read_bytes(), ticker="KC")
    await opened.ingest(fetched, document, report, (Route(platform="slack", target=CHANNEL),))
    try:
        yield opened
    finally:
        await opened.close()


async def test_seed_is_posted_to_the_channel_as_rendered(
    store: Store, slack: FakeSlack, seed: tuple[Document, Report]
) -> None:
    _, report = seed
    sink = SlackSink(web_client(BOT_TOKEN, slack.api_url))
    assert await Dispatcher(store, {"slack": sink}, "replica-a").run_once() == 1
    (post,) = slack.top_level(CHANNEL)
    assert post["blocks"] == render_digest(build_digest(report)).blocks
    replies = slack.replies(CHANNEL, post["ts"])
    assert [r["blocks"] for r in replies] == [m.blocks for m in render_thread(build_digest(report))]


@pytest.mark.parametrize(("text", "expected"), [
    ("KC", '"text": "Kingsoft Cloud (KC) · Q1 2024 earnings call"'),
    ("kingsoft cloud adjusted ebitda margin", "*Adjusted EBITDA margin*  1.9%  ▲ 8.9pp YoY"),
    ("KC revenue", "*Total revenues*  RMB1,775.7M  ▲ 3.1% QoQ"),
    ("KC capex Q1 2024", "*Capex*  RMB1,212.2M"),
    ("KC ebita", 'No metric \\"ebita\\" for KC. Did you mean: Adjusted EBITDA, Adjusted EBITDA margin?'),
    ("KC guidance", "No guidance: "),
    ("KC revenue history", "Q1 2024  RMB1,775.7M"),
])
async def test_commands_about_the_seed(store: Store, slack: FakeSlack, text: str, expected: str) -> None:
    app = build_slack(settings(slack), store, BotConfig(companies=COMPANIES))
    async with Served(app) as running:
        body = command_body(slack, text, "seed")
        assert (await running.post(body, signed(body))).status_code == 200
        (reply,) = await slack.wait_for(lambda: slack.responses)
    assert expected in shown(reply), shown(reply)
