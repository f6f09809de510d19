"""The outbox dispatcher with SlackSink against the fake Slack server and a real Store on SQLite:
threads and updates, rate limits, server errors, crashes between post and record, permanent failures."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from fakeslack import BOT_TOKEN, FakeSlack

from bot.config import Route
from bot.delivery import Dispatcher
from bot.digest.model import Digest
from bot.errors import DeliveryError
from bot.models import Document, Report
from bot.platforms.slack import SlackSink, web_client
from bot.sources.base import FetchedDocument
from bot.store import DeliveryItem, Store
from tests.reports import KC_Q1_2024, metric

CHANNEL = "C0DIGEST1"
ROUTES = (Route(platform="slack", target=CHANNEL),)


class Crash(BaseException):
    """The process dying: not an Exception, so nothing in the dispatcher catches it."""


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """The `store` fixture (conftest) on SQLite only."""
    return sqlite_url


def sink(slack: FakeSlack, *, fresh_window: float = 120.0, base_url: str | None = None) -> SlackSink:
    return SlackSink(web_client(BOT_TOKEN, base_url or slack.api_url), fresh_window=fresh_window)


async def ingest(store: Store, report: Report, *, key: str = "call", text: str | None = None,
                 routes: tuple[Route, ...] = ROUTES) -> None:
    body = text or f"{key}: " + " ".join(m.quote for m in report.metrics)
    fetched = FetchedDocument(source="test", key=key, url=report.url, content=body.encode(), ticker=report.ticker)
    await store.ingest(fetched, Document(text=body, kind=report.kind, format="text"), report, routes)


def header(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


async def test_a_new_event_is_one_post_with_its_figures_in_the_thread(store: Store, slack: FakeSlack) -> None:
    await ingest(store, KC_Q1_2024)
    dispatcher = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    assert await dispatcher.run_once() == 1
    (post,) = slack.top_level(CHANNEL)
    assert header(post) == "Kingsoft Cloud (KC) · Q1 2024 earnings call"
    assert post["metadata"] == {"event_type": "earnings_digest",
                                "event_payload": {"delivery_id": 1, "event_id": 1, "part": 0}}
    thread = "\n".join(str(b) for m in slack.replies(CHANNEL, post["ts"]) for b in m["blocks"])
    for m in KC_Q1_2024.metrics:
        assert m.quote in thread
    (sent,) = await store.deliveries(state="sent")
    assert sent.external_id == post["ts"]
    assert await dispatcher.run_once() == 0
    assert len(slack.top_level(CHANNEL)) == 1


async def test_a_later_document_replies_in_the_thread_and_updates_the_parent(store: Store, slack: FakeSlack) -> None:
    dispatcher = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    await ingest(store, KC_Q1_2024)
    await dispatcher.run_once()
    release = KC_Q1_2024.model_copy(update={"kind": "press_release", "metrics": (
        *KC_Q1_2024.metrics, metric("net_income", "Net income", -50.0e6))})
    await ingest(store, release, key="release")
    assert await dispatcher.run_once() == 1
    (parent,) = slack.top_level(CHANNEL)
    replies = slack.replies(CHANNEL, parent["ts"])
    updates = [r for r in replies if r["blocks"][0]["type"] == "header"]
    assert len(updates) == 1 and updates[0]["blocks"][1]["elements"][0]["text"] == "Update: Press release"
    assert "edited" in parent and header(parent) == "Kingsoft Cloud (KC) · Q1 2024 earnings release"
    assert parent["blocks"][1]["elements"][0]["text"].startswith("Updated with the Press release")
    kinds = [(d.kind, d.state) for d in await store.deliveries()]
    assert sorted(kinds) == [("event_update", "sent"), ("new_event", "sent")]


async def test_a_revision_is_broadcast_from_the_thread(store: Store, slack: FakeSlack) -> None:
    dispatcher = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    await ingest(store, KC_Q1_2024, key="release-1", text="first text")
    await dispatcher.run_once()
    corrected = KC_Q1_2024.model_copy(update={"metrics": KC_Q1_2024.metrics[:-1]})
    await ingest(store, corrected, key="release-1", text="corrected text")
    assert await dispatcher.run_once() == 1
    head = [c for c in slack.calls("chat.postMessage") if c.body.get("reply_broadcast")]
    assert len(head) == 1 and head[0].body["blocks"][1]["elements"][0]["text"] == "Revised: Transcript"
    assert len(slack.top_level(CHANNEL)) == 1


async def test_429_waits_retry_after_then_posts_exactly_once(store: Store, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=1)
    await ingest(store, KC_Q1_2024)
    dispatcher = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    assert await dispatcher.run_once() == 0
    (row,) = await store.deliveries(state="pending")
    assert row.last_error is not None and "ratelimited" in row.last_error
    assert dispatcher.paused("slack")
    assert await dispatcher.run_once() == 0  # paused, and the row is not due yet
    await asyncio.sleep(1.1)
    assert await dispatcher.run_once() == 1
    assert len(slack.top_level(CHANNEL)) == 1


async def test_a_rate_limit_pauses_the_platform_for_the_other_rows(store: Store, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=30)
    await ingest(store, KC_Q1_2024, routes=(Route(platform="slack", target="C0AAAAAA1"),
                                            Route(platform="slack", target="C0BBBBBB2")))
    assert await Dispatcher(store, {"slack": sink(slack)}, "replica-a").run_once() == 0
    assert len(slack.calls("chat.postMessage")) == 1


async def test_500_is_retried_and_posts_once(store: Store, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=500)
    await ingest(store, KC_Q1_2024)
    assert await Dispatcher(store, {"slack": sink(slack)}, "replica-a").run_once() == 1
    assert len(slack.top_level(CHANNEL)) == 1
    parents = [c for c in slack.calls("chat.postMessage") if "thread_ts" not in c.body]
    assert len(parents) == 2


async def test_a_crash_between_post_and_record_does_not_post_twice(
    store: Store, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ingest(store, KC_Q1_2024)
    real_mark_sent = store.mark_sent

    async def crash(delivery_id: int, external_id: str | None) -> None:
        raise Crash

    monkeypatch.setattr(store, "mark_sent", crash)
    with pytest.raises(Crash):
        await Dispatcher(store, {"slack": sink(slack, fresh_window=0.2)}, "replica-a", claim_ttl=0.2).run_once()
    posted = slack.posted(CHANNEL)
    monkeypatch.setattr(store, "mark_sent", real_mark_sent)
    await asyncio.sleep(0.3)  # the dead replica's claim expires

    assert await Dispatcher(store, {"slack": sink(slack, fresh_window=0.2)}, "replica-b").run_once() == 1
    assert slack.posted(CHANNEL) == posted
    assert slack.calls("conversations.history") and slack.calls("conversations.replies")
    (row,) = await store.deliveries(state="sent")
    assert row.external_id == slack.top_level(CHANNEL)[0]["ts"]


async def test_a_failure_mid_thread_resumes_with_only_the_missing_parts(store: Store, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=1, after=1)  # the parent goes out, its thread does not
    await ingest(store, KC_Q1_2024)
    dispatcher = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    assert await dispatcher.run_once() == 0
    (parent,) = slack.top_level(CHANNEL)
    assert slack.replies(CHANNEL, parent["ts"]) == []
    await asyncio.sleep(1.1)
    assert await dispatcher.run_once() == 1
    assert slack.top_level(CHANNEL) == [parent]
    assert len(slack.replies(CHANNEL, parent["ts"])) == 1


async def test_without_history_access_the_check_is_skipped_and_the_post_goes_out(
    store: Store, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail("conversations.history", error="missing_scope")
    await ingest(store, KC_Q1_2024)
    with caplog.at_level(logging.WARNING):
        assert await Dispatcher(store, {"slack": sink(slack, fresh_window=0.0)}, "replica-a").run_once() == 1
    assert len(slack.top_level(CHANNEL)) == 1 and len(slack.calls("conversations.history")) == 1
    assert "cannot check C0DIGEST1 for an earlier post of delivery 1 (missing_scope)" in caplog.text


@pytest.mark.parametrize(("error", "reason"), [
    ("channel_not_found", "slack chat.postMessage to C0DIGEST1: channel_not_found (check the channel id"),
    ("not_in_channel", "slack chat.postMessage to C0DIGEST1: not_in_channel (invite the app"),
    ("is_archived", "slack chat.postMessage to C0DIGEST1: is_archived"),
    ("account_inactive", "slack chat.postMessage to C0DIGEST1: account_inactive"),
    ("invalid_auth", "slack chat.postMessage to C0DIGEST1: invalid_auth (check SLACK_BOT_TOKEN)"),
])
async def test_permanent_errors_are_recorded_with_the_reason_and_not_retried(
    store: Store, slack: FakeSlack, error: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail("chat.postMessage", error=error)
    await ingest(store, KC_Q1_2024)
    dispatcher = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    with caplog.at_level(logging.DEBUG):
        assert await dispatcher.run_once() == 0
    (row,) = await store.deliveries(state="failed")
    assert row.last_error is not None and row.last_error.startswith(reason)
    assert await dispatcher.run_once() == 0 and len(slack.calls("chat.postMessage")) == 1
    assert BOT_TOKEN not in caplog.text and BOT_TOKEN not in row.last_error


async def test_a_wrong_token_is_a_permanent_failure(store: Store, slack: FakeSlack) -> None:
    await ingest(store, KC_Q1_2024)
    wrong = SlackSink(web_client("xoxb-wrong", slack.api_url))
    assert await Dispatcher(store, {"slack": wrong}, "replica-a").run_once() == 0
    (row,) = await store.deliveries(state="failed")
    assert row.last_error is not None and "invalid_auth" in row.last_error and "xoxb" not in row.last_error


async def test_a_target_that_is_not_a_channel_id_fails_permanently(store: Store, slack: FakeSlack) -> None:
    await ingest(store, KC_Q1_2024, routes=(Route(platform="slack", target="#earnings"),))
    assert await Dispatcher(store, {"slack": sink(slack)}, "replica-a").run_once() == 0
    (row,) = await store.deliveries(state="failed")
    assert row.last_error is not None and "'#earnings' is not a channel id" in row.last_error
    assert slack.calls("chat.postMessage") == []


async def test_an_unreachable_slack_is_a_transient_failure(store: Store, slack: FakeSlack) -> None:
    await ingest(store, KC_Q1_2024)
    dead = sink(slack, base_url="http://127.0.0.1:9/api/")
    assert await Dispatcher(store, {"slack": dead}, "replica-a").run_once() == 0
    (row,) = await store.deliveries(state="pending")
    assert row.last_error is not None and "connection failed" in row.last_error and row.attempts == 1


async def test_two_replicas_never_send_the_same_row(store: Store, slack: FakeSlack) -> None:
    slack.delay["chat.postMessage"] = 0.05
    await ingest(store, KC_Q1_2024)
    a = Dispatcher(store, {"slack": sink(slack)}, "replica-a")
    b = Dispatcher(store, {"slack": sink(slack)}, "replica-b")
    assert sum(await asyncio.gather(a.run_once(), b.run_once())) == 1
    assert len(slack.top_level(CHANNEL)) == 1


class Broken:
    """A sink with a bug: raises something that is not a DeliveryError."""

    platform = "slack"

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def send(self, item: DeliveryItem, digest: Digest) -> str | None:
        self.seen.append(item.id)
        raise RuntimeError(f"bug with {digest.title}")


async def test_a_bug_on_one_row_is_recorded_and_the_rest_go_on(store: Store) -> None:
    await ingest(store, KC_Q1_2024, routes=(Route(platform="slack", target="C0AAAAAA1"),
                                            Route(platform="slack", target="C0BBBBBB2")))
    broken = Broken()
    assert await Dispatcher(store, {"slack": broken}, "replica-a").run_once() == 0
    assert broken.seen == [1, 2]
    rows = await store.deliveries(state="pending")
    assert [r.last_error for r in rows] == ["internal error: RuntimeError"] * 2


async def test_run_forever_delivers_until_stopped(store: Store, slack: FakeSlack) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(store, {"slack": sink(slack)}, "replica-a").run_forever(stop, interval=0.05))
    await ingest(store, KC_Q1_2024)
    await slack.wait_for(lambda: slack.top_level(CHANNEL))
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(slack.top_level(CHANNEL)) == 1


async def test_a_throttled_teams_webhook_does_not_hold_back_the_others() -> None:
    """A 429 from one Workflows webhook pauses that webhook only; Slack-style sinks pause the platform."""
    class Store:
        def __init__(self) -> None:
            self.failed: list[int] = []
            self.sent: list[int] = []

        async def pending_deliveries(self, platform: str | None = None, limit: int = 50) -> list[object]:
            return [item for item in ITEMS if item.id not in self.failed + self.sent]

        async def claim_delivery(self, delivery_id: int, owner: str, ttl: float) -> bool:
            return True

        async def mark_failed(self, delivery_id: int, error: str, *, permanent: bool, retry_at: object) -> None:
            self.failed.append(delivery_id)

        async def mark_sent(self, delivery_id: int, external_id: str | None) -> None:
            self.sent.append(delivery_id)

    class Sink:
        platform = "teams"
        limited_per_target = True

        def __init__(self) -> None:
            self.calls: list[str] = []

        async def send(self, item: object, digest: object) -> str | None:
            target = item.target  # type: ignore[attr-defined]
            self.calls.append(target)
            if target == "HOOK_A":
                raise DeliveryError("throttled", retry_after=60)
            return None

    report = Report(kind="transcript")
    ITEMS = [SimpleNamespace(id=i, platform="teams", target=t, event_id=1, ticker=None, report=report)
             for i, t in ((1, "HOOK_A"), (2, "HOOK_A"), (3, "HOOK_B"))]
    store, sink = Store(), Sink()
    dispatcher = Dispatcher(store, {"teams": sink}, "me")  # type: ignore[arg-type]
    assert await dispatcher.run_once() == 1
    assert sink.calls == ["HOOK_A", "HOOK_B"]  # the second row for HOOK_A waits, HOOK_B goes out
    assert dispatcher.paused("teams", "HOOK_A") and not dispatcher.paused("teams", "HOOK_B")
