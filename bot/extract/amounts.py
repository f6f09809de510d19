"""Figures in a sentence of earnings text: each amount's exact span and its value in base units.

Values are in base units: money in currency units ("RMB1.2 billion" -> 1.2e9), percentages, percentage points,
basis points and multiples as written ("16.8%" -> 16.8, "50 bps" -> 50). Choices the extractor can rely on:
- A span covers what makes the value: sign words ("negative", "minus"), "plus or minus"/"±", accounting
  parentheses, currency, scale and unit. Qualifiers ("approximately", "more than") and direction words stay
  outside it; qualifiers only set `approximate` and `bound`, and every bound also sets `approximate`.
- Direction words never change a sign: "down 5% to 7%" is 5..7 and "a loss of $3 million" is 3e6. The one
  exception is "flat to down 6%" (-6..0) / "flat to up 3%" (0..3), where the word makes the range.
- "X to Y", "X-Y" and "between X and Y" are ranges when both ends are the same kind (a bare end takes the
  other's currency, unit and scale); "from X to Y" is a change, and a range never runs high to low or
  between equal ends ("a 50-50 venture" is two numbers). "Points" alone are percentage points.
- "X, plus or minus Y%" is relative for money and plain numbers ("$32.5 billion, plus or minus 2%") and in
  points for percentages ("35%, plus or minus 2%" is 33..37).
- "$"/"dollars"/"cents" are USD unless the default currency is another dollar (HKD, TWD, ...); "¥" is JPY
  unless the default is RMB; "元" is RMB unless the default is TWD or HKD.
- A bare number with a scale word ("1.2 billion") is money in `default_currency` (currency_explicit False)
  unless a count noun ("users", "shares") is next to it; single-letter scales ("$28M", "$4.75B") need a
  written currency.
- Not figures: years, dates, clock times, quarter and fiscal labels ("Q1", "1Q24", "FY2024"), phone, ZIP and
  filing numbers, tickers ("2454.TW"), references ("page 6", "Item 2.02"), names and models ("S&P 500",
  "Dimensity 9500", "SU7"), specs ("512 node cluster"), list markers and enumerations ("(1) revenue").
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, NamedTuple

from bot.errors import InputError

AmountKind = Literal["money", "percent", "pp", "bps", "number", "multiple"]
Bound = Literal["min", "max"]


class Amount(NamedTuple):
    """One figure as written (`raw == text[start:end]`); `value` and `high` (ranges only) in base units.

    A named tuple rather than a frozen dataclass: thousands are made per document and a tuple is the cheapest
    immutable record to build.
    """

    start: int
    end: int
    raw: str
    value: float
    high: float | None
    kind: AmountKind
    unit: str | None
    currency_explicit: bool
    approximate: bool
    bound: Bound | None
    scale_written: bool


_DIGIT = re.compile(r"\d", re.ASCII)
_NUMBER = re.compile(
    r"""
    (?P<mask>
        \d{1,2}(?::\d{2}){1,2}(?!\d)                          # clock times, call timestamps (00:01:10)
      | \d+(?:-\d+){2,}(?!\d)                                 # 2024-03-31, 1-800-555-0199, accession numbers
      | \d+(?:\.\d+){2,}(?!\d)                                # versions, dotted phone numbers
      | \d+(?:/\d+)+                                          # 3/31/2024, 24/7, fractions
      | (?:\d{1,3}[ \u00a0-]?\()?\d{3}\)[ \u00a0]?\d{3}[-.]\d{4}(?!\d)    # (877) 407-0789, 1 (877) 407-0789
      | (?<=\+)\d{1,4}(?:[ \u00a0-]\(?\d{1,5}\)?){2,5}        # +1 (212) 555-0100, +852 2111 2123
      | \d{5}-\d{4}(?!\d)                                     # ZIP+4
    )
    | \d{1,3}(?:,\d{3})+(?:\.\d+)? | \d+(?:\.\d+)? | \.\d+
    """,
    re.VERBOSE | re.ASCII,
)
# What may be written before the digits, read backwards from them (the window is reversed): "(", currency,
# sign, "(", "plus or minus"/"±", "negative"/"minus". One anchored match instead of a search per position.
_LEFT_REVERSED = re.compile(
    r"""
    (?P<open2>\()?
    (?:[ \u00a0]?(?P<pre>\$(?:SU|KH|TN|A|C|S)(?![A-Za-z])|(?:BMR|DSU|DKH|DWT|RUE|PBG|YPJ|YNC)(?![A-Za-z])
        |[$€£¥]|幣民人|币民人|幣台新|幣臺新|幣港|元港))?
    (?P<sign>[-−])?
    (?P<open>\()?
    (?P<pm>\s+(?i:sunim\s+ro\s+sulp)(?![A-Za-z])|\s*[-−]/\+|\s*±)?
    (?P<sw>\s+(?i:evitagen|sunim)(?![A-Za-z]))?
    """,
    re.VERBOSE,
)
_NOTHING_LEFT: dict[str, int] = {}  # never modified: the parts before a number when there are none
_LEFT_PARTS = tuple(sorted(_LEFT_REVERSED.groupindex, key=_LEFT_REVERSED.groupindex.__getitem__))  # for groups()
_SUFFIX = re.compile(
    r"""
    (?:[ \u00a0-]?(?P<scale>(?i:thousand|million|billion|trillion|bn|mn|mln))(?![A-Za-z])
      | (?P<lscale>[kKmMB])(?![A-Za-z0-9]) | (?P<cscale>[萬万億亿千]))?
    (?P<unit>[ \u00a0]?(?:%|個百分點|个百分点|(?i:percentage\s+points?|percent(?:age)?\s+pts?|percent
            |per\s+cent|pct|ppts?|pp|pts|basis\s+points?|points?|bps|bp)(?![A-Za-z]))
        |x(?![A-Za-z0-9])|[ \u00a0](?i:times)(?![A-Za-z])|倍)?
    (?:[ \u00a0]?(?P<post>元|美元|港元|港幣|港币|新台幣|新臺幣|日圓|日元|歐元|欧元|英鎊|英镑|人民幣|人民币
        |(?:RMB|USD|HKD|TWD|EUR|GBP|JPY|CNY)(?![A-Za-z])
        |(?i:dollars?|cents?|yuan|renminbi|euros?|yen)(?![A-Za-z])))?
    """,
    re.VERBOSE,
)
_COMPOUND_LEFT = re.compile(r"(?<![\w.$€£¥])\w*[A-Za-z]\w*[-–]\Z", re.ASCII)  # COVID-19, 10b5-1, Q1-2024
_AMPM = re.compile(r"[ \u00a0]?[ap]\.?m\.?(?![A-Za-z])", re.IGNORECASE)
_COLUMN = re.compile(r"[ \u00a0\t]+[-−(]?[$€£¥]?\d")  # another figure follows: a table row, not a name
_ENUMERATION = re.compile(r"\s+[A-Za-z]")
_LIST_MARK = re.compile(r"[.)]\s")
_TO_FLAT = re.compile(r"[ \u00a0]to[ \u00a0]flat(?![A-Za-z])", re.IGNORECASE)
_TO_FLAT_START = (" to", " To", " TO", "\u00a0to")
_RANGE_GAP = re.compile(r"\s*(?:(?P<and>and)|to|through|-|–|—|~|至|到)\s*", re.IGNORECASE)
_TOLERANCE_GAP = re.compile(r"[ \u00a0]*,?[ \u00a0]*")
_LINK_GAP = re.compile(r"\s*(?:,\s*)?(?:and|or|to|through|&|-|–)?\s*", re.IGNORECASE)
_NUMERIC_PART = re.compile(r"\d[\d,]*(?:\.(\d+))?|\.(\d+)", re.ASCII)
_CODE = re.compile(r"[A-Z]{3}")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM = _LETTERS | frozenset("0123456789")
_GLUE = _ALNUM | frozenset("%)].")  # a hyphen after these joins two figures rather than making a minus
_STRIP = "([{\"'“‘”’,;:)]}"


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_KINDS: dict[str, AmountKind] = {"%": "percent", "pp": "pp", "bps": "bps", "x": "multiple"}
_CURRENCIES = {  # as written -> code; "$", "¥" and "元" depend on the default currency (see _currency)
    spelled: code
    for code, spellings in (
        ("USD", "US$ USD 美元"), ("HKD", "HK$ HKD 港元 港幣 港币"), ("TWD", "NT$ TWD 新台幣 新臺幣"),
        ("RMB", "RMB CNY 人民幣 人民币 yuan renminbi"), ("EUR", "EUR € euro euros 歐元 欧元"),
        ("GBP", "GBP £ 英鎊 英镑"), ("JPY", "JPY yen 日圓 日元"), ("AUD", "A$"), ("CAD", "C$"), ("SGD", "S$"),
        ("$", "$ dollar dollars cent cents"), ("¥", "¥"), ("元", "元"),
    )
    for spelled in spellings.split()
}
_DOLLARS = _words("USD HKD TWD AUD CAD SGD NZD")
_SCALES = {"thousand": 3, "k": 3, "千": 3, "萬": 4, "万": 4, "million": 6, "mn": 6, "mln": 6, "m": 6,
           "億": 8, "亿": 8, "billion": 9, "bn": 9, "b": 9, "trillion": 12}
_QUALIFYING: tuple[tuple[Bound | None, str], ...] = (  # comma-separated phrases and the bound each sets
    (None, "approximately,approx,about,around,roughly,nearly,almost,circa,some,~,close to"),
    ("min", "over,exceeding,exceeded,exceeds,above,upwards,more than,at least,greater than,in excess of,upwards of,"
            "north of,no less than,not less than"),
    ("max", "under,below,less than,up to,at most,no more than,not more than,fewer than,not exceeding,maximum of"),
)
_QUALIFIERS = {tuple(p.split()): bound for bound, phrases in _QUALIFYING for p in phrases.split(",")}
_CJK_QUALIFIERS: dict[str, Bound | None] = {"約": None, "约": None, "近": None, "逾": "min", "超過": "min",
                                            "超过": "min"}
_COMPARATIVE = _words("over above under below")  # "12% over $1.2 billion" compares, it does not bound
# Words before a figure that make _context read further: one word, or the last two of a longer phrase.
_TRIGGERS = frozenset(k[0] for k in _QUALIFIERS if len(k) == 1) | _words("between from down lower up higher")
_TRIGGERS_2 = frozenset(k[-2:] for k in _QUALIFIERS if len(k) > 1) | {("flat", "to")}
_PHRASE_ENDS = frozenset(last for _, last in _TRIGGERS_2)
_LEADS = "(-−±$€£¥BDRPY幣币元"  # the last character before the digits when _LEFT_REVERSED can match
_LEADS_AFTER_SPACE = _LEADS + "esES \t\n\u00a0"
_CONTAGIOUS = _words("label name spec date")
_CJK_LABELS = frozenset("頁页條条章節节項项")
_LABELS = _words(
    "slide slides page pages p pg item items section sections sec § note notes exhibit exhibits rule rules "
    "form chapter part article appendix annex table figure fig schedule line step phase version ver v no nos "
    "number # round tier gen generation series model class title paragraph clause footnote question episode "
    "season suite floor room building box route cik file fiscal fy year quarter code nasdaq nyse hkex sehk "
    "twse tpex sse szse lse tsx asx sgx krx tse amex"
)
_MONTHS = _words(
    "january jan february feb march mar april apr may june jun july jul august aug september sep sept october "
    "oct november nov december dec"
)
_SPECS = _words(
    "node nm nanometer nanometre core bit byte gb tb mb kb ghz mhz hz gbps inch watt kw kwh mw gw pin layer "
    "qubit megapixel mp"
)
_COUNTS = _words(
    "users user customers customer clients subscribers members shares share adss ads units people employees "
    "staff devices vehicles cars downloads orders transactions visits visitors accounts tons tonnes ton "
    "barrels barrel ounces ounce boe gallons gallon square cubic metric households homes stores restaurants "
    "locations maus daus players views impressions tokens parameters gpus chips wafers smartphones phones "
    "handsets cards patients doses tests students policies passengers seats rooms nights beds pieces copies "
    "items products skus servers nodes sites merchants sellers buyers drivers riders trips rides deliveries "
    "packages parcels shipments boxes bottles liters litres acres hectares miles km hours days weeks months "
    "years times installs apps calls messages subscriptions"
)
_FUNCTION = _words(
    "in of from for to the a an this that these was were is are be been and or with compared versus vs as at "
    "by on during year quarter which while respectively"
)


@dataclass(slots=True)
class _Atom:
    """A figure while it is being read: the number as written, signed, plus its power-of-ten scale."""

    start: int
    end: int
    mant: Decimal
    exp: int | None
    unit: str | None
    cur: str | None
    scale_written: bool
    letter_scale: bool
    pm: bool
    approx: bool = False
    bound: Bound | None = None
    between: bool = False
    from_: bool = False
    flat: int = 0
    drop: str | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    explicit: bool = True

    @property
    def bare(self) -> bool:
        return self.unit is None and self.cur is None and self.exp is None

    def value(self) -> Decimal:
        return self.mant.scaleb(self.exp or 0)


def _clean(token: str) -> str:
    return token.strip(_STRIP).rstrip(".").lower()


def _currency(written: str, default: str | None) -> str:
    code = _CURRENCIES.get(written) or _CURRENCIES[written.lower()]
    if code == "$":
        return default if default in _DOLLARS else "USD"
    if code == "¥":
        return "RMB" if default == "RMB" else "JPY"
    if code == "元":
        return default if default in ("TWD", "HKD") else "RMB"
    return code


def _unit(written: str) -> str:
    u = " ".join(written.lower().split())
    if u.startswith(("basis", "bp")):
        return "bps"
    if u in ("x", "times", "倍"):
        return "x"
    return "pp" if "point" in u or "pt" in u or u == "pp" or "百分" in u else "%"


def _read(text: str, nm: re.Match[str], floor: int, default: str | None) -> _Atom:
    """One number with what is written around it; `drop` says why it is not a figure."""
    ns, ne = nm.span()
    c1 = text[ns - 1] if ns > floor else ""
    lead = c1 and (c1 in _LEADS or (c1.isspace() and text[max(floor, ns - 2) : ns - 1] in _LEADS_AFTER_SPACE))
    lm = _LEFT_REVERSED.match(text[max(floor, ns - 32) : ns][::-1]) if lead else None  # cheap test first
    at = {k: ns - lm.end(k) for k, v in zip(_LEFT_PARTS, lm.groups(), strict=True) if v} if lm else _NOTHING_LEFT
    closed = False
    start = ns
    if at:  # where each part written before the digits starts
        start = min(at.values())
        if at.get("sign") == start and start and text[start - 1] in _GLUE:
            del at["sign"]  # the hyphen of "43-45%" joins two figures
        closed = ne < len(text) and text[ne] == ")" and ("open" in at or "open2" in at)
        if not closed and "open2" in at:
            at = _NOTHING_LEFT
        elif not closed and "open" in at:
            at = {k: v for k, v in at.items() if v > at["open"]}
        start = min(at.values(), default=ns)
    sm = _SUFFIX.match(text, ne + closed)  # always matches (every part is optional), maybe empty
    assert sm is not None
    word_scale, letter_scale, cjk_scale, unit_written, post = sm.groups()
    scale = word_scale or letter_scale or cjk_scale
    unit = _unit(unit_written) if unit_written else None
    written = lm.group("pre")[::-1] if lm and "pre" in at else post
    exp = _SCALES[scale.lower()] if scale else None
    if written and written.lower().startswith("cent"):
        exp = (exp or 0) - 2
    mant = Decimal(nm.group().replace(",", ""))
    atom = _Atom(start, sm.end(), -mant if "sign" in at or "sw" in at or closed else mant,
                 exp, unit, _currency(written, default) if written and not unit else None, scale_written=bool(scale),
                 letter_scale=bool(letter_scale), pm="pm" in at)
    atom.drop = _why_not(text, atom, nm.group(), closed)
    if atom.drop is None:
        _context(text, atom)
    return atom


def _context(text: str, a: _Atom) -> None:
    """Qualifiers, 'between', 'from' and 'flat to' written around the figure."""
    start = a.start
    if start and not text[start - 1].isascii():
        for cjk in (text[start - 1 : start], text[max(0, start - 2) : start]):
            if cjk in _CJK_QUALIFIERS:
                a.approx, a.bound = True, _CJK_QUALIFIERS[cjk]
    window = text[max(0, start - 60) : start]
    tail = window.rsplit(None, 2)  # the last two words: enough to tell whether anything needs reading
    last = _clean(tail[-1]) if tail else ""
    pair = (_clean(tail[-2]), last) if len(tail) > 1 and last in _PHRASE_ENDS else None
    if last not in _TRIGGERS and pair not in _TRIGGERS_2:
        if text.startswith(_TO_FLAT_START, a.end) and (tf := _TO_FLAT.match(text, a.end)):
            a.flat, a.end = 1, tf.end()
        return
    raws = [t for t in window.split()[-5:] if _clean(t)]
    words = [_clean(t) for t in raws]
    for n in (3, 2, 1):
        key = tuple(words[-n:])
        if len(words) < n or key not in _QUALIFIERS:
            continue
        if words[-n] in _COMPARATIVE and len(raws) > n and raws[-n - 1][-1] in "0123456789%":
            break
        a.approx, a.bound, words = True, _QUALIFIERS[key], words[:-n]
        break
    a.between, a.from_ = words[-1:] == ["between"], words[-1:] == ["from"]
    if words[-3:-1] == ["flat", "to"] and words[-1] in ("down", "lower", "up", "higher"):
        a.flat = -1 if words[-1] in ("down", "lower") else 1
    elif words[-2:] == ["flat", "to"]:
        a.flat = 1
    elif text.startswith(_TO_FLAT_START, a.end) and (tf := _TO_FLAT.match(text, a.end)):
        a.flat, a.end = (-1 if words[-1:] in (["down"], ["lower"]) else 1), tf.end()
        return
    if a.flat:
        a.start = start - len(window) + window.lower().rfind("flat")


def _why_not(text: str, a: _Atom, digits: str, closed: bool) -> str | None:
    """Why the number at `a` is not a figure (a year, a date, a label, ...), or None when it is one."""
    if (digits[0] == "0" and digits[1:2] not in ("", ".")) or (
        len(digits) > 15 and len(digits.split(".")[0].replace(",", "")) > 15
    ):
        return "identifier"  # a leading zero ("05", "0,5") or too many digits for a figure
    before, before2 = text[a.start - 1 : a.start], text[max(0, a.start - 2) : max(0, a.start - 1)]
    after = text[a.end : a.end + 1]
    if before in _ALNUM or before in ("'", "’", "#", "@", "_") or (before == "," and before2.isdigit()):
        return "attached"  # FY2024, Q1'24, 17/502,101
    if (text[a.end - 1] in _ALNUM and after in _ALNUM) or (before == "." and before2 in _ALNUM):
        return "attached"  # 21E, 1Q24, 5G, v.5
    if before in ("-", "–") and _COMPOUND_LEFT.search(text, max(0, a.start - 24), a.start):
        return "attached"
    if not a.bare:
        return None
    integer, n = digits.isdigit(), len(text)
    value = int(digits) if integer else -1
    if integer and len(digits) == 4 and 1900 <= value <= 2099:
        return "year"
    if closed and integer and _ENUMERATION.match(text, a.end):
        return "enumeration"
    head = text[max(0, a.start - 40) : a.start]
    if integer and _LIST_MARK.match(text, a.end) and not head[head.rfind("\n") + 1 :].strip():
        return "list marker"  # "1. Revenue" at the start of a line
    nxt = text[a.end + 1 : a.end + 2]
    if (after in ("-", "–") and nxt in _LETTERS) or (after == "." and "A" <= nxt <= "Z"):
        return "compound"
    if before == "第" or after in _CJK_LABELS:  # 第6頁 page 6, 第21E條 section 21E
        return "label"
    if _AMPM.match(text, a.end):
        return "time"
    following = text[a.end : min(n, a.end + 24)].split()[:1] if after.isspace() else []
    follows = _clean(following[0]) if following else ""
    if follows in _SPECS:
        return "spec"
    parts = head.split()
    if not parts or not head[-1].isspace():
        return None
    raw, word = parts[-1], _clean(parts[-1])
    if word in _LABELS and raw[-1] not in ",;" and (raw[-1] != "." or len(word) <= 3):  # "No. 1", not "page. 5"
        return "label"
    month_before, month_after = word in _MONTHS and raw[0].isupper(), follows in _MONTHS and following[0][0].isupper()
    if 1 <= value <= 31 and (month_before or month_after):
        return "date"
    name_like = raw[0] in _LETTERS and (any("A" <= c <= "Z" for c in raw) or "&" in raw)
    if raw.istitle() and raw.isalpha():  # a capitalised word after a full stop just starts the sentence
        body = head.rstrip()[: -len(raw)]
        name_like = len(parts) > 1 and parts[-2][-1] not in ".!?:;•" and "\n" not in body[len(body.rstrip()) :]
    if integer and name_like and raw[-1].isalnum() and word not in _MONTHS and not _COLUMN.match(text, a.end):
        return "name"
    return None


def _propagate(text: str, atoms: list[_Atom]) -> None:
    """'pages 5 and 6', '256 and 512 node': a bare number joined to a reference or a spec is one too."""
    if not any(a.drop in _CONTAGIOUS for a in atoms):
        return  # nothing to spread (the usual case)
    pairs = list(itertools.pairwise(atoms))
    for a, b in pairs + pairs[::-1]:
        if a.bare and b.bare and b.start - a.end < 16 and _LINK_GAP.fullmatch(text, a.end, b.start):
            for src, dst in ((a, b), (b, a)):
                if src.drop in _CONTAGIOUS and dst.drop is None:
                    dst.drop = src.drop


_BY_CHANGE = re.compile(
    r"\b(?:increas\w*|decreas\w*|grew|grown|rose|risen|fell|fallen|declin\w*|up|down|improv\w*|reduc\w*|"
    r"expand\w*|jump\w*|climb\w*|dropp?\w*|narrow\w*|widen\w*)\s+by\s+$",
    re.I,
)


def _join(text: str, a: _Atom, b: _Atom) -> bool:
    """Read `a` and `b` as one figure (a range, a value with a tolerance) into `a`; False when they are two."""
    if b.pm and _TOLERANCE_GAP.fullmatch(text, a.end, b.start):
        base, t = a.value(), abs(b.mant)
        if b.unit == "%" and a.unit is None:
            delta = abs(base) * t / 100
        elif a.unit == "%" and b.unit in ("%", "pp", "bps"):
            delta = t / 100 if b.unit == "bps" else t
        elif (a.unit, a.cur) == (b.unit, b.cur) or b.bare:
            delta = t.scaleb(b.exp if b.exp is not None else (a.exp or 0))
        else:
            return False
        a.end, a.low, a.high, a.approx = b.end, base - delta, base + delta, a.approx or b.approx
        return True
    gap = _RANGE_GAP.fullmatch(text, a.end, b.start)
    if gap is None or b.pm or a.from_ or a.flat or b.flat or (gap.group("and") is not None and not a.between):
        return False
    left = text[max(0, a.start - 40) : a.start]
    if left[-1:].isspace() and left.rstrip()[-2:].lower() == "by" and _BY_CHANGE.search(left):
        return False  # "increased by $0.06 to $0.43": a change, then the new value
    ka, kb = (a.unit, a.cur), (b.unit, b.cur)
    if ka != (None, None) and kb != (None, None) and ka != kb:
        return False  # a bare end takes the other end's currency or unit, and its scale
    exp_a, exp_b = (a.exp if a.exp is not None else b.exp), (b.exp if b.exp is not None else a.exp)
    low, high = a.mant.scaleb(exp_a or 0), b.mant.scaleb(exp_b or 0)
    if low >= high:
        return False
    if ka == (None, None):
        a.unit, a.cur, a.explicit = b.unit, b.cur, b.explicit
    a.exp, a.end, a.high, a.approx = exp_a, b.end, high, a.approx or b.approx
    a.scale_written |= b.scale_written
    a.letter_scale |= b.letter_scale
    return True


def _counted(text: str, a: _Atom) -> bool:
    """A count noun next to the figure ('3 million monthly active users'): it is not money."""
    for tok in text[a.end : a.end + 48].split()[:3] if text[a.end : a.end + 1].isspace() else []:
        word = _clean(tok)
        if word in _COUNTS:
            return True
        if word in _FUNCTION or not word.isalpha() or tok[-1] in ",.;:":
            break
    prev = text[max(0, a.start - 24) : a.start].split()[-1:]
    return bool(prev) and _clean(prev[0]) in _COUNTS


def _finish(text: str, a: _Atom, default: str | None) -> Amount | None:
    money = a.cur is None and a.unit is None and a.scale_written and not a.letter_scale
    if money and default and not _counted(text, a):
        a.cur, a.explicit = default, False
    if a.letter_scale and a.cur is None:
        return None
    value, high = (a.low if a.low is not None else a.value()), a.high
    if high is None and a.flat:
        value, high = sorted((Decimal(0), -abs(value) if a.flat < 0 else value))
    elif high is None and a.pm:
        value, high = -abs(value), abs(value)
    kind = _KINDS[a.unit] if a.unit else "money" if a.cur else "number"
    return Amount(a.start, a.end, text[a.start : a.end], float(value), None if high is None else float(high),
                  kind, a.unit or a.cur, a.cur is not None and a.explicit, a.approx, a.bound, a.scale_written)


def _default(default_currency: str | None) -> str | None:
    if default_currency is None:
        return None
    code = default_currency.strip().upper()
    if not _CODE.fullmatch(code):
        raise InputError(f"default_currency must be a three-letter code like 'USD', got {default_currency!r}")
    return "RMB" if code == "CNY" else code


def _glued(text: str, start: int, end: int) -> bool:
    """Digits inside a word ("Q3", "FY2024", "SU7", "21E", "1Q24"): dropped before any other reading."""
    before, after = text[start - 1 : start], text[end : end + 1]
    if before in (",", ".") and text[start - 2 : start - 1].isdigit():
        return True  # "1,23": a malformed group
    return (before in _LETTERS and before not in "BDRPY") or (after in _LETTERS and after not in "kKmMBbxp")


def find_amounts(text: str, default_currency: str | None = None) -> list[Amount]:
    """Every figure in `text`, in order and non-overlapping (see the module docstring for what counts)."""
    default = _default(default_currency)
    atoms: list[_Atom] = []
    pos = floor = 0
    while (m := _DIGIT.search(text, pos)) is not None:
        p = m.start()
        if p > floor and text[p - 1] == "." and text[p - 2 : p - 1] not in _ALNUM:
            p -= 1  # ".5"
        nm = _NUMBER.match(text, p)
        if nm is None or nm.group("mask") or _glued(text, p, nm.end()):
            pos = floor = nm.end() if nm else p + 1
            continue
        atoms.append(_read(text, nm, floor, default))
        pos = floor = max(atoms[-1].end, nm.end())
    _propagate(text, atoms)
    kept = [a for a in atoms if a.drop is None]
    out: list[Amount] = []
    i = 0
    while i < len(kept):
        near = i + 1 < len(kept) and kept[i + 1].start - kept[i].end <= 16  # ranges join figures close together
        joined = near and _join(text, kept[i], kept[i + 1])
        amount = _finish(text, kept[i], default)
        if amount is not None:
            out.append(amount)
        i += 2 if joined else 1
    return out


def parse_amount(fragment: str, default_currency: str | None = None) -> Amount | None:
    """The one figure in a short fragment ("RMB1,775.7 million", "43% to 45%"); None for none or several."""
    found = find_amounts(fragment, default_currency)
    return found[0] if len(found) == 1 else None


def decimals(raw: str) -> int:
    """Decimals written in the numeric part ("RMB1,775.7 million" -> 1; a range: its most precise end)."""
    parts = _NUMERIC_PART.findall(raw)
    if not parts:
        raise InputError(f"no number in {raw[:40]!r}")
    return max(len(a or b) for a, b in parts)


_SYMBOLS = {"USD": "$", "HKD": "HK$", "TWD": "NT$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$",
            "CAD": "C$", "SGD": "S$", "CNY": "RMB"}
_SUFFIXES = {"%": "%", "pp": "pp", "bps": "bps", "x": "x"}
_DISPLAY_SCALES = ((12, "T"), (9, "B"), (6, "M"), (3, "K"), (0, ""))


def _places(q: Decimal) -> int:
    return max(0, -int(q.normalize().as_tuple().exponent))


def format_amount(value: float, unit: str | None, *, decimals: int | None = None) -> str:
    """Short display form: "RMB1,775.7M", "$4.75B", "16.8%", "1.6pp", "50bps", "3.5x", "$2.23" ("count": "4.1M").

    Money and plain numbers take the largest scale that shows the value exactly with `decimals` places
    (at most two when not given), else the largest scale rounded.
    """
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"cannot format the non-finite amount {value}")
    if decimals is not None and decimals < 0:
        raise InputError(f"decimals must be zero or more, got {decimals}")
    unit = None if unit == "count" else unit
    if unit is not None and unit not in _SUFFIXES and not _CODE.fullmatch(unit):
        raise InputError(f"unknown unit {unit!r}: expected a currency code, '%', 'pp', 'bps', 'x', 'count' or None")
    v = abs(Decimal(repr(value)))
    most = 2 if decimals is None else decimals
    q, letter = v, ""
    if unit not in _SUFFIXES:
        fits = [(q, s) for e, s in _DISPLAY_SCALES if (q := v.scaleb(-e)) < 10000 and (q >= 1 or not e)]
        exact = [(q, s) for q, s in fits if _places(q) <= most]
        q, letter = (exact or fits or [(v.scaleb(-12), "T")])[0]
    places = decimals if decimals is not None else _places(round(q, min(_places(q), most)))
    number = f"{q:,.{places}f}"
    sign = "-" if value < 0 and any(c in "123456789" for c in number) else ""
    if unit in _SUFFIXES:
        return f"{sign}{number}{_SUFFIXES[unit]}"
    return f"{sign}{_SYMBOLS.get(unit, unit) if unit else ''}{number}{letter}"
