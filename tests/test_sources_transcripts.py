"""Transcript API source: real response shapes served locally, the quarter cursor, the key never leaking."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpserver import LocalServer, Reply
from pydantic import ValidationError

from bot.errors import SourceError
from bot.sources.base import SourceState
from bot.sources.transcripts import Quarter, TranscriptsSource, TranscriptsSpec, pick_transcript
from tests.corpus import corpus_file as corpus

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
SECRET = "sk_live_TOPSECRET_9f8e7d6c"
PATH = "/v1/transcripts/{ticker}/{year}/Q{quarter}"
MSFT = "transcripts/earningscall-python__msft-transcript-response.body.json"
AAPL_L4 = "transcripts/earningscall-python__aapl-q1-2022-advanced-data-level-4.body.json"
AAPL_SPEAKERS = "transcripts/earningscall-python__aapl-q1-2022-speaker-name-map-v2.body.json"
NVDA = "transcripts/earningscall-python__nvda-q2-2025-level-4-data-missing.body.json"


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSCRIPTS_API_KEY", SECRET)


def source(
    server: LocalServer, *tickers: str, today: date = date(2023, 3, 1), **extra: Any
) -> TranscriptsSource:
    fields = {"name": "calls", "base_url": server.base_url, "tickers": tickers, "path": PATH, **extra}
    return TranscriptsSource(TranscriptsSpec.model_validate(fields), today=lambda: today)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "year", "quarter", "published"),
    [
        (MSFT, 2023, 1, None),
        (AAPL_L4, 2022, 1, "2022-01-27T14:00:00-08:00"),
        (AAPL_SPEAKERS, 2023, 1, "2023-02-02T17:00:00-05:00"),
        (NVDA, 2025, 2, "2024-08-28T17:00:00-04:00"),
    ],
)
def test_real_response_shapes_are_transcripts(
    rel: str, year: int, quarter: int, published: str | None
) -> None:
    picked = pick_transcript(json.loads(corpus(rel)), year, quarter)
    assert picked is not None
    when = picked[1]
    assert (when.isoformat() if when else None) == published


@pytest.mark.corpus
def test_answer_for_another_quarter_is_not_taken() -> None:
    assert pick_transcript(json.loads(corpus(AAPL_L4)), 2022, 2) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], None),
        ([{"symbol": "ACME", "year": 2025, "quarter": 2, "content": "older call"}], None),
        (
            [
                {
                    "symbol": "ACME",
                    "year": 2025,
                    "quarter": 3,
                    "content": "the call",
                    "date": "2025-11-04 17:00:00",
                }
            ],
            "the call",
        ),
        ([{"content": "undated call"}], "undated call"),
        ({"text": ""}, None),
        (
            {
                "event": {"year": 2025, "quarter": 3},
                "prepared_remarks": "hello",
                "questions_and_answers": None,
            },
            "hello",
        ),
        ({"event": {"year": 2025, "quarter": "Q3"}, "text": "labelled Q3"}, "labelled Q3"),
    ],
)
def test_pick_transcript(data: Any, expected: str | None) -> None:
    picked = pick_transcript(data, 2025, 3)
    if expected is None:
        assert picked is None
    else:
        assert picked is not None and expected in json.dumps(picked[0])


@pytest.mark.parametrize("data", [{"error": "Invalid API key"}, "a string", [{"symbol": "X"}], 42])
def test_unknown_shapes_are_errors(data: Any) -> None:
    with pytest.raises(ValueError):
        pick_transcript(data, 2025, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2024Q3", Quarter(2024, 3)), ("2024q1", Quarter(2024, 1)), ("2024Q5", None), ("Q3 2024", None)],
)
def test_quarter_parse(text: str, expected: Quarter | None) -> None:
    assert Quarter.parse(text) == expected


@pytest.mark.parametrize(
    ("start", "step", "expected"),
    [
        (Quarter(2024, 4), 1, Quarter(2025, 1)),
        (Quarter(2025, 1), -1, Quarter(2024, 4)),
        (Quarter(2024, 2), 5, Quarter(2025, 3)),
    ],
)
def test_quarter_step(start: Quarter, step: int, expected: Quarter) -> None:
    assert start.step(step) == expected


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"path": "/t/{symbol}"}, "unknown placeholders"),
        ({"start": "Q3-2024"}, "2024Q3"),
        ({"tickers": ()}, "at least one ticker"),
        ({"api_key_in": "cookie"}, "api_key_in"),
    ],
)
def test_spec_validation(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        TranscriptsSpec.model_validate({"name": "calls", "base_url": "http://x", "tickers": ("A",), **fields})


@pytest.mark.corpus
async def test_poll_emits_when_out_and_advances_cursor(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    server.route("/v1/transcripts/MSFT/2023/Q1", Reply.ok(corpus(MSFT), "application/json"))
    calls = source(server, "MSFT", start="2023Q1")
    first = await calls.poll(client, SourceState())
    assert [d.key for d in first.documents] == ["MSFT:2023Q1"]
    doc = first.documents[0]
    assert doc.content == corpus(MSFT)
    assert (doc.ticker, doc.form, doc.fiscal_year, doc.fiscal_quarter) == ("MSFT", "transcript", 2023, 1)
    assert doc.url == server.url("/v1/transcripts/MSFT/2023/Q1") and SECRET not in (doc.url or "")
    assert json.loads(first.state.cursor or "") == {"MSFT": "2023Q2"}
    assert server.requests_to("/v1/transcripts/MSFT/2023/Q1")[0].query["apikey"] == [SECRET]

    waiting = await calls.poll(client, first.state)  # 2023Q2 and the look-ahead 2023Q3 are 404: not yet
    assert waiting.documents == () and waiting.state.cursor == first.state.cursor

    server.route("/v1/transcripts/MSFT/2023/Q2", Reply.ok(json.dumps({"text": "second quarter call"})))
    out = await calls.poll(client, waiting.state)
    assert [d.key for d in out.documents] == ["MSFT:2023Q2"]
    assert json.loads(out.state.cursor or "") == {"MSFT": "2023Q3"}


@pytest.mark.corpus
async def test_catch_up_and_skip_a_missing_quarter(server: LocalServer, client: httpx.AsyncClient) -> None:
    server.route("/v1/transcripts/AAPL/2022/Q1", Reply.ok(corpus(AAPL_L4), "application/json"))
    server.route(
        "/v1/transcripts/AAPL/2022/Q3", Reply.ok(json.dumps({"text": "third"}))
    )  # 2022Q2 never comes
    server.route("/v1/transcripts/AAPL/2022/Q4", Reply.ok(json.dumps({"text": "fourth"})))
    server.route("/v1/transcripts/AAPL/2023/Q1", Reply.ok(corpus(AAPL_SPEAKERS), "application/json"))
    server.route("/v1/transcripts/NVDA/2025/Q2", Reply.ok(corpus(NVDA), "application/json"))
    result = await source(server, "AAPL", "NVDA", start="2022Q1", catch_up=3).poll(client, SourceState())
    assert [d.key for d in result.documents] == ["AAPL:2022Q1", "AAPL:2022Q3", "AAPL:2022Q4"]
    assert json.loads(result.state.cursor or "") == {"AAPL": "2023Q1", "NVDA": "2022Q1"}
    later = await source(server, "AAPL", start="2022Q1").poll(client, result.state)
    assert [d.key for d in later.documents] == ["AAPL:2023Q1"]


async def test_default_start_is_the_last_calendar_quarter(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    server.route("/v1/transcripts/ACME/2025/Q3", Reply.ok((FIXTURES / "fmp_transcripts.json").read_bytes()))
    result = await source(server, "ACME", today=date(2025, 11, 20)).poll(client, SourceState())
    assert [d.key for d in result.documents] == ["ACME:2025Q3"]
    assert json.loads(result.documents[0].content)[0]["quarter"] == 3
    assert result.documents[0].published is not None and result.documents[0].published.day == 4


@pytest.mark.corpus
async def test_key_in_header_with_the_default_path(server: LocalServer, client: httpx.AsyncClient) -> None:
    server.route("/transcript?symbol=NVDA&year=2025&quarter=2", Reply.ok(corpus(NVDA), "application/json"))
    spec = TranscriptsSpec(
        name="calls",
        base_url=server.base_url,
        tickers=("NVDA",),
        start="2025Q2",
        api_key_in="header",
        api_key_name="X-Api-Key",
    )
    result = await TranscriptsSource(spec).poll(client, SourceState())
    assert [d.key for d in result.documents] == ["NVDA:2025Q2"]
    first = server.requests[0]
    assert first.headers["x-api-key"] == SECRET and SECRET not in first.target


async def test_missing_key_is_named_not_shown(
    server: LocalServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRANSCRIPTS_API_KEY")
    with pytest.raises(SourceError, match="TRANSCRIPTS_API_KEY is not set"):
        await source(server, "ACME").poll(client, SourceState())
    assert server.requests == []


FAULTS = [
    Reply.status(500, b'{"error": "boom"}'),
    Reply.status(401, b'{"error": "bad key"}'),
    Reply.status(429, headers={"Retry-After": "5"}),
    Reply.ok(b'{"text": "cut', "application/json"),
    Reply.ok(b'{"error": "quota"}', "application/json"),
    Reply.ok(b"late", delay=1.0),
    Reply.redirect("/v1/transcripts/ACME/2025/Q3"),
    Reply.reset(),
    Reply.huge(30 * 1024 * 1024),
]


@pytest.mark.parametrize("mode", ["query", "header"])
async def test_api_key_never_in_logs_or_errors(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for fault in FAULTS:
            server.route("/v1/transcripts/ACME/2025/Q3", fault)
            try:
                await source(server, "ACME", start="2025Q3", api_key_in=mode, timeout_seconds=0.5).poll(
                    client, SourceState()
                )
            except SourceError as err:
                messages.append(str(err))
                assert "source calls" in str(err)
    assert len(messages) == len(FAULTS)
    assert any("retry after 5s" in m for m in messages)
    logged = [r.getMessage() + " " + repr(r.__dict__) for r in caplog.records]
    assert logged, "the faults should have been logged"
    assert not any(SECRET in text for text in messages + logged)
