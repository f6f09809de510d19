"""Per-sentence facts (amounts, metric mentions, cue words) computed once and shared by figures and guidance."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from bot.extract.amounts import Amount, find_amounts
from bot.extract.metrics import Catalogue, MetricMention, find_mentions
from bot.extract.sentences import Sentence


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


def sentences_with(text: str, sentences: Sequence[Sentence], words: Iterable[str]) -> set[int]:
    """Positions (in `sentences`) of the sentences containing any of `words`, case-insensitively.

    One lower-casing of the document and a `str.find` scan per word: far cheaper than a regex per sentence.
    """
    low = text.lower()
    if len(low) != len(text):
        return {i for i, s in enumerate(sentences) if any(w in s.text.lower() for w in words)}
    starts = [s.start for s in sentences]
    hits: set[int] = set()
    for word in words:
        at = low.find(word)
        while at >= 0:
            i = bisect_right(starts, at) - 1
            if i >= 0 and at < sentences[i].end:
                hits.add(i)
            at = low.find(word, at + 1)
    return hits
