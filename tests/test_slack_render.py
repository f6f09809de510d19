"""Block Kit rendering: document text made inert, Slack's limits kept, everything said somewhere."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fakeslack import check_blocks

from bot.digest.model import Answer, Digest, FigureLine, OutlookLine, Table
from bot.digest.slack import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    SHARE_ACTION,
    SlackMessage,
    escape,
    link,
    render_answer,
    render_digest,
    render_thread,
)

EVIL = "<!channel> <@U123> <http://evil|x> & *bold*"
ZW = "\u200b"
WJ = "\u2060"


@pytest.mark.parametrize(("raw", "expected"), [
    ("plain words", "plain words"),
    ("R&D", "R&amp;D"),
    ("a < b > c", "a &lt; b &gt; c"),
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here|here>", "&lt;!here|here&gt;"),
    ("<@U123>", "&lt;@U123&gt;"),
    ("<#C123|general>", "&lt;#C123|general&gt;"),
    ("<http://evil|x>", f"&lt;http:{WJ}//evil|x&gt;"),
    ("see https://evil.test/x", f"see https:{WJ}//evil.test/x"),
    ("www.evil.test", f"www{WJ}.evil.test"),
    ("@channel look", f"@{WJ}channel look"),
    ("@Here and @everyone", f"@{WJ}Here and @{WJ}everyone"),
    ("email me@here.test", "email me@here.test"),
    ("*bold*", f"*{ZW}bold*{ZW}"),
    ("_it_ ~st~ `code`", f"_{ZW}it_{ZW} ~{ZW}st~{ZW} `{ZW}code`{ZW}"),
    ("&amp;", "&amp;amp;"),
    (EVIL, f"&lt;!channel&gt; &lt;@U123&gt; &lt;http:{WJ}//evil|x&gt; &amp; *{ZW}bold*{ZW}"),
])
def test_escape(raw: str, expected: str) -> None:
    assert escape(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("*KC*", "*KC*"),
    ("<!channel>", "&lt;!channel&gt;"),
    ("`help`", "`help`"),
])
def test_escape_keeping_formatting(raw: str, expected: str) -> None:
    assert escape(raw, formatting=False) == expected


@pytest.mark.parametrize(("url", "label", "expected"), [
    ("https://ir.example.test/q1", "Transcript", "<https://ir.example.test/q1|Transcript>"),
    ("https://x.test/a?b=1&c=2", "Release", "<https://x.test/a?b=1&amp;c=2|Release>"),
    ("https://x.test/a|b>c", "R", "<https://x.test/a%7Cb%3Ec|R>"),
    ("https://x.test/", "<!channel> | x", "<https://x.test/|&lt;!channel&gt; ¦ x>"),
    ("javascript:alert(1)", "Release", "Release"),
    ("ftp://x.test/file", "File", "File"),
    (None, "Transcript", "Transcript"),
])
def test_links_only_to_http(url: str | None, label: str, expected: str) -> None:
    assert link(url, label) == expected


def _texts(node: Any) -> list[str]:
    """Every string a message shows (text fields, fallback), recursively."""
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in (_texts(v) if k != "url" else [])]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return [node] if isinstance(node, str) else []


def _mrkdwn_texts(message: SlackMessage) -> list[str]:
    """The texts Slack parses: mrkdwn text objects and the fallback (plain_text is shown as is)."""
    found: list[str] = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.blocks)
    return found


def fig(i: int, quote: str = "Revenue was RMB1.8 billion.", **kw: Any) -> FigureLine:
    base: dict[str, Any] = {"key": f"m{i}", "label": f"Metric {i}", "value": f"RMB{i}.0M", "change": "▲ 3.1% QoQ",
                            "trend": "up", "quote": quote, "speaker": "Jane Roe", "verified": True}
    base.update(kw)
    return FigureLine(**base)


def digest(*, figures: int = 6, outlook: int = 2, quote: str = "Revenue was RMB1.8 billion.", **kw: Any) -> Digest:
    lines = tuple(fig(i, quote) for i in range(figures))
    base: dict[str, Any] = {
        "title": "Kingsoft Cloud (KC) · Q1 2024 earnings call", "company": "Kingsoft Cloud", "ticker": "KC",
        "period": "Q1 2024", "source_label": "Transcript", "url": "https://ir.example.test/kc/q1",
        "headline": lines[:8], "figures": lines,
        "outlook": tuple(OutlookLine(text=f"Outlook {i}", quote=quote, kind="qualitative", speaker="Jane Roe",
                                     where="Jane Roe, Q&A") for i in range(outlook)),
        "warnings": ("Enterprise cloud: the text says an increase; the figures show a decrease.",),
        "footer": "Transcript · 6 figures, 6 arithmetic-checked ✓ · 1 warning · figures and quotes in thread",
    }
    base.update(kw)
    return Digest(**base)


def test_digest_post_layout() -> None:
    message = render_digest(digest())
    kinds = [b["type"] for b in message.blocks]
    assert kinds == ["header", "section", "section", "section", "context"]
    assert message.blocks[0]["text"] == {"type": "plain_text", "text": "Kingsoft Cloud (KC) · Q1 2024 earnings call",
                                         "emoji": False}
    fields = message.blocks[1]["fields"]
    assert len(fields) == 6 and fields[0]["text"] == "*Metric 0*\nRMB0.0M  ▲ 3.1% QoQ"
    assert message.blocks[2]["text"]["text"] == (
        "*Outlook*\n• Outlook 0 _(Jane Roe, Q&amp;A)_\n• Outlook 1 _(Jane Roe, Q&amp;A)_")
    assert message.blocks[3]["text"]["text"].startswith("⚠ Enterprise cloud")
    footer = message.blocks[4]["elements"][0]["text"]
    assert footer == ("<https://ir.example.test/kc/q1|Transcript> · 6 figures, 6 arithmetic-checked ✓ · 1 warning"
                      " · figures and quotes in thread")
    assert message.text.startswith("Kingsoft Cloud (KC) · Q1 2024 earnings call: Metric 0 RMB0.0M (▲ 3.1% QoQ); ")
    assert check_blocks(message.blocks) is None


def test_update_note_sits_under_the_header() -> None:
    message = render_digest(digest(), note="Update: Press release")
    assert message.blocks[1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "Update: Press release", "verbatim": True}]}


def test_thread_has_every_figure_with_its_quote_and_the_outlook_quotes() -> None:
    d = digest(figures=12, outlook=3)
    thread = render_thread(d)
    text = "\n".join(t for m in thread for t in _texts(m.blocks))
    for i in range(12):
        assert f"*Metric {i}*  RMB{i}.0M  ▲ 3.1% QoQ  ✓ checked\n> Revenue was RMB1.8 billion.\n— Jane Roe" in text
    assert text.count("• Outlook") == 3 and "*Outlook, as said*" in text


@pytest.mark.parametrize(("figures", "outlook", "quote_len"), [
    (0, 0, 10), (1, 0, 10), (8, 3, 200), (60, 40, 400), (120, 10, 2500), (10, 80, 6000),
])
def test_every_message_stays_inside_slacks_limits(figures: int, outlook: int, quote_len: int) -> None:
    quote = ("word " * quote_len)[:quote_len]
    d = digest(figures=figures, outlook=outlook, quote=quote, title="T" * 400, warnings=("w" * 5000,) * 3)
    messages = [render_digest(d), *render_thread(d)]
    for m in messages:
        assert check_blocks(m.blocks) is None
        assert len(m.blocks) <= MAX_BLOCKS and len(m.text) <= MAX_FALLBACK
        assert len(json.dumps(m.blocks)) < 40_000
    shown = "\n".join(t for m in messages[1:] for t in _texts(m.blocks))
    assert all(f"*Metric {i}*" in shown for i in range(figures))


@pytest.mark.parametrize("where", ["quote", "label", "value", "speaker", "warning", "title", "outlook", "footer"])
def test_document_text_can_never_mention_or_link(where: str) -> None:
    line = fig(0, **{k: EVIL for k in ("quote", "label", "value", "speaker", "warning") if k == where})
    extra: dict[str, Any] = {}
    if where == "title":
        extra = {"title": EVIL, "source_label": EVIL}
    if where == "outlook":
        extra = {"outlook": (OutlookLine(text=EVIL, quote=EVIL, kind="numeric", speaker=EVIL, where=EVIL),)}
    if where == "footer":
        extra = {"footer": EVIL, "warnings": (EVIL,)}
    d = digest(figures=0).model_copy(update={"headline": (line,), "figures": (line,), **extra})
    messages = [render_digest(d), *render_thread(d)]
    messages.append(render_answer(Answer(title=EVIL, figures=(line,), lines=(EVIL,), source_label=EVIL,
                                         table=Table(columns=("A",), rows=((EVIL,),)))))
    for m in messages:
        for text in _mrkdwn_texts(m):
            assert not re.search(r"<[!@#]|<http://evil", text), text
            assert not re.search(r"(?<![\w&])@(channel|here|everyone)\b", text), text
            assert "*bold*" not in re.sub(r"```.*?```", "", text, flags=re.S)
    assert any("&lt;!channel&gt;" in t for m in messages for t in _mrkdwn_texts(m))


def test_answer_with_share_button() -> None:
    answer = Answer(title="Kingsoft Cloud (KC) · Q1 2024 · Adjusted EBITDA margin",
                    figures=(fig(1, prior="prior quarter -1.6%"),), source_label="Q1 2024 earnings call (transcript)",
                    url="https://ir.example.test/kc/q1")
    message = render_answer(answer, share="KC adjusted ebitda margin")
    assert message.blocks[0]["text"]["text"] == "*Kingsoft Cloud (KC) · Q1 2024 · Adjusted EBITDA margin*"
    assert message.blocks[1]["text"]["text"].startswith(
        "*Metric 1*  RMB1.0M  ▲ 3.1% QoQ  (prior quarter -1.6%)  ✓ checked\n> Revenue was")
    assert message.blocks[2]["elements"][0]["text"] == (
        "Source: <https://ir.example.test/kc/q1|Q1 2024 earnings call (transcript)>")
    button = message.blocks[-1]["elements"][0]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        SHARE_ACTION, "KC adjusted ebitda margin", "Share in channel")


@pytest.mark.parametrize(("answer", "share"), [
    (Answer(ok=False, title="No company", shareable=False), "ZZ"),
    (Answer(title="Help", shareable=False), "help"),
    (Answer(title="x"), None),
    (Answer(title="x"), "y" * 2001),
])
def test_no_share_button_when_not_shareable(answer: Answer, share: str | None) -> None:
    assert all(b["type"] != "actions" for b in render_answer(answer, share=share).blocks)


def test_shared_answer_credits_the_user_and_has_no_button() -> None:
    message = render_answer(Answer(title="x"), shared_by="U0ABC123")
    assert message.blocks[-1]["elements"][0]["text"] == "Shared by <@U0ABC123>"
    assert render_answer(Answer(title="x"), shared_by="<!channel>").blocks[-1]["type"] == "section"


def test_table_answer_is_an_aligned_code_block() -> None:
    table = Table(columns=("Period", "Total revenues", "Change"), rows=(("Q1 2024", "RMB1.8B", "▲ 2.5% QoQ"),
                                                                       ("Q4 2023", "RMB1,756.1M", "")))
    message = render_answer(Answer(title="Kingsoft Cloud (KC) · Total revenues by quarter", table=table))
    assert message.blocks[1]["text"]["text"] == (
        "```Period   Total revenues  Change\n"
        "-------  --------------  ----------\n"
        "Q1 2024  RMB1.8B         ▲ 2.5% QoQ\n"
        "Q4 2023  RMB1,756.1M```"
    )


def test_error_answer_shows_suggestions_in_its_title() -> None:
    message = render_answer(Answer(ok=False, title='No metric "ebita" for KC. Did you mean: Adjusted EBITDA?',
                                   suggestions=("Adjusted EBITDA",), shareable=False))
    assert message.blocks == [{"type": "section", "text": {
        "type": "mrkdwn", "verbatim": True,
        "text": '⚠ *No metric "ebita" for KC. Did you mean: Adjusted EBITDA?*'}}]
