"""Crash safety: `earnings-bot poll --once` killed with SIGKILL at each step, then restarted; every release
reaches the outbox exactly once. Run as a script, this file is the driver process (hook point: CRASH_AT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import release_text, rss_feed
from httpserver import LocalServer, Reply

HERE = Path(__file__).resolve()
QUARTERS = (1, 2, 3)
ROUTES = ("slack:C-EARNINGS", "console:stdout")

# Where the driver kills itself, in pipeline order, and what the database holds at that moment.
CRASH_POINTS = {
    "after_fetch": 0,  # the source returned its documents; nothing stored yet
    "mid_ingest": 1,  # the second document's row is written, its outbox rows not yet committed
    "after_ingest": 2,  # the second document committed with its outbox rows; the rest not yet
    "before_state": 3,  # every document stored; the source's new state not yet saved
}


def _install_crash_hook(point: str) -> None:
    """Patch the running code so the process SIGKILLs itself at `point` (no cleanup, like a power cut)."""
    from bot.sources.rss import RssSource
    from bot.store import Store
    from bot.store import ingest as ingest_module

    def die() -> None:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "after_fetch":
        real_poll = RssSource.poll

        async def poll(self, client, state):  # type: ignore[no-untyped-def]
            await real_poll(self, client, state)
            die()

        RssSource.poll = poll  # type: ignore[method-assign]
    elif point == "mid_ingest":
        real_queue = ingest_module._queue
        calls = Counter[str]()

        async def queue(conn, event_id, document_id, *args):  # type: ignore[no-untyped-def]
            calls[str(document_id)] += 1
            if len(calls) == 2:  # inside the second document's transaction
                die()
            return await real_queue(conn, event_id, document_id, *args)

        ingest_module._queue = queue
    elif point == "after_ingest":
        real_ingest = Store.ingest
        done = 0

        async def ingest(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal done
            result = await real_ingest(self, *args, **kwargs)
            done += 1
            if done == 2:
                die()
            return result

        Store.ingest = ingest  # type: ignore[method-assign]
    elif point == "before_state":
        real_finish = Store.finish_poll

        async def finish_poll(self, source, owner, *, state, error, next_poll_at):  # type: ignore[no-untyped-def]
            if state is not None:
                die()
            await real_finish(self, source, owner, state=state, error=error, next_poll_at=next_poll_at)

        Store.finish_poll = finish_poll  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown CRASH_AT {point!r}")


def _driver() -> int:
    from bot.cli import main

    point = os.environ.get("CRASH_AT")
    if point:
        _install_crash_hook(point)
    return main(["poll", "--once"])


# --------------------------------------------------------------------------- the tests


def _config(tmp_path: Path, feed_url: str) -> Path:
    routes = "\n".join(f"  - platform: {r.split(':')[0]}\n    target: {r.split(':')[1]}" for r in ROUTES)
    path = tmp_path / "bot.yaml"
    path.write_text(
        f"sources:\n  - name: acme-news\n    kind: rss\n    url: {feed_url}\n    tickers: [ACME]\nroutes:\n{routes}\n",
        encoding="utf-8",
    )
    return path


def _run(url: str, config: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    # The same replica restarting (REPLICA_ID is stable): it takes its own unexpired lease back at once.
    env = {**os.environ, "DATABASE_URL": url, "BOT_CONFIG": str(config), "LOG_LEVEL": "WARNING"}
    env["REPLICA_ID"] = "crash-test-replica"
    env.pop("CRASH_AT", None)
    if crash_at is not None:
        env["CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, str(HERE)], env=env, cwd=config.parent, capture_output=True, text=True, timeout=120
    )


async def _outbox(url: str) -> tuple[int, list[tuple[int, str, str]], tuple[str, ...]]:
    from bot.store import Store

    store = await Store.open(url)
    try:
        documents = sum(len(e.documents) for e in await store.events())
        rows = [(d.document_id, d.platform, d.target) for d in await store.deliveries(limit=1000)]
        state = await store.load_state("acme-news")
        return documents, rows, state.seen
    finally:
        await store.close()


@pytest.mark.parametrize("crash_at", list(CRASH_POINTS))
async def test_killed_poll_then_restart_queues_every_release_exactly_once(
    store_url: str, tmp_path: Path, crash_at: str
) -> None:
    with LocalServer() as server:
        entries = []
        for q in QUARTERS:
            body = release_text("Acme Widgets, Inc.", "ACME", 2024, q, 100.0 + 10 * q)
            server.route(f"/acme-q{q}.txt", Reply.ok(body, "text/plain"))
            entries.append((f"acme-2024-q{q}", server.url(f"/acme-q{q}.txt"), f"Acme Q{q} 2024"))
        server.route("/feed.xml", Reply.ok(rss_feed(entries[::-1]), "application/rss+xml"))
        config = _config(tmp_path, server.url("/feed.xml"))

        crashed = _run(store_url, config, crash_at)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        documents, rows, seen = await _outbox(store_url)
        assert (documents, seen) == (CRASH_POINTS[crash_at], ())  # died where intended, state not advanced
        assert len(rows) == documents * len(ROUTES)  # never a document without its outbox rows

        restarted = _run(store_url, config, None)
        assert restarted.returncode == 0, restarted.stderr
        assert "acme-news: ok" in restarted.stdout

    documents, rows, seen = await _outbox(store_url)
    assert documents == len(QUARTERS)
    assert sorted(seen) == sorted(e[0] for e in entries)  # saved now: the next poll emits nothing again
    assert len(rows) == len(QUARTERS) * len(ROUTES)
    assert Counter(rows).most_common(1)[0][1] == 1  # each (document, target) exactly once
    assert {f"{platform}:{target}" for _, platform, target in rows} == set(ROUTES)


if __name__ == "__main__":
    raise SystemExit(_driver())
