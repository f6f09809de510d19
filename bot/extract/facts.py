"""Per-sentence facts (amounts, metric mentions, cue words) computed once and shared by figures and guidance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

from bot.extract.amounts import Amount, find_amounts
from bot.extract.metrics import Catalogue, MetricMention, find_mentions
from bot.extract.sentences import Sentence, sentences_containing


class Facts:
    """A cache of what each sentence contains, keyed by the sentence's offsets."""

    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self._amounts: dict[tuple[int, int, str | None], list[Amount]] = {}
        self._mentions: dict[tuple[int, int], list[MetricMention]] = {}

    def amounts(self, s: Sentence, currency: str | None) -> list[Amount]:
        key = (s.start, s.end, currency)
        found = self._amounts.get(key)
        if found is None:
            found = self._amounts[key] = find_amounts(s.text, currency)
        return found

    def mentions(self, s: Sentence) -> list[MetricMention]:
        key = (s.start, s.end)
        found = self._mentions.get(key)
        if found is None:
            found = self._mentions[key] = find_mentions(s.text, self.cat)
        return found


@overload
def sentences_with(text: str, sentences: Sequence[Sentence], words: Iterable[str], /) -> set[int]: ...


@overload
def sentences_with(
    text: str, sentences: Sequence[Sentence], words: Iterable[str], more: Iterable[str], /, *rest: Iterable[str]
) -> tuple[set[int], ...]: ...


def sentences_with(
    text: str, sentences: Sequence[Sentence], *word_lists: Iterable[str]
) -> set[int] | tuple[set[int], ...]:
    """Positions (in `sentences`) of the sentences containing any of `words`, case-insensitively.

    Given several word lists, one such set per list: they are found together, in one set of passes over the document.
    """
    found = sentences_containing(text, sentences, [tuple(words) for words in word_lists])
    return found[0] if len(found) == 1 else tuple(found)
