"""Forward-looking statements: numeric guidance, qualitative outlook and explicit refusals to guide."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.extract.amounts import Amount, find_amounts, format_amount
from bot.extract.metrics import Catalogue, MetricMention, find_mentions
from bot.extract.sentences import Sentence
from bot.models import Direction, Guidance, GuidanceKind

SAFE_HARBOR = re.compile(
    r"forward[- ]looking statements?|Private Securities Litigation|Safe Harbou?r|differ materially|"
    r"undertakes? no (?:obligation|duty)|does not undertake any obligation|risks? and uncertainties|"
    r"risk factors|Exchange Act of 1934|Securities Act of 1933|reconciliation of (?:these )?non-GAAP",
    re.I,
)
FORWARD = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid(?:ance|e|ed|ing)|outlook|forecast\w*|project(?:ed|ing|ion)\b|"
    r"target(?:s|ed|ing)?\b|going forward|looking (?:ahead|forward)|we see\b|we will\b|we'll\b|"
    r"will (?:continue|be|remain)|"
    r"is going to|are going to|in the (?:coming|following|next) (?:quarters?|years?|months)|down the road|"
    r"next (?:quarter|year|fiscal)|for (?:the )?(?:full )?(?:fiscal )?(?:year )?20\d\d\b|this year\b|"
    r"plus or minus|confident)",
    re.I,
)
STRONG = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid(?:ance|e|ed|ing)|outlook|forecast\w*|projecting|targets?|"
    r"will continue|going forward|(?:coming|following|next) quarters?|down the road|for this year|"
    r"is going to be|plus or minus)",
    re.I,
)
PAST_GUIDANCE = re.compile(
    r"(?:above|below|exceed\w*|beat|in line with|within|high end of|low end of|top of|midpoint of)\s(?:the\s)?"
    r"(?:high end of\s|low end of\s|top end of\s)?(?:our|the|its)\s(?:\w+\s){0,2}"
    r"(?:guidance|outlook|range|expectations)",
    re.I,
)
REFUSAL = re.compile(
    r"\b(?:not|no longer|don't|do not|won't|will not|aren't|never)\s(?:going to\s)?(?:be\s)?(?:give|giving|provide|"
    r"providing|offer|offering|issue|issuing|guide|guiding|update)\b[^.]{0,40}?\b(?:guidance|guide|outlook|forecast|"
    r"targets?)|\bnot (?:providing|giving) (?:any |a )?(?:\w+ )?(?:guidance|outlook)|"
    r"\bwithdr[ae]w\w* (?:its |our |the )?"
    r"(?:\w+ )?(?:guidance|outlook)|\bsuspend\w* (?:its |our |the )?(?:\w+ )?(?:guidance|outlook)",
    re.I,
)
DIRECTIONS: tuple[tuple[Direction, re.Pattern[str]], ...] = (
    ("withdrawn", re.compile(r"\bwithdr[ae]w\w*|\bsuspend\w*", re.I)),
    ("raised", re.compile(r"\brais(?:e|ed|es|ing)\b|\bincreas(?:e|ed|es|ing) (?:its |our |the )?(?:\w+ )?"
                          r"(?:guidance|outlook|target)", re.I)),
    ("lowered", re.compile(r"\blower(?:ed|ing|s)? (?:its |our |the )?(?:\w+ )?(?:guidance|outlook|target)|"
                           r"\bcut(?:s|ting)? (?:its |our |the )?(?:\w+ )?(?:guidance|outlook)|\breduc\w+ (?:its |our )"
                           r"(?:\w+ )?(?:guidance|outlook)", re.I)),
    ("reaffirmed", re.compile(r"\breaffirm\w*|\breiterat\w*|\bmaintain\w*|\bconfirm\w*|\bno change to\b|"
                              r"\bunchanged\b", re.I)),
    ("initiated", re.compile(r"\binitiat\w*|\bintroduc\w*|\bestablish\w* (?:its |our )?(?:\w+ )?(?:guidance|outlook)|"
                             r"\binitial (?:\w+ )?(?:guidance|outlook)", re.I)),
)
PERIOD = re.compile(
    r"\b(?:(?P<ord>first|second|third|fourth)[- ]quarter(?: of)?(?: fiscal(?: year)?| FY)? ?(?P<y1>(?:19|20)\d\d)?|"
    r"Q(?P<q>[1-4])(?: of)?(?: fiscal(?: year)?| FY)? ?(?P<y2>(?:19|20)\d\d|FY\d\d)?|"
    r"(?:full[- ]year|fiscal(?: year)?|FY) ?(?P<y3>(?:19|20)\d\d)|(?P<y4>(?:19|20)\d\d) (?:full[- ]year|fiscal year)|"
    r"(?P<next>next|coming|following) (?:quarter|year|fiscal year)|(?P<this>this|the) (?:full )?(?:fiscal )?year\b)",
    re.I,
)
TREND = re.compile(
    r"\b(?:improv\w*|grow\w*|increas\w*|declin\w*|decreas\w*|expan\w*|accelerat\w*|remain\w*|stable|pressure|"
    r"headwinds?|tailwinds?|moderat\w*|better|higher|lower|narrow\w*|recover\w*|breakeven|profitab\w*|"
    r"few more times|multipl\w*|carry\w*|invest\w*)",
    re.I,
)
TOPIC = re.compile(r"\b(?P<topic>total investment|investments?|capex|capital expenditures?|spending)\b", re.I)
FILLER = re.compile(
    r"^(?:(?:and|so|but|also|obviously|okay|yeah|well|now|i think|we think|i believe|in short|what i can commit is|"
    r"as (?:we|i) mentioned|as you can see)[,]?\s+)+",
    re.I,
)
BASIS_LABEL = re.compile(r"(?P<label>non-GAAP|GAAP|non-IFRS|IFRS|adjusted)\s?:?\s*$", re.I)
GUIDANCE_HEADING = re.compile(r"\b(?:targets?|guidance|outlook|expectations)\b", re.I)
MAX_QUALITATIVE = 4
NUMERIC_CUE = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid(?:ance|e|ed|ing)|outlook|forecast\w*|project(?:ed|ing)\b|targets?\b|"
    r"plus or minus|estimat\w*|range)",
    re.I,
)
CURRENT_PERIOD_AFTER = re.compile(r"^\W{0,3}(?:for |in |during )?(?:this|the|last) (?:quarter|period)\b", re.I)
SCORE_STRONG = re.compile(
    r"\b(?:expect\w*|anticipat\w*|guid\w*|outlook|confident|will continue to|going forward|(?:is|are) going to be)",
    re.I,
)
SCORE_HORIZON = re.compile(
    r"\b(?:this year|next year|(?:coming|following|next|several) quarters|down the road|for 20\d\d|in 20\d\d)", re.I
)


def _period_label(text: str, report_year: int | None) -> str | None:
    m = PERIOD.search(text)
    if not m:
        return None
    if m.group("ord") or m.group("q"):
        q = {"first": 1, "second": 2, "third": 3, "fourth": 4}[m.group("ord").lower()] if m.group("ord") else int(
            m.group("q")
        )
        year = m.group("y1") or m.group("y2")
        fiscal = " FY" if re.search(r"fiscal|FY", m.group(0), re.I) else " "
        if year:
            year = year[-2:] if year.upper().startswith("FY") else year
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


def _direction(text: str) -> Direction | None:
    for direction, pattern in DIRECTIONS:
        if pattern.search(text):
            return direction
    return None


def _owner(mentions: Sequence[MetricMention], amount: Amount) -> MetricMention | None:
    before = [m for m in mentions if m.end <= amount.start]
    if before:
        return before[-1]
    after = [m for m in mentions if m.start >= amount.end]
    return after[0] if after else None


def _clean(text: str) -> str:
    out = FILLER.sub("", text).strip()
    return out[:1].upper() + out[1:] if out else text


def _range_text(a: Amount) -> str:
    if a.high is None or a.high == a.value:
        return ("~" if a.approximate else "") + format_amount(a.value, a.unit)
    return f"{format_amount(a.value, a.unit)} to {format_amount(a.high, a.unit)}"


def find_guidance(
    sentences: Sequence[Sentence], cat: Catalogue, *, default_currency: str | None, report_year: int | None
) -> list[Guidance]:
    """Numeric guidance, qualitative outlook and refusals, in document order."""
    out: list[Guidance] = []
    candidates: list[tuple[int, int, Guidance]] = []
    guidance_table = False
    table_period: str | None = None
    for s in sentences:
        seg = s.segment
        if seg.operator or (seg.title and re.search(r"analyst", seg.title, re.I)):
            continue
        text = s.text
        if seg.section != "table":
            guidance_table = bool(GUIDANCE_HEADING.search(text) and re.search(r"follow|below|table|summar", text, re.I))
            table_period = _period_label(text, report_year) if guidance_table else None
        if SAFE_HARBOR.search(text) or text.rstrip().endswith("?"):
            continue
        in_table = seg.section == "table" and guidance_table
        refusal = REFUSAL.search(text)
        if refusal:
            mentions = find_mentions(text, cat)
            out.append(_make(s, mentions[0] if mentions else None, None, "refusal", _clean(text),
                             period=_period_label(text, report_year),
                             direction="withdrawn" if re.search(r"withdr|suspend", text, re.I) else None))
            continue
        if not (in_table or FORWARD.search(text)) or PAST_GUIDANCE.search(text):
            continue
        amounts = [a for a in find_amounts(text, default_currency) if a.kind in ("money", "percent", "pp", "multiple")]
        mentions = find_mentions(text, cat)
        ranged = [a for a in amounts if a.high is not None]
        cued = in_table or NUMERIC_CUE.search(text)
        numeric = ranged if (ranged and (cued or STRONG.search(text))) else (
            [a for a in amounts if not CURRENT_PERIOD_AFTER.match(text[a.end :])] if cued and mentions else [])
        if numeric:
            period = _period_label(text, report_year) or (table_period if in_table else None)
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
                                 direction=_direction(text)))
            continue
        if amounts or not STRONG.search(text) or not TREND.search(text):
            continue
        topic = TOPIC.search(text)
        if not mentions and not topic:
            continue
        owner = mentions[0] if mentions else None
        score = 2 * len(SCORE_STRONG.findall(text)) + 2 * len(SCORE_HORIZON.findall(text)) + (1 if topic else 0)
        score += 1 if seg.section == "qa" else 0
        score -= 2 if len(text) > 300 else 0
        score -= 1 if not mentions else 0
        item = _make(s, owner, None, "qualitative", _clean(text), period=_period_label(text, report_year),
                     name=None if owner else topic.group("topic").lower() if topic else None,
                     direction=_direction(text) if re.search(r"guidance|outlook", text, re.I) else None)
        if score < 4 or (not mentions and not SCORE_HORIZON.search(text)):
            continue
        candidates.append((score, len(out), item))
        out.append(item)
    keep = {id(item) for _, _, item in sorted(candidates, key=lambda c: (-c[0], c[1]))[:MAX_QUALITATIVE]}
    return [g for g in out if g.kind != "qualitative" or id(g) in keep]


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
