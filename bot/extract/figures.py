"""Reading the figures of one sentence: which metric each amount belongs to, and in what role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bot.extract.amounts import Amount
from bot.extract.metrics import MetricMention

Role = Literal["current", "change", "prior"]
Timeframe = Literal["yoy", "qoq"]

# Year-over-year and quarter-over-quarter phrases; applied to lower-cased text (much faster than re.I).
YOY = re.compile(
    r"year[- ]over[- ]year|year[- ]on[- ]year|\byoy\b|\by/y\b|(?:same|corresponding|comparable) (?:period|quarter)"
    r"(?: of| in)?(?: the)? (?:last|prior|previous|a) year|(?:same|corresponding|comparable) (?:period|quarter)"
    r" (?:of |in )?(?:fiscal )?(?:19|20)\d\d|\b(?:last|prior|previous) year\b|a year ago|year[- ]ago|"
    r"prior[- ]year|(?:versus|vs\.?|compared (?:with|to)|from) (?:the )?(?:first|second|third|fourth) quarter of "
    r"(?:fiscal )?(?:last year|(?:19|20)\d\d)|\bannual(?:ly)?\b",
)
QOQ = re.compile(
    r"quarter[- ](?:over|on)[- ]quarter|\bq[- ]?(?:o|on)[- ]?q\b|\bq/q\b|sequential(?:ly)?|"
    r"\b(?:last|previous|prior|preceding|the fourth|the third) quarter\b|(?:versus|vs\.?|compared (?:with|to)|from) "
    r"(?:the )?(?:prior|previous|preceding|last|sequential) quarter",
)
# A prior-period phrase right after an amount: "RMB1,052 million in the last quarter".
PRIOR_AFTER = re.compile(
    r"^\W{0,3}(?:(?:in|for|during|at|from)\s)?(?:the\s)?(?:same\s(?:period|quarter)\s(?:of\s|in\s)?(?:the\s)?"
    r"(?:last|prior|previous)\s(?:year|fiscal\syear)|same\squarter\s(?:of\s)?last\syear|"
    r"(?:last|prior|previous|preceding)\s(?:quarter|year)|year[- ]ago\s(?:quarter|period)|a\syear\s(?:ago|earlier)|"
    r"prior[- ]year\s(?:quarter|period)|(?:Q[1-4]|[1-4]Q)\s?(?:FY)?(?:19|20)?\d\d|(?:fiscal\s)?(?:19|20)\d\d\b)",
    re.I,
)
PRIOR_BEFORE = re.compile(
    r"(?:\bfrom|\bcompared\s(?:with|to)|\bversus|\bvs\.?|\bup\sfrom|\bdown\sfrom|\bover|\brelative\sto|\bagainst)"
    r"\s(?:the\s)?(?:a\s)?(?:negative\s|positive\s|only\s)?$",
    re.I,
)
CHANGE_VERB = re.compile(
    r"(?:increas\w*|decreas\w*|grew|grow(?:n|th|ing|s)?|up|down|rose|ris(?:e|en|ing)|fell|fall(?:en|ing)?|"
    r"declin\w*|improv\w*|expan\w*|contract\w*|drop\w*|jump\w*|surg\w*|climb\w*|gain\w*|widen\w*|"
    r"reduc\w*|lower|higher|soar\w*|advanc\w*|slipp?\w*|shr[iu]nk\w*|plunge\w*|change\w*)"
    r"\s(?:(?:of|by|approximately|about|roughly|nearly|over|more\sthan|almost|around|some|significantly|"
    r"sharply|strongly|a|an|just|only)\s){0,3}$",
)
CHANGE_NOUN_AFTER = re.compile(
    r"^\s?(?:(?:year[- ]over[- ]year|yoy|y/y|sequential|quarter[- ]over[- ]quarter|q/q|qoq|organic|annual)\s)?"
    r"(?:increase|decrease|growth|decline|rise|improvement|drop|gain|jump|reduction|expansion|contraction|"
    r"higher|lower|up|down)\b",
    re.I,
)
NEGATIVE_CHANGE = re.compile(
    r"decreas|declin|fell|fall|down|drop|reduc|lower|contract|slip|shr[iu]nk|plunge|decline", re.I
)
SHARE_CUE = re.compile(
    r"(?:accounting for|accounted for|contribut\w+|representing|made up|share of|(?:reached|was|were|at)\s*$)", re.I
)
SHARE_AFTER = re.compile(r"^\s*of\s(?:our\s|the\s)?(?:total\s|overall\s)?(?P<of>[\w -]{0,30}?)revenues?", re.I)
CURRENT_AFTER = re.compile(r"^\W{0,3}(?:this|in the|for the|during the) (?:quarter|period|year)\b", re.I)
CARRIED_CHANGE = re.compile(
    r"[\s,]*(?:(?:year[- ]over[- ]year|yoy|sequentially|quarter[- ]over[- ]quarter|from (?:the )?(?:last|prior|"
    r"previous) (?:quarter|year))[\s,]*)?(?:(?:growth|increase|decrease|decline|rise)[\s,]*)?(?:and|or)\s+"
    r"(?:by\s)?",
    re.I,
)
PRIOR_BEFORE_LONGEST = 32  # no PRIOR_BEFORE match is longer ("compared with the a negative " and a newline)
BY_CHANGE = re.compile(r"\b(?:increas|decreas|grew|rose|fell|declin|improv|reduc|up|down)\w*\s+by\s+$", re.I)
FOLLOWING_OWNER = re.compile(r"\s(?:in|of|from)\s(?:[\w-]+\s){0,2}", re.I)
PER_SHARE_AFTER = re.compile(r"^\s?(?:per|a)\s(?:basic\s|diluted\s|fully\sdiluted\s)?(?P<what>share|ADS|ADR)\b", re.I)
RESPECTIVELY = re.compile(r"\brespectively\b", re.I)
SIC = re.compile(r"\(sic\b[^)]*\)", re.I)
BRACKETED = re.compile(r"\[[^\]]*\d[^\]]*\]")


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


class Frames:
    """The year-over-year and quarter-over-quarter phrases of one sentence, found once."""

    __slots__ = ("_found", "_text")

    def __init__(self, text: str) -> None:
        low = text.lower()
        self._text = low if len(low) == len(text) else text
        self._found: list[tuple[int, int, Timeframe]] | None = None

    def within(self, lo: int, hi: int) -> Timeframe | None:
        if self._found is None:
            low = self._text
            found: list[tuple[int, int, Timeframe]] = []
            if "year" in low or "y/y" in low or "yoy" in low or "annual" in low:
                found = [(m.start(), m.end(), "yoy") for m in YOY.finditer(low)]
            if "q" in low:  # every QOQ phrase has a "q" ("quarter", "sequential", "q/q")
                found += [(m.start(), m.end(), "qoq") for m in QOQ.finditer(low)]
            found.sort()
            self._found = found
        for start, end, tf in self._found:
            if start >= lo and end <= hi:
                return tf
        return None


def _change_verb(left: str) -> re.Match[str] | None:
    """CHANGE_VERB in the lower-cased `left`, searched only over its last seven words.

    A match is a verb, one whitespace and at most three fillers ("more than" is two words), each followed by
    one whitespace, up to the end: it cannot start before the seventh word from the end.
    """
    low = left.lower()
    words = low.rsplit(None, 7)
    return CHANGE_VERB.search(low, len(words[0]) if len(words) == 8 else 0)


def _ends_with_by(left: str) -> bool:
    """What BY_CHANGE needs at its end, tested without a regex ("... increased by ")."""
    return left[-1:].isspace() and left.rstrip()[-2:].lower() == "by"


def _compatible(mention: MetricMention, amount: Amount, role: Role) -> bool:
    if role == "change":
        return True
    if amount.kind in ("pp", "bps", "multiple"):
        return False
    if amount.kind == "money":
        # A per-share figure is never written in millions or billions.
        return mention.kind in ("money", "any") or (mention.kind == "per_share" and not amount.scale_written)
    if amount.kind == "percent":
        return mention.kind in ("percent", "any") or role == "current"
    return mention.kind in ("count", "any")


def read_sentence(text: str, found: list[Amount], mentions: list[MetricMention]) -> SentenceReading:
    """Assign each amount in a sentence to a metric mention with a role (current value, change, prior).

    `found` are the sentence's amounts and `mentions` its metric mentions.
    """
    result = SentenceReading()
    if "[" in text or "(sic" in text.lower():
        for pattern in (SIC, BRACKETED):
            result.doubtful.extend((m.start(), m.end()) for m in pattern.finditer(text))
    amounts = [a for a in found if a.high is None and not _in_sic_note(a, text, result.doubtful)]
    if not amounts:
        return result
    if not mentions:
        return result
    if "espectively" in text and RESPECTIVELY.search(text) and _respectively(text, mentions, amounts, result):
        return result
    frames = Frames(text)
    taken: set[tuple[str, Role, str | None]] = set()
    prev_role: Role | None = None
    prev_direction: str | None = None
    for i, amount in enumerate(amounts):
        prev_end = amounts[i - 1].end if i else 0
        before = text[prev_end : amount.start]
        after = text[amount.end : amounts[i + 1].start if i + 1 < len(amounts) else len(text)]
        role = _role(amount, before, after, text[max(0, amount.start - 60) : amount.start])
        if prev_role == "change" and amount.kind == amounts[i - 1].kind and CARRIED_CHANGE.fullmatch(before):
            role = "change"
        prev_role = role
        mention = _per_share(mentions, amount, after) or _owner(mentions, amount, role, text)
        if mention is None:
            continue
        timeframe: Timeframe | None = None
        share_of: str | None = None
        if role == "prior":
            end = amount.end + len(after)
            timeframe = (frames.within(amount.end, min(end, amount.end + 70)) or frames.within(amount.end, len(text))
                         or frames.within(0, len(text)))
        elif role == "change":
            end = amount.end + len(after)
            timeframe = (frames.within(amount.end, min(end, amount.end + 90)) or frames.within(amount.end, len(text))
                         or frames.within(mention.start, amount.start) or frames.within(0, mention.start))
        elif amount.kind == "percent" and mention.kind in ("money", "any"):
            cue = SHARE_CUE.search(text[mention.end : amount.start])
            share = SHARE_AFTER.match(after)
            if not cue and not share:
                continue
            share_of = (share.group("of").strip() or "total") if share else "total"
        direction = _direction(left=text[max(0, amount.start - 60) : amount.start], after=after) if (
            role == "change") else None
        if role == "change" and direction is None and CARRIED_CHANGE.fullmatch(before):
            direction = prev_direction
        prev_direction = direction
        slot = (mention.key + ("/share" if share_of else ""), role, timeframe)
        if slot in taken:
            continue
        taken.add(slot)
        result.readings.append(Reading(mention, amount, role, timeframe, share_of, direction))
    return result


def _direction(*, left: str, after: str) -> str | None:
    verb = _change_verb(left)
    if verb:
        return verb.group(0).split()[0]
    noun = CHANGE_NOUN_AFTER.match(after)
    return noun.group(0).split()[-1] if noun else None


def _in_sic_note(a: Amount, text: str, spans: list[tuple[int, int]]) -> bool:
    """Figures inside a '(sic ...)' note are the transcriber's, not the speaker's."""
    return any(s <= a.start and a.end <= e and text[s : s + 4].lower() == "(sic" for s, e in spans)


def _role(amount: Amount, before: str, after: str, left: str) -> Role:
    if (
        PRIOR_BEFORE.search(left, max(0, len(left) - PRIOR_BEFORE_LONGEST))
        and not re.search(r"\bto\s(?:the\s)?(?:a\s)?(?:positive\s)?$", left, re.I)
        and (not re.search(r"\bgrew|\bgrowth\b", left[-25:], re.I) or amount.kind != "percent")
    ):
        return "prior"
    if (
        PRIOR_AFTER.match(after) and amount.kind != "pp" and not CURRENT_AFTER.match(after)
        and not _change_verb(left)
    ):
        return "prior"
    if amount.kind in ("pp", "bps"):
        return "change"
    if amount.kind == "money" and _ends_with_by(left) and BY_CHANGE.search(left):
        return "change"  # "increased by $0.06 to $0.43": an absolute change, not the value
    if amount.kind == "percent" and (_change_verb(left) or CHANGE_NOUN_AFTER.match(after)):
        return "change"
    return "current"


def _owner(mentions: list[MetricMention], amount: Amount, role: Role, text: str) -> MetricMention | None:
    """The nearest metric mention before the amount that can take it; else one just after it."""
    preceding = [m for m in mentions if m.end <= amount.start]
    if role == "change" or amount.kind in ("pp", "bps"):
        candidates = preceding[::-1]
        if amount.kind in ("pp", "bps"):
            pct = [m for m in candidates if m.kind == "percent"]
            candidates = pct or candidates
        return candidates[0] if candidates else None
    for m in reversed(preceding):
        if _compatible(m, amount, role):
            return m
    following = [m for m in mentions if m.start >= amount.end and FOLLOWING_OWNER.fullmatch(text[amount.end : m.start])]
    for m in following:
        if _compatible(m, amount, role) and amount.kind == "money" == m.kind:
            return m
    return None


def _per_share(mentions: list[MetricMention], amount: Amount, after: str) -> MetricMention | None:
    """'net income was $35.4 million or $0.94 per diluted share': the per-share figure is EPS."""
    if amount.kind != "money":
        return None
    m = PER_SHARE_AFTER.match(after)
    if not m:
        return None
    before = [x for x in mentions if x.end <= amount.start]
    if before and before[-1].kind == "per_share":
        return None
    basis = before[-1].basis if before else None
    negative = bool(before and before[-1].negative)
    ads = m.group("what").upper() in ("ADS", "ADR")
    key, name = ("eps_ads", "Earnings per ADS") if ads else ("eps", "EPS")
    if basis == "adjusted":
        key, name = f"adjusted_{key}", f"Adjusted {name}"
    return MetricMention(key, name, "per_share", amount.end, amount.end + m.end(), basis, negative)


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
