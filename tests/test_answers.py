"""The command engine's answers to every query form, against a real Store on SQLite holding small reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.commands import find_metric, parse
from bot.digest.answers import CachedStore, answer
from bot.digest.model import Answer
from bot.errors import StoreError
from bot.models import Period
from bot.store import Store
from tests.reports import COMPANIES, KC_Q1_2024, OUTLOOK, REPORTS, CountingStore, metric, open_store, report


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    async with open_store(sqlite_url, REPORTS) as opened:
        yield opened


async def ask(store: Store, text: str, channel: str | None = "C0CHANNEL1") -> Answer:
    return await answer(parse(text), store, companies=COMPANIES, platform="slack", channel=channel)


# --------------------------------------------------------------------------- one figure


@pytest.mark.parametrize(("text", "key", "value", "period"), [
    ("KC revenue", "revenue", "RMB1.8B", "Q1 2024"),
    ("kc total revenues", "revenue", "RMB1.8B", "Q1 2024"),
    ("kingsoft cloud revenue", "revenue", "RMB1.8B", "Q1 2024"),
    ("Kingsoft Cloud Holdings sales", "revenue", "RMB1.8B", "Q1 2024"),
    ("KC adjusted ebitda margin", "adjusted_ebitda_margin", "2.2%", "Q1 2024"),
    ("KC adj. ebitda margin", "adjusted_ebitda_margin", "2.2%", "Q1 2024"),
    ("KC ebitda margin", "adjusted_ebitda_margin", "2.2%", "Q1 2024"),
    ("KC gross margin", "gross_margin", "15.0%", "Q1 2024"),
    ("KC adjusted gross margin", "adjusted_gross_margin", "16.0%", "Q1 2024"),
    ("KC non-GAAP gross margin", "adjusted_gross_margin", "16.0%", "Q1 2024"),
    ("KC capex", "capex", "RMB1.2B", "Q1 2024"),
    ("KC capex Q4 2023", "capex", "RMB600.0M", "Q4 2023"),
    ("KC capex 4Q23", "capex", "RMB600.0M", "Q4 2023"),
    ("KC AI revenue", "ai_revenue", "RMB150.0M", "Q1 2024"),
])
async def test_figure_answers_name_the_figure_its_period_and_value(
    store: Store, text: str, key: str, value: str, period: str
) -> None:
    result = await ask(store, text)
    assert result.ok, result.title
    (line,) = result.figures
    assert (line.key, line.value) == (key, value)
    assert period in result.title and "Kingsoft Cloud (KC)" in result.title


async def test_figure_answer_carries_change_prior_check_quote_and_link(store: Store) -> None:
    result = await ask(store, "KC adjusted ebitda margin")
    (line,) = result.figures
    assert line.change is not None and "9pp YoY" in line.change
    assert line.prior is not None and "-6.8%" in line.prior
    assert line.verified is True
    assert line.quote.startswith("Adjusted EBITDA margin came in at") and line.speaker == "Jane Roe"
    assert result.url == "https://ir.example.test/KC/2024q1"
    assert result.source_label is not None and "Q1 2024" in result.source_label


async def test_asking_for_a_basis_the_report_lacks_says_so(store: Store) -> None:
    result = await ask(store, "KC GAAP ebitda margin")
    assert result.ok and result.figures[0].key == "adjusted_ebitda_margin"
    assert any("No GAAP figure" in line for line in result.lines)


# --------------------------------------------------------------------------- digest, guidance, history, compare


@pytest.mark.parametrize("text", ["KC", "kc", "kingsoft cloud", "Kingsoft Cloud Holdings Ltd", "/earnings KC"])
async def test_company_alone_answers_its_latest_digest(store: Store, text: str) -> None:
    result = await ask(store, text)
    assert result.ok and result.digest is not None
    assert result.digest.title == "Kingsoft Cloud (KC) · Q1 2024 earnings call"
    assert [f.key for f in result.digest.headline][:2] == ["revenue", "adjusted_gross_margin"]


async def test_company_and_period_answers_that_periods_digest(store: Store) -> None:
    result = await ask(store, "KC Q4 2023")
    assert result.digest is not None and result.digest.title == "Kingsoft Cloud (KC) · Q4 2023 earnings release"


async def test_guidance_lists_the_outlook_with_its_quote(store: Store) -> None:
    result = await ask(store, "KC guidance")
    assert result.ok and "Outlook" in result.title
    (line,) = result.outlook
    assert line.text == OUTLOOK.text and line.quote == OUTLOOK.quote and line.kind == "qualitative"


@pytest.mark.parametrize(("text", "count"), [
    ("KC gross margin guidance", 1),
    ("KC gross_margin outlook", 1),
    ("KC revenue guidance", 0),
])
async def test_guidance_about_one_figure(store: Store, text: str, count: int) -> None:
    result = await ask(store, text)
    assert result.ok and len(result.outlook) == count
    assert count or result.lines == ("No guidance or outlook about revenue in Q1 2024 earnings call (transcript).",)


async def test_guidance_of_a_company_without_any_says_so(store: Store) -> None:
    result = await ask(store, "BIDU outlook")
    assert result.ok and not result.outlook and "No guidance" in result.lines[0]


async def test_history_is_a_table_newest_first(store: Store) -> None:
    result = await ask(store, "KC revenue history")
    assert result.ok and result.table is not None
    assert result.table.columns[:2] == ("Period", "Total revenues")
    assert [(row[0], row[1]) for row in result.table.rows] == [
        ("Q1 2024", "RMB1.8B"), ("Q4 2023", "RMB1,756.1M"), ("Q3 2023", "RMB1.6B")]


async def test_history_notes_periods_without_the_figure(store: Store) -> None:
    result = await ask(store, "KC capex history")
    assert result.table is not None and [row[0] for row in result.table.rows] == ["Q1 2024", "Q4 2023"]
    assert result.lines == ("1 stored period(s) without this figure.",)


@pytest.mark.parametrize("text", [
    "compare KC BIDU revenue",
    "KC vs BIDU revenue",
    "compare kingsoft cloud, baidu revenue",
])
async def test_compare_puts_companies_side_by_side(store: Store, text: str) -> None:
    result = await ask(store, text)
    assert result.ok and result.table is not None
    assert [(row[0], row[2]) for row in result.table.rows] == [
        ("Kingsoft Cloud (KC)", "RMB1.8B"), ("Baidu (BIDU)", "RMB31.5B")]


async def test_compare_marks_a_company_without_the_figure(store: Store) -> None:
    result = await ask(store, "compare KC BIDU capex")
    assert result.table is not None
    assert [row[2] for row in result.table.rows] == ["RMB1.2B", "not reported"]


# --------------------------------------------------------------------------- did you mean


@pytest.mark.parametrize(("text", "title", "suggestions"), [
    ("KC ebita", 'No metric "ebita" for KC. Did you mean: Adjusted EBITDA, Adjusted EBITDA margin?',
     ("Adjusted EBITDA", "Adjusted EBITDA margin")),
    ("KC capx", 'No metric "capx" for KC. Did you mean: Capex?', ("Capex",)),
    ("kingsoft clod", 'No company "kingsoft clod". Did you mean: Kingsoft Cloud (KC)?', ("Kingsoft Cloud (KC)",)),
    ("BIDUU revenue", 'No company "BIDUU". Did you mean: Baidu (BIDU)?', ("Baidu (BIDU)",)),
    ("compare KC BIDUU revenue", 'No company "BIDUU". Did you mean: Baidu (BIDU)?', ("Baidu (BIDU)",)),
])
async def test_unknown_names_answer_with_suggestions(
    store: Store, text: str, title: str, suggestions: tuple[str, ...]
) -> None:
    result = await ask(store, text)
    assert (result.ok, result.title, result.suggestions) == (False, title, suggestions)
    assert not result.shareable


@pytest.mark.parametrize(("text", "fragment"), [
    ("KC capex Q2 2022", "No Q2 2022 report for Kingsoft Cloud (KC). The store has: Q1 2024, Q4 2023, Q3 2023."),
    ("KC wibble wobble", 'No metric "wibble wobble" for KC in Q1 2024. It reports: Total revenues'),
    ("compare KC revenue", "Name two or more companies"),
    ("compare KC BIDU", "Say which figure to compare"),
    ("KC history", "Say which figure"),
    ("ZZZZ", 'No company "ZZZZ". Try "help" for examples.'),
])
async def test_questions_it_cannot_answer_say_what_is_missing(store: Store, text: str, fragment: str) -> None:
    result = await ask(store, text)
    assert not result.ok and fragment in result.title


async def test_a_configured_company_without_reports_says_so(sqlite_url: str) -> None:
    empty = await Store.open(sqlite_url)
    try:
        result = await ask(empty, "KC revenue")
    finally:
        await empty.close()
    assert (result.ok, result.title) == (False, "No reports for Kingsoft Cloud (KC) yet.")


# --------------------------------------------------------------------------- watchlists and help


async def test_watch_unwatch_and_watchlist_are_per_channel(store: Store) -> None:
    assert (await ask(store, "watch KC")).title == "Now watching Kingsoft Cloud (KC) here."
    assert (await ask(store, "watch kc")).title == "Kingsoft Cloud (KC) was already watched here."
    assert (await ask(store, "watch baidu")).ok
    listed = await ask(store, "watchlist")
    assert listed.title == "This channel watches 2 companies" and set(listed.lines) == {
        "Kingsoft Cloud (KC)", "Baidu (BIDU)"}
    assert (await ask(store, "watchlist", channel="C0OTHER01")).title == "This channel watches no companies yet."
    assert (await ask(store, "unwatch KC")).title == "Stopped watching Kingsoft Cloud (KC) here."
    assert (await ask(store, "unwatch KC")).title == "Kingsoft Cloud (KC) was not watched here."
    assert await store.watchlist("slack", "C0CHANNEL1") == ["BIDU"]


@pytest.mark.parametrize(("text", "fragment"), [
    ("watch", "Name a company to watch"),
    ("watch KCX", 'No company "KCX"'),
])
async def test_watch_needs_a_known_company(store: Store, text: str, fragment: str) -> None:
    result = await ask(store, text)
    assert not result.ok and fragment in result.title


async def test_watch_outside_a_channel_is_refused(store: Store) -> None:
    result = await ask(store, "watch KC", channel=None)
    assert not result.ok and "channel" in result.title


async def test_help_lists_every_form(store: Store) -> None:
    result = await ask(store, "help")
    text = "\n".join(result.lines)
    for form in ("KC revenue", "KC guidance", "KC revenue history", "compare KC BIDU revenue", "watch KC", "watchlist"):
        assert form in text
    assert not result.shareable


# --------------------------------------------------------------------------- metric choice


@pytest.mark.parametrize(("text", "key"), [
    ("revenue", "revenue"),
    ("gross margin", "gross_margin"),
    ("adjusted gross margin", "adjusted_gross_margin"),
    ("gaap gross margin", "gross_margin"),
    ("adjusted ebitda", "adjusted_ebitda"),
    ("ebitda", "adjusted_ebitda"),
    ("ai revenue", "ai_revenue"),
    ("AI revenue", "ai_revenue"),
    ("operating income", None),
])
def test_find_metric_prefers_the_basis_said(text: str, key: str | None) -> None:
    found = find_metric(KC_Q1_2024, text)
    assert (found.key if found else None) == key


def test_full_year_figures_are_chosen_for_a_full_year_question() -> None:
    quarter = metric("revenue", "Total revenues", 2_000.0e6)
    year = metric("revenue", "Total revenues", 7_000.0e6, period="FY2023")
    q4 = report("KC", "Kingsoft Cloud", 2023, 4, (year, quarter))
    assert find_metric(q4, "revenue") == quarter
    assert find_metric(q4, "revenue", Period(fiscal_year=2023)) == year


# --------------------------------------------------------------------------- the read cache


async def test_a_burst_of_commands_shares_one_read_per_ticker(store: Store) -> None:
    counting = CountingStore(store)
    cached = CachedStore(counting)
    counting.gate.clear()
    pending = [asyncio.create_task(answer(parse(t), cached, companies=COMPANIES, platform="slack", channel="C1"))
               for t in ["KC revenue", "KC capex", "KC", "BIDU revenue"] * 10]
    await asyncio.sleep(0.05)
    counting.gate.set()
    results = await asyncio.gather(*pending)
    assert all(r.ok for r in results)
    assert sorted(counting.reads) == ["companies", "latest BIDU", "latest KC"]


async def test_cached_reads_expire_and_failures_are_not_kept(store: Store) -> None:
    counting = CountingStore(store)
    cached = CachedStore(counting, ttl=0.05)
    counting.fail_next = True
    with pytest.raises(StoreError):
        await cached.latest_report("KC")
    assert (await cached.latest_report("KC")) == KC_Q1_2024
    assert (await cached.latest_report("KC")) == KC_Q1_2024
    await asyncio.sleep(0.06)
    assert (await cached.latest_report("KC")) == KC_Q1_2024
    assert counting.reads == ["latest KC"] * 3


async def test_a_cancelled_command_does_not_cancel_the_read_others_wait_for(store: Store) -> None:
    counting = CountingStore(store)
    cached = CachedStore(counting)
    counting.gate.clear()
    first = asyncio.create_task(cached.latest_report("KC"))
    second = asyncio.create_task(cached.latest_report("KC"))
    await asyncio.sleep(0.01)
    first.cancel()
    counting.gate.set()
    assert await second == KC_Q1_2024 and counting.reads == ["latest KC"]


async def test_watchlists_are_never_cached(store: Store) -> None:
    counting = CountingStore(store)
    cached = CachedStore(counting)
    await cached.watch("slack", "C1", "KC")
    assert await cached.watchlist("slack", "C1") == ["KC"]
    await cached.unwatch("slack", "C1", "KC")
    assert await cached.watchlist("slack", "C1") == []
    assert counting.reads == ["watchlist", "watchlist"]
