"""The extractor: Document in, Report out (pure functions, no I/O)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.extract.amount_format import decimals
from bot.extract.amounts import Amount
from bot.extract.checks import (
    Stated,
    check_pct_change,
    check_pp_change,
    direction_contradiction,
)
from bot.extract.facts import Facts, sentences_with
from bot.extract.figures import Reading, change_sign, read_sentence
from bot.extract.guidance import ANALYST, CUES, NUMERIC_CUE, SAFE_HARBOR_PHRASES, find_guidance
from bot.extract.identity import default_currency, identify
from bot.extract.metrics import MetricDef, MetricMention, catalogue
from bot.extract.sentences import Sentence, sentences
from bot.models import Change, CompanyConfig, Document, Flag, Mention, Metric, MetricAlias, Period, Prior, Report

# A byte map turning ASCII digits (the amounts parser reads no others) into NUL, and NUL into \x01: `_digit_marks`.
DIGITS_TO_NUL = bytes.maketrans(b"0123456789\x00", bytes(10) + b"\x01")
DOUBTFUL_MARK = re.compile(r"\[|\((?i:sic)")  # what read_sentence flags as doubtful
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
# NUMBER for ASCII text, with the decimals of each number (after "." in group 2 or 3), as amount_format.decimals.
NUMBER_PARTS = re.compile(r"(\d[\d,]*(?:\.(\d+))?|\.(\d+))", re.ASCII)
# UP_WORDS, DOWN_WORDS, FULL_YEAR, QUARTER_OF_YEAR and REPORTED are applied to lower-cased text (faster than re.I).
UP_WORDS = re.compile(r"\b(?:increas\w*|grew|growth|rose|up|higher|improv\w*|gain\w*|jump\w*|surg\w*)\b")
DOWN_WORDS = re.compile(r"\b(?:decreas\w*|declin\w*|fell|down|lower|drop\w*|reduc\w*|shr[iu]nk\w*)\b")
FULL_YEAR = re.compile(
    r"\b(?:full[- ]year|for the (?:full |fiscal )?year|fiscal(?: year)? (?:19|20)\d\d|for (?:19|20)\d\d\b|annual)"
)
# Words FULL_YEAR can match: a text holding none of them cannot match it.
FULL_YEAR_WORDS = ("year", "fiscal", "annual", "for 1", "for 2")
QUARTER_OF_YEAR = re.compile(r"quarter (?:of |ended )?(?:fiscal |the fiscal year )?(?:year )?(?:19|20)\d\d")
FIRST_TIME = re.compile(
    r"(?:turn\w*|achiev\w*|reach\w*)\s(?:(?:our|the)\s)?(?P<what>(?:adjusted\s)?[\w ]{2,30}?)\s(?:positive|profitab\w*|"
    r"breakeven)\sfor the first time",
    re.I,
)
REPORTED = re.compile(
    r"\b(?:was|were|reached|totall?ed|amounted|came in|grew|increased|decreased|rose|fell|declined|ended|"
    r"generated|delivered|achieved|reported|posted)\b"
)
# Shared by the metrics that state no change or no prior value (the models are immutable).
NO_CHANGE = Change()
NO_PRIOR = Prior()
# Words REPORTED can match: a text holding none of them cannot match it.
REPORTED_WORDS = (
    "was", "were", "reached", "total", "amounted", "came in", "grew", "increased", "decreased", "rose", "fell",
    "declined", "ended", "generated", "delivered", "achieved", "reported", "posted",
)
# Metrics whose value is itself a rate of change: "same-store sales increased 3.4%" states the value.
GROWTH_KEYS = ("same_store_sales",)


@dataclass
class Observation:
    """Everything one sentence says about one metric."""

    mention: MetricMention
    sentence: Sentence
    key: str
    name: str
    unit_kind: str
    value: Amount | None = None
    changes: dict[str, tuple[float, Amount]] = field(default_factory=dict)
    priors: dict[str, Amount] = field(default_factory=dict)
    said: str | None = None
    period: str | None = None
    value_sign: float = 1.0


def _step(a: Amount, *, round_figures: bool = False) -> float:
    """The rounding step a figure was written with ('1,187.4' -> 0.1 of its unit).

    With `round_figures`, trailing zeros of a whole number are not taken as precision ("RMB300 million" may be
    299.1 rounded): used to tell whether two statements are the same figure, never for arithmetic checks.
    """
    raw = a.raw
    if raw.isascii():  # NUMBER and amount_format.decimals read the same numbers: one pass finds both
        parts = NUMBER_PARTS.findall(raw)
        if not parts:
            return 1.0
        digits = parts[0][0].replace(",", "")
        places = max(len(b or c) for _, b, c in parts) if len(parts) > 1 else len(parts[0][1] or parts[0][2])
    else:
        m = NUMBER.search(raw)
        if not m:
            return 1.0
        digits = m.group(0).replace(",", "")
        places = decimals(raw)
    written = float(digits)
    scale = abs(a.value / written) if written else 1.0
    if round_figures and places == 0 and "." not in digits:
        # "RMB300 million" is a round figure: its trailing zeros are not precision.
        places = -(len(digits) - len(digits.rstrip("0"))) if digits.strip("0") else 0
    return float(10.0 ** -places) * (scale or 1.0)


def _stated(a: Amount, sign: float = 1.0) -> Stated:
    return Stated(a.value * sign, _step(a))


def _signed(mention: MetricMention, value: float) -> float:
    return -abs(value) if mention.negative else value


def _unit(a: Amount) -> str:
    if a.kind == "money" and a.unit:
        return a.unit
    return {"percent": "%", "pp": "pp", "bps": "bps", "multiple": "x"}.get(a.kind, a.unit or "count")


def _first_time(text: str) -> set[str]:
    """What the text says turned positive 'for the first time' (searched only around that phrase)."""
    out: set[str] = set()
    at = text.find("for the first time")
    while at >= 0:
        window = text[max(0, at - 90) : at + 18]
        out.update(m.group("what").lower().strip() for m in FIRST_TIME.finditer(window))
        at = text.find("for the first time", at + 1)
    return out


def _digit_marks(text: str) -> bytes:
    """`text` as bytes, one per character, with a NUL where it has an ASCII digit (and nowhere else).

    `marks.find(0, start, end) >= 0` tells whether `text[start:end]` holds a digit: a byte search is several times
    faster than a regex pass. Characters beyond Latin-1 become "?" (one byte each, so offsets do not move).
    """
    return text.encode("latin-1", "replace").translate(DIGITS_TO_NUL)


def _reported(low: str) -> bool:
    """Whether lower-cased text says a figure was reported (REPORTED), with a substring test before the regex."""
    for word in REPORTED_WORDS:
        if word in low:
            return REPORTED.search(low) is not None
    return False


def _says_full_year(low: str) -> bool:
    """Whether lower-cased text before a figure says it is for the full year (not a quarter of that year)."""
    for word in FULL_YEAR_WORDS:
        if word in low:
            return FULL_YEAR.search(low) is not None and QUARTER_OF_YEAR.search(low) is None
    return False


def _doubtful(s: Sentence, readings: list[Reading], a: int, b: int) -> Flag:
    """A figure the text itself marks as doubtful: '(sic ...)' after it, or square brackets around it."""
    note = s.text[a:b]
    if note.lower().startswith("(sic"):
        near = [r for r in readings if 0 <= a - r.amount.end <= 3]
        what = f"“{s.text[near[0].amount.start : a].strip()}”" if near else "a figure"
        owner = near[0].mention if near else None
        message = f"{owner.name + ': ' if owner else ''}the text marks {what} as doubtful {note}"
    else:
        inside = [r for r in readings if a <= r.amount.start < b]
        owner = inside[0].mention if inside else None
        message = f"{owner.name + ': ' if owner else ''}the text puts {note} in brackets (an unconfirmed figure)"
    return Flag(kind="doubtful", message=message[:1].upper() + message[1:], quote=s.text, start=s.start, end=s.end,
                metric=owner.key if owner else None)


def _observe(s: Sentence, readings: list[Reading], report_period: str | None) -> list[Observation]:
    by_key: dict[str, Observation] = {}
    quarterly = report_period is not None and report_period.startswith("Q")
    for r in readings:
        key, name = r.mention.key, r.mention.name
        if r.share_of or (r.role == "change" and r.amount.kind in ("pp", "bps") and f"{key}_share" in by_key):
            key = f"{key}_share"
            of = "" if r.share_of in (None, "total") else f" of {r.share_of}"
            name = f"{name} share{of} revenue" if of else f"{name} share of revenue"
        obs = by_key.get(key)
        if obs is None:
            period = report_period
            if quarterly and report_period is not None and _says_full_year(s.text[: r.amount.start].lower()):
                period = f"FY{report_period.rsplit(' ', 1)[-1]}"
            obs = Observation(r.mention, s, key, name, "percent" if r.share_of else r.mention.kind, period=period)
            by_key[key] = obs
        if r.role == "current" and obs.value is None:
            obs.value = r.amount
            between = s.text[r.mention.end : r.amount.start].lower()
            if UP_WORDS.search(between) and not DOWN_WORDS.search(between):
                obs.said = "up"
            elif DOWN_WORDS.search(between) and not UP_WORDS.search(between):
                obs.said = "down"
        elif r.role == "change" and obs.value is None and r.mention.key.endswith(GROWTH_KEYS):
            obs.value = r.amount
            obs.value_sign = change_sign(r) if r.amount.value >= 0 else 1.0
        elif r.role == "change" and r.amount.kind != "money":
            kind = "pp" if r.amount.kind in ("pp", "bps") else "pct"
            factor = 0.01 if r.amount.kind == "bps" else 1.0
            sign = change_sign(r) if r.amount.value >= 0 else 1.0
            # A change said without its comparison period is kept as such, never assigned one.
            obs.changes.setdefault(f"{r.timeframe}_{kind}" if r.timeframe else kind, (sign * factor, r.amount))
        elif r.role == "prior" and r.timeframe:
            obs.priors.setdefault("prior_year" if r.timeframe == "yoy" else "prior_quarter", r.amount)
            if obs.said is None and obs.value is not None:
                between = s.text[obs.value.end : r.amount.start].lower()
                if UP_WORDS.search(between):
                    obs.said = "up"
                elif DOWN_WORDS.search(between):
                    obs.said = "down"
    return [o for o in by_key.values() if o.value is not None]


def _precision(o: Observation) -> tuple[int, float, int]:
    assert o.value is not None
    explicit = 0 if o.value.currency_explicit or o.value.kind != "money" else 1
    return (explicit + (1 if o.value.approximate or o.value.bound else 0), _step(o.value), o.sentence.start)


def _agrees(a: Amount, b: Amount) -> bool:
    if a.unit != b.unit and a.kind == b.kind == "money" and a.currency_explicit and b.currency_explicit:
        return False
    for x, y in ((a, b), (b, a)):
        if x.bound == "min" and y.value >= x.value:
            return True
        if x.bound == "max" and y.value <= x.value:
            return True
    # checks.consistent(Stated(a.value, step_a), Stated(b.value, step_b)), without building the two records.
    half_a, half_b = _step(a, round_figures=True) / 2, _step(b, round_figures=True) / 2
    slack = 1e-9 * max(abs(a.value), abs(b.value), 1.0)
    return a.value - half_a <= b.value + half_b + slack and b.value - half_b <= a.value + half_a + slack


def _build(group: list[Observation], flags: list[Flag]) -> Metric:
    best = group[0] if len(group) == 1 else min(group, key=_precision)
    assert best.value is not None
    value_amount = best.value
    value = _signed(best.mention, value_amount.value) * best.value_sign
    changes: dict[str, float] = {}
    change_amounts: dict[str, Amount] = {}
    priors: dict[str, Amount] = {}
    for o in group if len(group) == 1 else sorted(group, key=lambda o: o is not best):
        for k, (factor, amt) in o.changes.items():
            if k not in changes:
                changes[k] = round(amt.value * factor, 6)
                change_amounts[k] = amt
        for k, amt in o.priors.items():
            priors.setdefault(k, amt)
    prior_values = {k: (-abs(a.value) if best.mention.negative else a.value) for k, a in priors.items()}
    checks: list[str] = []
    verdicts: list[bool] = []
    label = best.name
    current = Stated(value, _step(value_amount)) if priors else None  # only the checks against a prior use it
    for tf, prior_key in (("yoy", "prior_year"), ("qoq", "prior_quarter")):
        if current is None or prior_key not in priors:
            continue
        prior = _stated(priors[prior_key], -1.0 if best.mention.negative else 1.0)
        if f"{tf}_pct" in changes and value_amount.kind == "money":
            outcome = check_pct_change(current, prior, Stated(changes[f"{tf}_pct"], _step(change_amounts[f"{tf}_pct"])),
                                       label)
            if outcome:
                checks.append(("✓ " if outcome.ok else "✗ ") + outcome.message)
                verdicts.append(outcome.ok)
                if not outcome.ok:
                    flags.append(Flag(kind="arithmetic_mismatch", message=outcome.message, quote=best.sentence.text,
                                      metric=best.key, start=best.sentence.start, end=best.sentence.end))
        pp_key = f"{tf}_pp"
        if pp_key in changes and value_amount.kind == "percent":
            step = _step(change_amounts[pp_key]) * (0.01 if change_amounts[pp_key].kind == "bps" else 1.0)
            outcome2 = check_pp_change(current, prior, Stated(changes[pp_key], step), label)
            checks.append(("✓ " if outcome2.ok else "✗ ") + outcome2.message)
            verdicts.append(outcome2.ok)
            if not outcome2.ok:
                flags.append(Flag(kind="arithmetic_mismatch", message=outcome2.message, quote=best.sentence.text,
                                  metric=best.key, start=best.sentence.start, end=best.sentence.end))
    for o in group:
        if o.said and o.priors:
            for prior_amt in o.priors.values():
                p = _signed(o.mention, prior_amt.value)
                if direction_contradiction(value, p, o.said):
                    word = "an increase" if o.said == "up" else "a decrease"
                    pct = (value / p - 1) * 100 if p else 0.0
                    msg = (f"{label}: the text says {word} from {prior_amt.raw}, but {value_amount.raw} vs "
                           f"{prior_amt.raw} is a {abs(pct):.1f}% {'decrease' if pct < 0 else 'increase'}")
                    flags.append(Flag(kind="contradiction", message=msg, quote=o.sentence.text, metric=best.key,
                                      start=o.sentence.start, end=o.sentence.end))
                    checks.append("✗ " + msg)
                    verdicts.append(False)
    mentions: tuple[Mention, ...] = () if len(group) == 1 else tuple(
        Mention(value=_signed(o.mention, o.value.value), value_text=o.value.raw, quote=o.sentence.text,
                speaker=o.sentence.segment.speaker, start=o.sentence.start, end=o.sentence.end)
        for o in group if o is not best and o.value is not None
    )
    return Metric(
        key=best.key, name=best.name, value=value, unit=_unit(value_amount), basis=best.mention.basis,
        period=best.period, change=Change(**changes) if changes else NO_CHANGE,
        prior=Prior(**prior_values) if prior_values else NO_PRIOR, quote=best.sentence.text,
        speaker=best.sentence.segment.speaker, verified=(all(verdicts) if verdicts else None),
        value_text=value_amount.raw, start=best.sentence.start, end=best.sentence.end,
        section=best.sentence.segment.section, approximate=value_amount.approximate or value_amount.bound is not None,
        checks=tuple(checks), mentions=mentions, translation=best.sentence.segment.translation,
    )


def _group(observations: list[Observation]) -> list[list[Observation]]:
    """Observations of the same metric and period that agree in value are one figure said several times."""
    groups: dict[tuple[str, str | None], list[list[Observation]]] = {}
    order: list[tuple[str, str | None]] = []
    for o in observations:
        k = (o.key, o.period)
        if k not in groups:
            groups[k] = []
            order.append(k)
        for g in groups[k]:
            if g[0].value is not None and o.value is not None and _agrees(g[0].value, o.value):
                g.append(o)
                break
        else:
            groups[k].append([o])
    out: list[list[Observation]] = []
    for k in order:
        # Different values under one name are other contexts (segments, regions, periods): the headline one is
        # the statement that says "total"/"consolidated" or names the quarter, else the first one.
        candidates = groups[k]
        out.append(candidates[0] if len(candidates) == 1 else max(
            candidates, key=lambda g: (max(_headline_score(o) for o in g), len(g), -g[0].sentence.start)))
    return out


def _headline_score(o: Observation) -> int:
    said = o.sentence.text[max(0, o.mention.start - 40) : o.mention.end].lower()
    score = 2 if ("total" in said or "consolidated" in said) else 0
    if "quarter" in said or "this period" in said:
        score += 1
    return score


def extract(
    document: Document, *, companies: Sequence[CompanyConfig] = (), metrics: Sequence[MetricAlias] = ()
) -> Report:
    """Read every figure, guidance statement and warning sign out of a document."""
    extra = tuple(MetricDef(m.key, m.name, m.aliases, m.kind) for m in metrics)
    cat = catalogue(extra)
    currency = default_currency(document.text)
    all_sentences = sentences(document)
    facts = Facts(cat)
    currencies: Counter[str] = Counter()
    readings_by_sentence: list[tuple[Sentence, list[Reading]]] = []
    flags: list[Flag] = []
    boilerplate, forward = sentences_with(document.text, all_sentences, SAFE_HARBOR_PHRASES, CUES)
    digit_marks = _digit_marks(document.text)
    for position, s in enumerate(all_sentences):
        seg = s.segment
        if position in boilerplate or seg.section == "table" or digit_marks.find(0, s.start, s.end) < 0:
            continue
        if seg.operator or (seg.title and ANALYST.search(seg.title)):
            continue
        if position in forward and not _reported(low := s.text.lower()) and NUMERIC_CUE.search(low):
            continue  # table rows carry no scale or period of their own; prose states the headline figures
        mentions = facts.mentions(s)
        if not mentions and not (("[" in s.text or "(" in s.text) and DOUBTFUL_MARK.search(s.text)):
            continue  # no metric named: no figure to read (amounts are parsed only where they can belong)
        reading = read_sentence(s.text, facts.amounts(s, currency), mentions)
        for a, b in reading.doubtful:
            flags.append(_doubtful(s, reading.readings, a, b))
        for r in reading.readings:
            if r.amount.kind == "money" and r.amount.unit and r.amount.currency_explicit:
                currencies[r.amount.unit] += 1
        readings_by_sentence.append((s, reading.readings))
    ident = identify(document, currencies, companies)
    observations = [o for s, rs in readings_by_sentence for o in _observe(s, rs, ident.period.label)]
    metrics_out = [_build(g, flags) for g in _group(observations)]
    qualifiers = _first_time(document.text)
    metrics_out = [
        m.model_copy(update={"qualifier": "first positive"})
        if any(q and q in m.name.lower() and not m.key.endswith("margin") for q in qualifiers) else m
        for m in metrics_out
    ]
    guidance = find_guidance(
        all_sentences, facts, default_currency=currency or ident.currency,
        report_year=ident.period.fiscal_year, cued=forward, boilerplate=boilerplate,
    )
    return Report(
        company=ident.company, ticker=ident.ticker, kind=document.kind,
        period=ident.period if ident.period.label else Period(), currency=ident.currency,
        title=document.title, url=document.url, metrics=tuple(metrics_out), guidance=tuple(guidance),
        flags=tuple(flags), translation_language=document.translation_language,
    )
