"""The sources: every kind's spec and source class, the config union, and the kind -> class registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from bot.errors import ConfigError
from bot.sources.base import FetchedDocument, PollResult, Source, SourceSpec, SourceState, Validator
from bot.sources.edgar import EdgarSource, EdgarSpec
from bot.sources.inbox import InboxSource, InboxSpec
from bot.sources.rss import RssSource, RssSpec
from bot.sources.transcripts import TranscriptsSource, TranscriptsSpec
from bot.sources.webpage import WebpageSource, WebpageSpec

SOURCE_KINDS: dict[str, type[SourceSpec]] = {
    "rss": RssSpec,
    "edgar": EdgarSpec,
    "transcripts": TranscriptsSpec,
    "webpage": WebpageSpec,
    "inbox": InboxSpec,
}

_SOURCE_CLASSES: dict[str, Callable[[Any], Source]] = {
    "rss": RssSource,
    "edgar": EdgarSource,
    "transcripts": TranscriptsSource,
    "webpage": WebpageSource,
    "inbox": InboxSource,
}

AnySourceSpec = Annotated[
    RssSpec | EdgarSpec | TranscriptsSpec | WebpageSpec | InboxSpec,
    Field(discriminator="kind"),
]


def build_source(spec: SourceSpec) -> Source:
    """The source object for a validated spec."""
    expected = SOURCE_KINDS.get(spec.kind)
    if expected is None or not isinstance(spec, expected):
        raise ConfigError(
            f"source {spec.name}: unknown source kind {spec.kind!r} (known: {', '.join(SOURCE_KINDS)})"
        )
    return _SOURCE_CLASSES[spec.kind](spec)


def default_specs(inbox: Path) -> list[SourceSpec]:
    """The embedded default: the inbox folder alone."""
    return [InboxSpec(name="inbox", path=inbox)]


__all__ = [
    "SOURCE_KINDS",
    "AnySourceSpec",
    "FetchedDocument",
    "PollResult",
    "Source",
    "SourceSpec",
    "SourceState",
    "Validator",
    "build_source",
    "default_specs",
]
