"""Reading the figures of one sentence: which metric each amount belongs to, and in what role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bot.extract.amounts import Amount
from bot.extract.metrics import MetricMention

Role = Literal["current", "change", "prior"]
Timeframe = Literal["yoy", "qoq"]


def _each(words: tuple[str, ...], rest: str) -> str:
    """The alternatives of `(?:w1|w2|...)rest`, written out: 'w1rest|w2rest|...'."""
    return "|".join(word + rest for word in words)


def _at_word_start(word: str) -> str:
    """`\\bword`, written with the first letter ahead of the boundary test ('w(?<=\\bw)ord')."""
    return f"{word[0]}(?<=\\b{word[0]}){word[1:]}"


# Year-over-year and quarter-over-quarter phrases; applied to lower-cased text (much faster than re.I).
# Every alternative starts with a letter (no group, no leading \b): the regex engine then skips straight to the
# positions where one can start, instead of trying them all at every position (four times faster).
COMPARED = ("versus", r"vs\.?", "compared (?:with|to)", "from")
SAME_PERIOD = ("same", "corresponding", "comparable")
YOY = re.compile(
    "|".join((
        "year[- ]over[- ]year", "year[- ]on[- ]year", _at_word_start(r"yoy\b"), _at_word_start(r"y/y\b"),
        _each(SAME_PERIOD, " (?:period|quarter)(?: of| in)?(?: the)? (?:last|prior|previous|a) year"),
        _each(SAME_PERIOD, r" (?:period|quarter) (?:of |in )?(?:fiscal )?(?:19|20)\d\d"),
        _each(tuple(_at_word_start(w) for w in ("last", "prior", "previous")), r" year\b"),
        "a year ago", "year[- ]ago", "prior[- ]year",
        _each(COMPARED, r" (?:the )?(?:first|second|third|fourth) quarter of (?:fiscal )?(?:last year|(?:19|20)\d\d)"),
        _at_word_start(r"annual(?:ly)?\b"),
    )),
)
QOQ = re.compile(
    "|".join((
        "quarter[- ](?:over|on)[- ]quarter", _at_word_start(r"q[- ]?(?:o|on)[- ]?q\b"), _at_word_start(r"q/q\b"),
        "sequential(?:ly)?",
        _each(tuple(_at_word_start(w) for w in ("last", "previous", "prior", "preceding", "the fourth", "the third")),
              r" quarter\b"),
        _each(COMPARED, " (?:the )?(?:prior|previous|preceding|last|sequential) quarter"),
    )),
)
# Patterns below without re.I are applied to the folded sentence (see `fold`) at an amount's offsets: as fast as
# lower-case patterns, and matching exactly where the same patterns with re.I match the sentence.
# A prior-period phrase right after an amount: "RMB1,052 million in the last quarter" (matched at the amount's end).
PRIOR_AFTER = re.compile(
    r"\W{0,3}(?:(?:in|for|during|at|from)\s)?(?:the\s)?(?:same\s(?:period|quarter)\s(?:of\s|in\s)?(?:the\s)?"
    r"(?:last|prior|previous)\s(?:year|fiscal\syear)|same\squarter\s(?:of\s)?last\syear|"
    r"(?:last|prior|previous|preceding)\s(?:quarter|year)|year[- ]ago\s(?:quarter|period)|a\syear\s(?:ago|earlier)|"
    r"prior[- ]year\s(?:quarter|period)|(?:q[1-4]|[1-4]q)\s?(?:fy)?(?:19|20)?\d\d|(?:fiscal\s)?(?:19|20)\d\d\b)",
)
PRIOR_BEFORE = re.compile(
    r"(?:\bfrom|\bcompared\s(?:with|to)|\bversus|\bvs\.?|\bup\sfrom|\bdown\sfrom|\bover|\brelative\sto|\bagainst)"
    r"\s(?:the\s)?(?:a\s)?(?:negative\s|positive\s|only\s)?$",
)
# Every PRIOR_BEFORE match ends with one of these words and at most 17 characters (" the a negative " and a
# newline; 18 after "vs."): a text without one in its last 24 characters ("against" and 17) has no match.
PRIOR_BEFORE_WORD = re.compile(r"from|with|to|vs|versus|over|against")
PRIOR_BEFORE_WORD_WITHIN = 24
CHANGE_VERB = re.compile(
    r"(?:increas\w*|decreas\w*|grew|grow(?:n|th|ing|s)?|up|down|rose|ris(?:e|en|ing)|fell|fall(?:en|ing)?|"
    r"declin\w*|improv\w*|expan\w*|contract\w*|drop\w*|jump\w*|surg\w*|climb\w*|gain\w*|widen\w*|"
    r"reduc\w*|lower|higher|soar\w*|advanc\w*|slipp?\w*|shr[iu]nk\w*|plunge\w*|change\w*)"
    r"\s(?:(?:of|by|approximately|about|roughly|nearly|over|more\sthan|almost|around|some|significantly|"
    r"sharply|strongly|a|an|just|only)\s){0,3}$",
)
CHANGE_FILLER_WORDS = frozenset((
    "of", "by", "approximately", "about", "roughly", "nearly", "over", "more", "than", "almost", "around", "some",
    "significantly", "sharply", "strongly", "a", "an", "just", "only",
))  # the words of CHANGE_VERB's fillers
CHANGE_NOUN_AFTER = re.compile(  # matched at an amount's end
    r"\s?(?:(?:year[- ]over[- ]year|yoy|y/y|sequential|quarter[- ]over[- ]quarter|q/q|qoq|organic|annual)\s)?"
    r"(?:increase|decrease|growth|decline|rise|improvement|drop|gain|jump|reduction|expansion|contraction|"
    r"higher|lower|up|down)\b",
)
NEGATIVE_CHANGE = re.compile(
    r"decreas|declin|fell|fall|down|drop|reduc|lower|contract|slip|shr[iu]nk|plunge|decline", re.I
)
SHARE_CUE = re.compile(
    r"(?:accounting for|accounted for|contribut\w+|representing|made up|share of|(?:reached|was|were|at)\s*$)", re.I
)
SHARE_AFTER = re.compile(r"^\s*of\s(?:our\s|the\s)?(?:total\s|overall\s)?(?P<of>[\w -]{0,30}?)revenues?", re.I)
CURRENT_AFTER = re.compile(r"\W{0,3}(?:this|in the|for the|during the) (?:quarter|period|year)\b")  # at an end
CARRIED_CHANGE = re.compile(  # the whole text between two amounts
    r"[\s,]*(?:(?:year[- ]over[- ]year|yoy|sequentially|quarter[- ]over[- ]quarter|from (?:the )?(?:last|prior|"
    r"previous) (?:quarter|year))[\s,]*)?(?:(?:growth|increase|decrease|decline|rise)[\s,]*)?(?:and|or)\s+"
    r"(?:by\s)?",
)
PRIOR_BEFORE_LONGEST = 32  # no PRIOR_BEFORE match is longer ("compared with the a negative " and a newline)
BY_CHANGE = re.compile(r"\b(?:increas|decreas|grew|rose|fell|declin|improv|reduc|up|down)\w*\s+by\s+$", re.I)
FOLLOWING_OWNER = re.compile(r"\s(?:in|of|from)\s(?:[\w-]+\s){0,2}", re.I)
PER_SHARE_AFTER = re.compile(r"\s?(?:per|a)\s(?:basic\s|diluted\s|fully\sdiluted\s)?(?P<what>share|ads|adr)\b")
RESPECTIVELY = re.compile(r"\brespectively\b", re.I)
SIC = re.compile(r"\(sic\b[^)]*\)", re.I)
BRACKETED = re.compile(r"\[[^\]]*\d[^\]]*\]")
TO_BEFORE = re.compile(r"\bto\s(?:the\s)?(?:a\s)?(?:positive\s)?$", re.I)
GREW = re.compile(r"\bgrew|\bgrowth\b", re.I)
# str.lower maps each character as re.I compares it, except these: re.I also takes "ı" (dotless i) and "İ" (dotted
# capital I) for "i", and "ſ" (long s) for "s"; and "İ".lower() is two characters long.
FOLD_EXCEPTIONS = str.maketrans({"\u0131": "i", "\u0130": "i", "\u017f": "s"})


@dataclass(slots=True)
class Reading:
    """One amount read in a sentence: the metric it belongs to and its role."""

    mention: MetricMention
    amount: Amount
    role: Role
    timeframe: Timeframe | None = None
    share_of: str | None = None
    direction_word: str | None = None


@dataclass(slots=True)
class SentenceReading:
    readings: list[Reading] = field(default_factory=list)
    doubtful: list[tuple[int, int]] = field(default_factory=list)


def fold(text: str, low: str) -> str:
    """`text` lower-cased so that patterns without re.I match it where, with re.I, they match `text`.

    Its offsets are the text's. `low` is text.lower(), which is that unless the text has one of FOLD_EXCEPTIONS.
    """
    if len(low) == len(text) and "\u0131" not in low and "\u017f" not in low:
        return low
    return text.translate(FOLD_EXCEPTIONS).lower()


class Frames:
    """The year-over-year and quarter-over-quarter phrases of one sentence, found once."""

    __slots__ = ("_found", "_text")

    def __init__(self, text: str, low: str) -> None:
        self._text = low if len(low) == len(text) else text
        self._found: list[tuple[int, int, Timeframe]] | None = None

    def first(self, spans: tuple[tuple[int, int], ...]) -> Timeframe | None:
        """The timeframe of the first phrase within the first of `spans` (lo, hi) that has one."""
        found = self._found if self._found is not None else self._find()
        if found:
            for lo, hi in spans:
                for start, end, tf in found:
                    if start >= lo and end <= hi:
                        return tf
        return None

    def _find(self) -> list[tuple[int, int, Timeframe]]:
        low = self._text
        found: list[tuple[int, int, Timeframe]] = []
        if "year" in low or "y/y" in low or "yoy" in low or "annual" in low:
            found = [(m.start(), m.end(), "yoy") for m in YOY.finditer(low)]
        if "q" in low:  # every QOQ phrase has a "q" ("quarter", "sequential", "q/q")
            found += [(m.start(), m.end(), "qoq") for m in QOQ.finditer(low)]
        found.sort()
        self._found = found
        return found


class _Left:
    """The text just before an amount (60 characters at most), and the change verb it ends with, found once."""

    __slots__ = ("_searched", "_verb", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._verb: re.Match[str] | None = None
        self._searched = False

    def verb(self) -> re.Match[str] | None:
        if not self._searched:
            self._verb = _change_verb(self.text)
            self._searched = True
        return self._verb


def _change_verb(left: str) -> re.Match[str] | None:
    """CHANGE_VERB in the lower-cased `left`, searched only from the word its verb can be in.

    A match is a verb, one whitespace and at most three fillers (six words: "more than" is two), each followed by
    one whitespace, up to the end: the verb is in the word before the trailing filler words, at most the seventh
    from the end.
    """
    if not left[-1:].isspace():
        return None  # a match ends with a whitespace (or "$" before a last newline, a whitespace too)
    low = left.lower()
    words = low.rsplit(None, 7)
    n = 1  # the verb can be in the n-th word from the end, or before only if that one is a filler
    while n < len(words) and n < 7 and words[-n] in CHANGE_FILLER_WORDS:
        n += 1
    return CHANGE_VERB.search(low, len(low.rsplit(None, n)[0]) if n < len(words) else 0)


def _ends_with_by(left: str) -> bool:
    """What BY_CHANGE needs at its end, tested without a regex ("... increased by ")."""
    return left[-1:].isspace() and left.rstrip()[-2:].lower() == "by"


def read_sentence(text: str, found: list[Amount], mentions: list[MetricMention]) -> SentenceReading:
    """Assign each amount in a sentence to a metric mention with a role (current value, change, prior).

    `found` are the sentence's amounts and `mentions` its metric mentions.
    """
    result = SentenceReading()
    low = text.lower()
    doubtful = result.doubtful
    if "[" in text or "(sic" in low:
        for pattern in (SIC, BRACKETED):
            doubtful.extend((m.start(), m.end()) for m in pattern.finditer(text))
    amounts = [a for a in found if a.high is None and not (doubtful and _in_sic_note(a, text, doubtful))]
    if not amounts:
        return result
    if not mentions:
        return result
    if "espectively" in text and RESPECTIVELY.search(text) and _respectively(text, mentions, amounts, result):
        return result
    folded = fold(text, low)
    frames = Frames(text, low)
    taken: set[tuple[str, Role, str | None]] = set()
    n, n_text = len(amounts), len(text)
    prev_role: Role | None = None
    prev_direction: str | None = None
    for i, amount in enumerate(amounts):
        start, end = amount.start, amount.end
        prev_end = amounts[i - 1].end if i else 0  # the text before the amount is text[prev_end:start]
        stop = amounts[i + 1].start if i + 1 < n else n_text
        if stop < end:
            stop = end  # the text after the amount is text[end:stop]
        left = _Left(text[start - 60 if start > 60 else 0 : start])
        role = _role(amount, left, folded, stop)
        carried = prev_role == "change" and amount.kind == amounts[i - 1].kind
        if carried and CARRIED_CHANGE.fullmatch(folded, prev_end, start):
            role = "change"
        prev_role = role
        mention = (amount.kind == "money" and _per_share(mentions, amount, folded, stop)) or _owner(
            mentions, amount, role, text)
        if mention is None:
            continue
        timeframe: Timeframe | None = None
        share_of: str | None = None
        if role == "prior":
            timeframe = frames.first(((end, min(stop, end + 70)), (end, n_text), (0, n_text)))
        elif role == "change":
            timeframe = frames.first(
                ((end, min(stop, end + 90)), (end, n_text), (mention.start, start), (0, mention.start)))
        elif amount.kind == "percent" and mention.kind in ("money", "any"):
            cue = SHARE_CUE.search(text[mention.end : start])
            share = SHARE_AFTER.match(text[end:stop])
            if not cue and not share:
                continue
            share_of = (share.group("of").strip() or "total") if share else "total"
        direction = _direction(left, text, folded, end, stop) if role == "change" else None
        if role == "change" and direction is None and CARRIED_CHANGE.fullmatch(folded, prev_end, start):
            direction = prev_direction
        prev_direction = direction
        slot = (mention.key + ("/share" if share_of else ""), role, timeframe)
        if slot in taken:
            continue
        taken.add(slot)
        result.readings.append(Reading(mention, amount, role, timeframe, share_of, direction))
    return result


def _direction(left: _Left, text: str, folded: str, end: int, stop: int) -> str | None:
    verb = left.verb()
    if verb:
        return verb.group(0).split()[0]
    noun = CHANGE_NOUN_AFTER.match(folded, end, stop)
    return text[noun.start() : noun.end()].split()[-1] if noun else None


def _in_sic_note(a: Amount, text: str, spans: list[tuple[int, int]]) -> bool:
    """Figures inside a '(sic ...)' note are the transcriber's, not the speaker's."""
    return any(s <= a.start and a.end <= e and text[s : s + 4].lower() == "(sic" for s, e in spans)


def _role(amount: Amount, left: _Left, folded: str, stop: int) -> Role:
    """The amount's role, from the text before it (`left`) and after it (folded[amount.end:stop])."""
    kind = amount.kind
    start = amount.start
    # PRIOR_BEFORE at the end of folded[:start] ("... compared with "), searched only where a match can be (a
    # negative start position is taken as 0).
    if (
        PRIOR_BEFORE_WORD.search(folded, start - PRIOR_BEFORE_WORD_WITHIN, start) is not None
        and PRIOR_BEFORE.search(folded, start - PRIOR_BEFORE_LONGEST, start) is not None
        and not TO_BEFORE.search(left.text)
        and (not GREW.search(left.text[-25:]) or kind != "percent")
    ):
        return "prior"
    if (
        kind != "pp" and PRIOR_AFTER.match(folded, amount.end, stop)
        and not CURRENT_AFTER.match(folded, amount.end, stop) and not left.verb()
    ):
        return "prior"
    if kind in ("pp", "bps"):
        return "change"
    if kind == "money" and _ends_with_by(left.text) and BY_CHANGE.search(left.text):
        return "change"  # "increased by $0.06 to $0.43": an absolute change, not the value
    if kind == "percent" and (left.verb() or CHANGE_NOUN_AFTER.match(folded, amount.end, stop)):
        return "change"
    return "current"


def _owner(mentions: list[MetricMention], amount: Amount, role: Role, text: str) -> MetricMention | None:
    """The nearest metric mention before the amount that can take it; else one just after it."""
    start = amount.start
    if role == "change" or amount.kind in ("pp", "bps"):
        points = amount.kind in ("pp", "bps")  # these prefer the nearest percent metric ("margin")
        nearest: MetricMention | None = None
        for m in reversed(mentions):
            if m.end <= start:
                if not points or m.kind == "percent":
                    return m
                if nearest is None:
                    nearest = m
        return nearest
    kind = amount.kind
    if kind == "multiple":
        return None  # only a change can be a multiple
    kinds = _owner_kinds(amount, role)
    for m in reversed(mentions):
        if m.end <= start and (kinds is None or m.kind in kinds):
            return m
    if kind != "money":
        return None
    for m in mentions:
        if m.start >= amount.end and m.kind == "money" and FOLLOWING_OWNER.fullmatch(text[amount.end : m.start]):
            return m
    return None


def _owner_kinds(amount: Amount, role: Role) -> tuple[str, ...] | None:
    """The mention kinds that can take a money, percent or number amount that is not a change (None: all)."""
    if amount.kind == "money":
        # A per-share figure is never written in millions or billions.
        return ("money", "any") if amount.scale_written else ("money", "any", "per_share")
    if amount.kind == "percent":
        return None if role == "current" else ("percent", "any")
    return ("count", "any")


def _per_share(mentions: list[MetricMention], amount: Amount, folded: str, stop: int) -> MetricMention | None:
    """'net income was $35.4 million or $0.94 per diluted share': the per-share figure is EPS."""
    if amount.kind != "money":
        return None
    m = PER_SHARE_AFTER.match(folded, amount.end, stop)
    if not m:
        return None
    before = [x for x in mentions if x.end <= amount.start]
    if before and before[-1].kind == "per_share":
        return None
    basis = before[-1].basis if before else None
    negative = bool(before and before[-1].negative)
    ads = m.group("what") != "share"
    key, name = ("eps_ads", "Earnings per ADS") if ads else ("eps", "EPS")
    if basis == "adjusted":
        key, name = f"adjusted_{key}", f"Adjusted {name}"
    return MetricMention(key, name, "per_share", amount.end, m.end(), basis, negative)


def _respectively(
    text: str, mentions: list[MetricMention], amounts: list[Amount], result: SentenceReading
) -> bool:
    """'A and B were X and Y, respectively': pair mentions and amounts in order."""
    money = [a for a in amounts if a.kind == "money"]
    owners = [m for m in mentions if m.kind == "money" and (not money or m.end <= money[0].start)]
    if len(money) < 2 or len(owners) != len(money):
        return False
    for mention, amount in zip(owners, money, strict=True):
        result.readings.append(Reading(mention, amount, "current"))
    return True


def change_sign(reading: Reading) -> float:
    """+1 or -1 for a stated change, from the verb that introduces it."""
    word = reading.direction_word or ""
    return -1.0 if NEGATIVE_CHANGE.search(word) else 1.0
