"""Forward-looking statements: numeric guidance, qualitative outlook and explicit refusals to guide."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.extract.amount_format import format_amount
from bot.extract.amounts import Amount
from bot.extract.facts import Facts
from bot.extract.figures import fold
from bot.extract.metrics import MetricMention
from bot.extract.sentences import Sentence
from bot.models import Direction, Guidance, GuidanceKind

# Patterns without re.I below are applied to lower-cased text (much faster than re.I).
# Safe-harbour boilerplate is recognised by literal phrases (lower case), found with one scan per document.
SAFE_HARBOR_PHRASES = (
    "forward-looking statement", "forward looking statement", "private securities litigation", "safe harbor",
    "safe harbour", "differ materially", "undertake no obligation", "undertakes no obligation",
    "undertake no duty", "not undertake any obligation", "risks and uncertainties", "risk and uncertainties",
    "risk factors", "exchange act of 1934", "securities act of 1933", "reconciliation of non-gaap",
    "reconciliation of these non-gaap", "does not reconcile", "without unreasonable effort",
)
FORWARD = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid(?:ance|e|ed|ing)|outlook|forecast\w*|project(?:ed|ing|ion)\b|"
    r"target(?:s|ed|ing)?\b|going forward|looking (?:ahead|forward)|we see\b|we will\b|we'll\b|"
    r"will (?:continue|be|remain)|"
    r"is going to|are going to|in the (?:coming|following|next) (?:quarters?|years?|months)|down the road|"
    r"next (?:quarter|year|fiscal)|for (?:the )?(?:full )?(?:fiscal )?(?:year )?20\d\d\b|this year\b|"
    r"plus or minus|confident)"
)
STRONG = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid(?:ance|e|ed|ing)|outlook|forecast\w*|projecting|targets?|"
    r"will continue|going forward|(?:coming|following|next) quarters?|down the road|for this year|"
    r"is going to be|plus or minus)"
)
# A FORWARD match starting with one of these is (at the same place) a STRONG match too: no need to search for one.
STRONG_IN_FORWARD = (
    "expect", "anticipat", "guid", "outlook", "forecast", "projecting", "target", "will continue", "going forward",
    "next quarter", "down the road", "plus or minus",
)
# Every PAST_GUIDANCE match has one of these words ("beat our guidance"): a cheap test before the regex.
PAST_WORDS = ("above", "below", "exceed", "beat", "in line with", "within", "end of", "top of", "midpoint of")
PAST_GUIDANCE = re.compile(
    r"(?:above|below|exceed\w*|beat|in line with|within|high end of|low end of|top of|midpoint of)\s(?:the\s)?"
    r"(?:high end of\s|low end of\s|top end of\s)?(?:our|the|its)\s(?:\w+\s){0,2}"
    r"(?:guidance|outlook|range|expectations)"
)
REFUSAL = re.compile(
    r"\b(?:not|no longer|don't|do not|won't|will not|aren't|never)\s(?:going to\s)?(?:be\s)?(?:give|giving|provide|"
    r"providing|offer|offering|issue|issuing|guide|guiding|update)\b[^.]{0,40}?\b(?:guidance|guide|outlook|forecast|"
    r"targets?)|\bnot (?:providing|giving) (?:any |a )?(?:\w+ )?(?:guidance|outlook)|"
    r"\bwithdr[ae]w\w* (?:its |our |the )?"
    r"(?:\w+ )?(?:guidance|outlook)|\bsuspend\w* (?:its |our |the )?(?:\w+ )?(?:guidance|outlook)"
)
# Each direction: the words one of which every match of its pattern has (a cheap test first), and the pattern.
DIRECTIONS: tuple[tuple[Direction, tuple[str, ...], re.Pattern[str]], ...] = (
    ("withdrawn", ("withdr", "suspend"), re.compile(r"\bwithdr[ae]w\w*|\bsuspend\w*")),
    ("raised", ("rais", "increas"), re.compile(
        r"\brais(?:e|ed|es|ing)\b|\bincreas(?:e|ed|es|ing) (?:its |our |the )?(?:\w+ )?(?:guidance|outlook|target)")),
    ("lowered", ("lower", "cut", "reduc"), re.compile(
        r"\blower(?:ed|ing|s)? (?:its |our |the )?(?:\w+ )?(?:guidance|outlook|target)|"
        r"\bcut(?:s|ting)? (?:its |our |the )?(?:\w+ )?(?:guidance|outlook)|\breduc\w+ (?:its |our )"
        r"(?:\w+ )?(?:guidance|outlook)")),
    ("reaffirmed", ("reaffirm", "reiterat", "maintain", "confirm", "no change to", "unchanged"), re.compile(
        r"\breaffirm\w*|\breiterat\w*|\bmaintain\w*|\bconfirm\w*|\bno change to\b|\bunchanged\b")),
    ("initiated", ("initi", "introduc", "establish"), re.compile(
        r"\binitiat\w*|\bintroduc\w*|\bestablish\w* (?:its |our )?(?:\w+ )?(?:guidance|outlook)|"
        r"\binitial (?:\w+ )?(?:guidance|outlook)")),
)
PERIOD = re.compile(  # applied to lower-cased text
    r"\b(?:(?P<ord>first|second|third|fourth)[- ]quarter(?: of)?(?: fiscal(?: year)?| fy)? ?(?P<y1>(?:19|20)\d\d)?|"
    r"q(?P<q>[1-4])(?: of)?(?: fiscal(?: year)?| fy)? ?(?P<y2>(?:19|20)\d\d|fy\d\d)?|"
    r"(?:full[- ]year|fiscal(?: year)?|fy) ?(?P<y3>(?:19|20)\d\d)|(?P<y4>(?:19|20)\d\d) (?:full[- ]year|fiscal year)|"
    r"(?P<next>next|coming|following) (?:quarter|year|fiscal year)|(?P<this>this|the) (?:full )?(?:fiscal )?year\b)"
)
PERIOD_WORDS = ("q", "year", "fiscal", "fy")  # one is in every PERIOD match ("quarter", "q3", "full-year", "fy25")
TREND = re.compile(
    r"\b(?:improv\w*|grow\w*|increas\w*|declin\w*|decreas\w*|expan\w*|accelerat\w*|remain\w*|stable|pressure|"
    r"headwinds?|tailwinds?|moderat\w*|better|higher|lower|narrow\w*|recover\w*|breakeven|profitab\w*|"
    r"few more times|multipl\w*|carry\w*|invest\w*)"
)
TOPIC = re.compile(r"\b(?P<topic>total investment|investments?|capex|capital expenditures?|spending)\b")  # folded
TOPIC_WORDS = ("investment", "capex", "capital expenditure", "spending")  # one is in every TOPIC match
FILLER = re.compile(
    r"^(?:(?:and|so|but|also|obviously|okay|yeah|well|now|i think|we think|i believe|in short|what i can commit is|"
    r"as (?:we|i) mentioned|as you can see)[,]?\s+)+",
    re.I,
)
BASIS_LABEL = re.compile(r"(?P<label>non-GAAP|GAAP|non-IFRS|IFRS|adjusted)\s?:?\s*$", re.I)
TABLE_WORDS = ("follow", "below", "table", "summar")  # "as follows", "the table below", "summarized"
GUIDANCE_HEADING = re.compile(r"\b(?:targets?|guidance|outlook|expectations)\b")
MAX_QUALITATIVE = 4
ANALYST = re.compile(r"analyst", re.I)
NEGATIONS = ("not ", "n't", "no longer", "never", "withdr", "suspend")
GUIDANCE_WORDS = ("guidance", "outlook", "range", "expectations")
# Cheap substring test before any regex: a sentence without one of these cannot be forward-looking.
CUES = (
    "expect", "anticipat", "guid", "outlook", "forecast", "project", "target", "will continue", "going forward",
    "coming quarter", "following quarter", "next quarter", "down the road", "this year", "going to be",
    "plus or minus", "estimat", "range", "withdr", "suspend", "reaffirm", "reiterat",
)
NUMERIC_CUE = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid(?:ance|e|ed|ing)|outlook|forecast\w*|project(?:ed|ing)\b|targets?\b|"
    r"plus or minus|estimat\w*|range)"
)
CURRENT_PERIOD_AFTER = re.compile(r"^\W{0,3}(?:for |in |during )?(?:this|the|last) (?:quarter|period)\b", re.I)
SCORE_STRONG = re.compile(  # applied to folded text (see figures.fold)
    r"\b(?:expect\w*|anticipat\w*|guid\w*|outlook|confident|will continue to|going forward|(?:is|are) going to be)",
)
SCORE_HORIZON = re.compile(
    r"\b(?:this year|next year|(?:coming|following|next|several) quarters|down the road|for 20\d\d|in 20\d\d)"
)


def _contains_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether `text` contains one of `words`."""
    for word in words:  # noqa: SIM110 - a plain loop: interpreted, any() over a generator takes twice as long
        if word in text:
            return True
    return False


def _period_label(low: str, report_year: int | None) -> str | None:
    """The period a lower-cased statement names ("Q3 FY2024", "FY2025", "next year"), if any."""
    m = PERIOD.search(low) if _contains_any(low, PERIOD_WORDS) else None
    if not m:
        return None
    if m.group("ord") or m.group("q"):
        q = {"first": 1, "second": 2, "third": 3, "fourth": 4}[m.group("ord")] if m.group("ord") else int(m.group("q"))
        year = m.group("y1") or m.group("y2")
        fiscal = " FY" if "fiscal" in m.group(0) or "fy" in m.group(0) else " "
        if year:
            year = year[-2:] if year.startswith("fy") else year
            return f"Q{q}{fiscal}{year}".replace("  ", " ").replace(" FY", " FY")
        return f"Q{q}"
    year = m.group("y3") or m.group("y4")
    if year:
        return f"FY{year}"
    if m.group("next"):
        return f"next {m.group(0).split()[-1].lower()}"
    if m.group("this") and report_year:
        return f"FY{report_year}"
    return None


def _direction(low: str) -> Direction | None:
    for direction, words, pattern in DIRECTIONS:
        if _contains_any(low, words) and pattern.search(low):
            return direction
    return None


def _owner(mentions: Sequence[MetricMention], amount: Amount) -> MetricMention | None:
    before = [m for m in mentions if m.end <= amount.start]
    if before:
        return before[-1]
    after = [m for m in mentions if m.start >= amount.end]
    return after[0] if after else None


CLAUSE_BREAK = re.compile(r"(?:, | -- | — |; )(?:(?:and|so|but|i think|we think)[, ]+)*", re.I)


def _clean(text: str, focus: int | None = None, limit: int = 200) -> str:
    """The statement without filler; a long one is cut to the clause that carries `focus` (its outlook words)."""
    out = text
    if focus is not None and len(text) > limit:
        breaks = [m.end() for m in CLAUSE_BREAK.finditer(text, 0, focus)]
        start = breaks[-1] if breaks else 0
        out = text[start:]
    out = FILLER.sub("", out).strip()
    out = out[:1].upper() + out[1:] if out else text
    return out if out == FILLER.sub("", text).strip()[:1].upper() + FILLER.sub("", text).strip()[1:] else "…" + out


def _range_text(a: Amount) -> str:
    if a.high is None or a.high == a.value:
        return ("~" if a.approximate else "") + format_amount(a.value, a.unit)
    return f"{format_amount(a.value, a.unit)} to {format_amount(a.high, a.unit)}"


def find_guidance(
    sentences: Sequence[Sentence], facts: Facts, *, default_currency: str | None, report_year: int | None,
    cued: set[int], boilerplate: set[int],
) -> list[Guidance]:
    """Numeric guidance, qualitative outlook and refusals, in document order.

    `cued` and `boilerplate` are the positions of the sentences with outlook words (CUES) and safe-harbour phrases
    (SAFE_HARBOR_PHRASES), found by the caller in one scan of the document (facts.sentences_with).
    """
    out: list[Guidance] = []
    candidates: list[tuple[int, int, Guidance]] = []
    guidance_table = False
    table_period: str | None = None
    heading: str | None = None  # the last sentence before a table (lower-cased), read at the table's first row
    # Only table rows and cued sentences are read; any other sentence between two of them ends a guidance table.
    tables = [position for position, s in enumerate(sentences) if s.segment.section == "table"]
    previous = -1
    for position in sorted(cued.union(tables)) if tables else sorted(cued):
        if position != previous + 1:
            guidance_table = False
            heading = None
        previous = position
        s = sentences[position]
        seg = s.segment
        if seg.operator or (seg.title and ANALYST.search(seg.title)):
            continue
        text = s.text
        low = text.lower()
        if seg.section != "table":
            heading = low
        elif heading is not None:
            guidance_table = _contains_any(heading, TABLE_WORDS) and GUIDANCE_HEADING.search(heading) is not None
            table_period = _period_label(heading, report_year) if guidance_table else None
            heading = None
        if position in boilerplate or text.rstrip().endswith("?"):
            continue
        in_table = seg.section == "table" and guidance_table
        refusal = REFUSAL.search(low) if _contains_any(low, NEGATIONS) else None
        if refusal:
            mentions = facts.mentions(s)
            out.append(_make(s, mentions[0] if mentions else None, None, "refusal", _clean(text),
                             period=_period_label(low, report_year),
                             direction="withdrawn" if "withdr" in low or "suspend" in low else None))
            continue
        forward = None if in_table else FORWARD.search(low)
        if not (in_table or forward) or (
            _contains_any(low, GUIDANCE_WORDS) and _contains_any(low, PAST_WORDS) and PAST_GUIDANCE.search(low)
        ):
            continue
        strong = _strong(low, forward)
        if not strong and not _numeric_cue(low, in_table):
            continue  # neither numeric guidance nor a qualitative outlook: skip reading the figures
        amounts = [a for a in facts.amounts(s, default_currency) if a.kind in ("money", "percent", "pp", "multiple")]
        if amounts:
            out.extend(_numeric(s, low, amounts, facts.mentions(s), in_table, report_year,
                                table_period if in_table else None))
            continue
        if not strong or not TREND.search(low):
            continue
        qualitative = _qualitative(s, low, facts.mentions(s), report_year)
        if qualitative is not None:
            candidates.append((qualitative[0], len(out), qualitative[1]))
            out.append(qualitative[1])
    keep = {id(item) for _, _, item in sorted(candidates, key=lambda c: (-c[0], c[1]))[:MAX_QUALITATIVE]}
    return [g for g in out if g.kind != "qualitative" or id(g) in keep]


def _strong(low: str, forward: re.Match[str] | None) -> bool:
    """Whether a lower-cased sentence has STRONG outlook words, given its FORWARD match (if searched)."""
    return (forward is not None and forward.group(0).startswith(STRONG_IN_FORWARD)) or STRONG.search(low) is not None


def _numeric_cue(low: str, in_table: bool) -> bool:
    """Whether a forward-looking sentence can give numeric guidance: a row of a guidance table, or NUMERIC_CUE."""
    return in_table or NUMERIC_CUE.search(low) is not None


def _numeric(
    s: Sentence, low: str, amounts: list[Amount], mentions: list[MetricMention], in_table: bool,
    report_year: int | None, table_period: str | None,
) -> list[Guidance]:
    """Numeric guidance from a forward-looking sentence's amounts: its ranges, else (with a numeric cue and a
    metric named) the amounts not stated for the current period."""
    text = s.text
    ranged = [a for a in amounts if a.high is not None]
    numeric = ranged or ([a for a in amounts if not CURRENT_PERIOD_AFTER.match(text[a.end :])]
                         if mentions and _numeric_cue(low, in_table) else [])
    if not numeric:
        return []
    period = _period_label(low, report_year) or table_period
    direction = _direction(low)
    out: list[Guidance] = []
    for a in numeric:
        owner = _owner(mentions, a)
        basis = BASIS_LABEL.search(text[max(0, a.start - 12) : a.start])
        name = owner.name if owner else None
        if basis and owner:
            label = basis.group("label")
            name = f"{label} {owner.name[0].lower()}{owner.name[1:]}" if not owner.name[:3].isupper() else (
                f"{label} {owner.name}")
        out.append(_make(s, owner, a, "numeric", f"{name or 'Guidance'}"
                         f"{' ' + period if period else ''}: {_range_text(a)}", period=period, name=name,
                         direction=direction))
    return out


def _topic(text: str, folded: str) -> str | None:
    """The investment topic `text` names ("capex"), as written; `folded` is fold(text, text.lower())."""
    m = TOPIC.search(folded) if _contains_any(folded, TOPIC_WORDS) else None
    return text[m.start("topic") : m.end("topic")] if m else None


def _qualitative(
    s: Sentence, low: str, mentions: list[MetricMention], report_year: int | None
) -> tuple[int, Guidance] | None:
    """A qualitative outlook statement and its score; None if it names no metric nor topic, or scores too low."""
    text = s.text
    folded = fold(low, low)
    topic = _topic(low, folded)
    if not mentions and not topic:
        return None
    horizons = list(SCORE_HORIZON.finditer(low))
    score = 2 * len(SCORE_STRONG.findall(folded)) + 2 * len(horizons) + (1 if topic else 0)
    score += 1 if s.segment.section == "qa" else 0
    score -= 2 if len(text) > 300 else 0
    score -= 1 if not mentions else 0
    if score < 4 or (not mentions and not horizons):
        return None
    owner = mentions[0] if mentions else None
    focus = horizons[0] if horizons else TREND.search(low)
    statement = _clean(text, focus.start() if focus else None)
    subject = _topic(statement, fold(statement, statement.lower()))
    if subject and find_mentions_in(statement, mentions, text):
        subject = None
    item = _make(s, owner, None, "qualitative", statement, period=_period_label(low, report_year),
                 name=subject.capitalize() if subject else (None if owner else topic.capitalize() if topic else None),
                 direction=_direction(low) if "guidance" in low or "outlook" in low else None)
    return score, item


def find_mentions_in(statement: str, mentions: Sequence[MetricMention], text: str) -> bool:
    """Whether any of the sentence's metric mentions lies in the part kept as the statement."""
    kept_from = len(text) - len(statement.lstrip("…"))
    return any(m.start >= kept_from for m in mentions)


def _make(
    s: Sentence, owner: MetricMention | None, amount: Amount | None, kind: GuidanceKind, text: str, *,
    period: str | None, direction: Direction | None, name: str | None = None,
) -> Guidance:
    low = high = None
    unit = None
    if amount is not None:
        low = amount.value
        high = amount.high if amount.high is not None else amount.value
        unit = amount.unit or ("count" if amount.kind == "number" else None)
    return Guidance(
        metric=name or (owner.name if owner else None), period=period, low=low, high=high, unit=unit,
        direction=direction, kind=kind,
        text=text, quote=s.text, speaker=s.segment.speaker, start=s.start, end=s.end,
        section=s.segment.section, translation=s.segment.translation,
    )
