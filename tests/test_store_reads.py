"""Store reads on SQLite and PostgreSQL: each event's best report for the status page, and the companies
known to the store for chat answers."""

from __future__ import annotations

import pytest
from test_store import ROUTES, doc_and_report, fetched, metric

from bot.store import Store


async def test_event_reports_gives_each_events_best_current_report(store: Store) -> None:
    figures = (metric("revenue", 1.0e9), metric("eps", 1.0))
    release, report = doc_and_report("Revenue was 1.0 billion.", metrics=figures)
    first = await store.ingest(fetched("newswire", "kc-q1"), release, report, ROUTES)
    thin, call = doc_and_report("Operator: welcome.", kind="transcript", metrics=(metric("revenue", 1.0e9),))
    await store.ingest(fetched("transcripts", "kc-q1-call"), thin, call, ROUTES)

    original, adbe = doc_and_report("Adobe revenue 5.0 billion.", ticker="ADBE", company="Adobe Inc.")
    other = await store.ingest(fetched("rss", "adbe-q1", ticker="ADBE"), original, adbe, ROUTES)
    fixed_doc, fixed = doc_and_report(
        "Adobe revenue 5.1 billion (corrected).",
        ticker="ADBE",
        company="Adobe Inc.",
        metrics=(metric("revenue", 5.1e9),),
    )
    await store.ingest(fetched("rss", "adbe-q1", ticker="ADBE"), fixed_doc, fixed, ROUTES)

    best = await store.event_reports([first.event_id, other.event_id, 9999])
    assert best == {first.event_id: report, other.event_id: fixed}  # the richer release; the correction
    assert await store.event_reports([]) == {}


@pytest.mark.parametrize(
    ("stored", "known"),
    [
        ([("KC", "Kingsoft Cloud"), ("KC", "Kingsoft Cloud Holdings")], [("KC", "Kingsoft Cloud Holdings")]),
        ([("KC", None), ("KC", "Kingsoft Cloud")], [("KC", "Kingsoft Cloud")]),
        ([("KC", "Kingsoft Cloud"), ("KC", None)], [("KC", "Kingsoft Cloud")]),
        ([("ADBE", "Adobe Inc."), ("ADBE", "Adobe Inc."), ("ADBE", "Adobe Inc.")], [("ADBE", "Adobe Inc.")]),
        ([(None, "Kingsoft Cloud Ltd"), ("KC", "Kingsoft Cloud")], [("KC", "Kingsoft Cloud")]),
        ([(None, "Linklogis Inc."), (None, "Linklogis")], [(None, "Linklogis")]),
        ([("KC", "Kingsoft Cloud"), (None, "Linklogis")], [("KC", "Kingsoft Cloud"), (None, "Linklogis")]),
        ([], []),
    ],
)
async def test_companies_one_per_ticker_with_its_latest_name_then_names_alone(
    store: Store, stored: list[tuple[str | None, str | None]], known: list[tuple[str | None, str | None]]
) -> None:
    for quarter, (ticker, company) in enumerate(stored, start=1):  # one event per quarter, oldest first
        document, report = doc_and_report(f"doc {quarter}", ticker=ticker, company=company, year=2020 + quarter)
        await store.ingest(fetched("rss", f"e{quarter}", ticker=None), document, report, ROUTES)
    assert await store.companies() == known
