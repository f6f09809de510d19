"""Fast phrase lookup: alias patterns expanded into word sequences and matched token by token."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator
from typing import Generic, NamedTuple, TypeVar, cast

T = TypeVar("T")

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’-]*[A-Za-z0-9&]|[A-Za-z0-9]")
MAX_EXPANSIONS = 96
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# A token (see TOKEN) starts at the first letter or digit of a run of token characters [a-z0-9&'’-] and ends at
# the run's last letter, digit or "&". In lower-cased text with a space in front, LEAD comes before a token (a
# non-token character, then only "-&'’") and END after it (the end of its run, or only "-'’" till then).
LEAD, END = r"[^a-z0-9&'’-][-&'’]*+", r"(?![-'’]*[a-z0-9&])"  # ("*+": a word never starts with "-&'’")
# ASCII text is searched as bytes in which every non-token character is a space (bytes.translate is cheap): a
# regex that starts with a literal space is found much faster than one that starts with a character class.
# SPACED_GAP goes from the end of a token to the start of the next.
SPACED_LEAD, SPACED_END, SPACED_GAP = r" [-&']*+", r"(?![-']*[a-z0-9&])", r"[-']* [^a-z0-9]*"
SPACED = bytes(
    ord(c.lower()) if c.lower() in string.ascii_lowercase + string.digits + "&'-" else 32 for c in map(chr, range(256))
)


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


class Hit(NamedTuple, Generic[T]):
    start: int
    end: int
    payload: T


def _trie(words: dict[str, str]) -> str:
    """A regex for each word followed by its own pattern, sharing common prefixes (much faster than a flat list).

    The options are in no particular order: what follows a word must decide whether it matches (END: the word is
    the whole token), and the regex backtracks to try the other words.
    """
    by_first: dict[str, dict[str, str]] = {}
    options: list[str] = []
    for word, then in words.items():
        if word:
            by_first.setdefault(word[0], {})[word[1:]] = then
        else:
            options.append(then)
    options.extend(re.escape(c) + _trie(rest) for c, rest in by_first.items())
    if not options:
        return "(?!)"  # matches nothing
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"


class _Node:
    """Phrases that share their first words: the words that may come next, and the phrase that ends here.

    Not generic and not a dataclass: mypyc (see setup.py) cannot compile a generic dataclass.
    """

    __slots__ = ("ends", "following", "payload")

    def __init__(self) -> None:
        self.following: dict[str, _Node] = {}
        self.ends = False
        self.payload: object = None


class PhraseIndex(Generic[T]):
    """Word sequences matched like the tokens they are made of: the longest phrase at each token, left to right.

    One regex finds the tokens a phrase can start with; the words after one are then looked up in a trie.
    """

    def __init__(self, phrases: Iterable[tuple[str, T]]) -> None:
        root: _Node = _Node()
        for phrase, payload in phrases:
            node = root
            for word in TOKEN.findall(phrase):
                node = node.following.setdefault(word.lower(), _Node())
            if node is not root and not node.ends:  # the first of two equal phrases wins
                node.ends, node.payload = True, payload
        self._firsts = root.following
        # The text is searched with a space in front, so that a token at its very start has a lead too.
        self._text = re.compile(LEAD + "(?P<at>)" + _trie(dict.fromkeys(root.following, "")) + END)
        # The ASCII regex also skips a word that is no phrase by itself unless a word that can come next follows
        # (most are not): a cheap test in the regex that spares most look-ups. (Its character classes are ASCII:
        # in the other regex, that is many classes with "’", slow to compile.)
        spaced = {
            w: SPACED_END if node.ends else f"(?={SPACED_GAP}{_trie(dict.fromkeys(node.following, ''))})"
            for w, node in root.following.items()
        }
        self._spaced = re.compile((SPACED_LEAD + "(?P<at>)" + _trie(spaced)).encode())

    def find(self, text: str, folded: str | None = None) -> list[Hit[T]]:
        """Every phrase in the text, left to right, non-overlapping (folded: text.lower(), if known)."""
        found: Iterator[re.Match[str]] | Iterator[re.Match[bytes]]
        if text.isascii():
            low = text.lower() if folded is None else folded
            found = self._spaced.finditer((" " + text).encode().translate(SPACED))
        else:
            # Only two letters have a lower case that is longer or ASCII ('İ' is "i̇", the Kelvin sign "k"), which
            # would move offsets or make tokens; text.translate() is the slow way round them.
            low = text.translate(ASCII_LOWER) if "\u0130" in text or "\u212a" in text else text.lower()
            found = self._text.finditer(" " + low)
        out: list[Hit[T]] = []
        after = 0
        firsts, token_search = self._firsts, TOKEN.search
        for m in found:
            start = m.start(1) - 1  # offsets in the searched text are one more than in the text
            if start < after:  # inside the phrase just found
                continue
            # The longest phrase starting with the token low[start:end].
            end = m.end() - 1
            node = firsts[low[start:end]]
            best, best_end = (node, end) if node.ends else (None, 0)
            while node.following:
                # The next token: after a token's end, the first letter or digit starts the next one.
                token = token_search(low, end)
                if token is None or (following := node.following.get(token.group())) is None:
                    break
                node, end = following, token.end()
                if node.ends:
                    best, best_end = node, end
            if best is not None:
                out.append(Hit(start, best_end, cast(T, best.payload)))
                after = best_end
        return out
