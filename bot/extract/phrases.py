"""Fast phrase lookup: alias patterns expanded into word sequences and matched token by token."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’-]*[A-Za-z0-9&]|[A-Za-z0-9]")
MAX_EXPANSIONS = 96


class _Unexpandable(Exception):
    pass


def _parse_alternation(s: str, i: int) -> tuple[list[str], int]:
    options: list[str] = []
    seq, i = _parse_sequence(s, i)
    options.extend(seq)
    while i < len(s) and s[i] == "|":
        seq, i = _parse_sequence(s, i + 1)
        options.extend(seq)
    return options, i


def _parse_sequence(s: str, i: int) -> tuple[list[str], int]:
    results = [""]
    while i < len(s) and s[i] not in "|)":
        atom, i = _parse_atom(s, i)
        if i < len(s) and s[i] == "?":
            atom = ["", *atom]
            i += 1
        if i < len(s) and s[i] in "*+{":
            raise _Unexpandable
        results = [r + a for r in results for a in atom]
        if len(results) > MAX_EXPANSIONS:
            raise _Unexpandable
    return results, i


def _parse_atom(s: str, i: int) -> tuple[list[str], int]:
    c = s[i]
    if c == "(":
        if not s.startswith("(?:", i):
            raise _Unexpandable
        options, i = _parse_alternation(s, i + 3)
        if i >= len(s) or s[i] != ")":
            raise _Unexpandable
        return options, i + 1
    if c == "[":
        end = s.index("]", i)
        chars = s[i + 1 : end]
        if not chars or "\\" in chars or chars.startswith("^") or re.search(r"\w-\w", chars):
            raise _Unexpandable
        return list(chars), end + 1
    if c == "\\":
        nxt = s[i + 1]
        if nxt == "s":
            return [" "], i + 2
        if nxt.isalnum():
            raise _Unexpandable
        return [nxt], i + 2
    if c in ".^$":
        raise _Unexpandable
    return [c], i + 1


def expand(alias: str) -> list[str] | None:
    """Every literal phrase an alias pattern matches, or None when it is not a small finite set."""
    try:
        options, i = _parse_alternation(alias, 0)
    except (_Unexpandable, ValueError, IndexError):
        return None
    if i != len(alias):
        return None
    return sorted({" ".join(o.split()) for o in options if o.strip()})


def tokens(text: str) -> list[re.Match[str]]:
    return list(TOKEN.finditer(text))


@dataclass(frozen=True, slots=True)
class Hit(Generic[T]):
    start: int
    end: int
    payload: T


class PhraseIndex(Generic[T]):
    """Word sequences indexed by their first word; finds the longest phrase at each word, left to right."""

    def __init__(self, phrases: Iterable[tuple[str, T]]) -> None:
        index: dict[str, list[tuple[tuple[str, ...], T]]] = {}
        for phrase, payload in phrases:
            words = tuple(w.lower() for w in TOKEN.findall(phrase))
            if words:
                index.setdefault(words[0], []).append((words, payload))
        for entries in index.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._index = index

    def find(self, text: str, toks: list[re.Match[str]] | None = None) -> list[Hit[T]]:
        toks = toks if toks is not None else tokens(text)
        words = [t.group(0).lower() for t in toks]
        out: list[Hit[T]] = []
        i, n = 0, len(words)
        while i < n:
            entries = self._index.get(words[i])
            matched = 0
            if entries:
                for phrase, payload in entries:
                    k = len(phrase)
                    if i + k <= n and tuple(words[i : i + k]) == phrase:
                        out.append(Hit(toks[i].start(), toks[i + k - 1].end(), payload))
                        matched = k
                        break
            i += matched or 1
        return out
