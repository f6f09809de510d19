"""Words around a figure: currency, scale and unit spellings, qualifiers, count nouns, and why a number is no figure."""

from __future__ import annotations

import re
from typing import Final, Literal

from bot.errors import InputError

Bound = Literal["min", "max"]

# What may be written before the digits, read backwards from them (the window is reversed): "(", currency,
# sign, "(", "plus or minus"/"±", "negative"/"minus". One anchored match instead of a search per position.
LEFT_REVERSED: Final = re.compile(
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
# After the digits: scale, unit, currency. Each part opens with a lookahead for its first letters (no other
# character matches them under IGNORECASE), so that a part that is not there fails at once.
SUFFIX: Final = re.compile(
    r"""
    (?:[ \u00a0-]?(?=[tTmMbB])(?P<scale>(?i:thousand|million|billion|trillion|bn|mn|mln))(?![A-Za-z])
      | (?P<lscale>[kKmMB])(?![A-Za-z0-9]) | (?P<cscale>[萬万億亿千]))?
    (?P<unit>[ \u00a0]?(?=[%個个pPbB])(?:%|個百分點|个百分点|(?i:percentage\s+points?|percent(?:age)?\s+pts?
            |percent|per\s+cent|pct|ppts?|pp|pts|basis\s+points?|points?|bps|bp)(?![A-Za-z]))
        |x(?![A-Za-z0-9])|[ \u00a0](?i:times)(?![A-Za-z])|倍)?
    (?:[ \u00a0]?(?=[元美港新日歐欧英人RUHTEGJCdDcCyYrReE])
        (?P<post>元|美元|港元|港幣|港币|新台幣|新臺幣|日圓|日元|歐元|欧元|英鎊|英镑|人民幣|人民币
        |(?:RMB|USD|HKD|TWD|EUR|GBP|JPY|CNY)(?![A-Za-z])
        |(?i:dollars?|cents?|yuan|renminbi|euros?|yen)(?![A-Za-z])))?
    """,
    re.VERBOSE,
)
LEADS: Final = "(-−±$€£¥BDRPY幣币元"  # the last character before the digits when LEFT_REVERSED can match
LEADS_AFTER_SPACE: Final = LEADS + "esES \t\n\u00a0"
NOT_ONLY_CURRENCY: Final = "-−±eEsSſ"  # before " $": a sign, "+/-", "±", "negative", "minus" (ſ folds to s)
POST_FIRST: Final = frozenset("元美港新日歐欧英人RUHTEGJCdDcCyYrReE")  # how a currency after the figure starts
SUFFIX_FIRST: Final = POST_FIRST | frozenset("tTmMbBkK萬万億亿千%個个pPx倍")  # ... and anything else SUFFIX reads
# Around a number that is not a figure (see why_not).
_COMPOUND_LEFT: Final = re.compile(r"(?<![\w.$€£¥])\w*[A-Za-z]\w*[-–]\Z", re.ASCII)  # COVID-19, 10b5-1, Q1-2024
_AMPM: Final = re.compile(r"[ \u00a0]?[ap]\.?m\.?(?![A-Za-z])", re.IGNORECASE)
_COLUMN: Final = re.compile(r"[ \u00a0\t]+[-−(]?[$€£¥]?\d")  # another figure follows: a table row, not a name
_ENUMERATION: Final = re.compile(r"\s+[A-Za-z]")
_LIST_MARK: Final = re.compile(r"[.)]\s")
CURRENCY_CODE: Final = re.compile(r"[A-Z]{3}")
BY_CHANGE: Final = re.compile(
    r"\b(?:increas\w*|decreas\w*|grew|grown|rose|risen|fell|fallen|declin\w*|up|down|improv\w*|reduc\w*|"
    r"expand\w*|jump\w*|climb\w*|dropp?\w*|narrow\w*|widen\w*)\s+by\s+$",
    re.I,  # "increased by $0.06 to $0.43": a change, then the new value (see amounts._join)
)
LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
ALNUM: Final = LETTERS | frozenset("0123456789")
STRIP: Final = "([{\"'“‘”’,;:)]}"


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_CURRENCIES: Final = {  # as written -> code; "$", "¥" and "元" depend on the default currency (see currency_code)
    spelled: code
    for code, spellings in (
        ("USD", "US$ USD 美元"), ("HKD", "HK$ HKD 港元 港幣 港币"), ("TWD", "NT$ TWD 新台幣 新臺幣"),
        ("RMB", "RMB CNY 人民幣 人民币 yuan renminbi"), ("EUR", "EUR € euro euros 歐元 欧元"),
        ("GBP", "GBP £ 英鎊 英镑"), ("JPY", "JPY yen 日圓 日元"), ("AUD", "A$"), ("CAD", "C$"), ("SGD", "S$"),
        ("$", "$ dollar dollars cent cents"), ("¥", "¥"), ("元", "元"),
    )
    for spelled in spellings.split()
}
_DOLLARS: Final = _words("USD HKD TWD AUD CAD SGD NZD")
SCALES: Final = {"thousand": 3, "k": 3, "千": 3, "萬": 4, "万": 4, "million": 6, "mn": 6, "mln": 6, "m": 6,
          "億": 8, "亿": 8, "billion": 9, "bn": 9, "b": 9, "trillion": 12}
_QUALIFYING: Final[tuple[tuple[Bound | None, str], ...]] = (  # comma-separated phrases and the bound each sets
    (None, "approximately,approx,about,around,roughly,nearly,almost,circa,some,~,close to"),
    ("min", "over,exceeding,exceeded,exceeds,above,upwards,more than,at least,greater than,in excess of,upwards of,"
            "north of,no less than,not less than"),
    ("max", "under,below,less than,up to,at most,no more than,not more than,fewer than,not exceeding,maximum of"),
)
QUALIFIERS: Final = {tuple(p.split()): bound for bound, phrases in _QUALIFYING for p in phrases.split(",")}
CJK_QUALIFIERS: Final[dict[str, Bound | None]] = {"約": None, "约": None, "近": None, "逾": "min", "超過": "min",
                                           "超过": "min"}
COMPARATIVE: Final = _words("over above under below")  # "12% over $1.2 billion" compares, it does not bound
# Words before a figure that make amounts._context read further: one word, or the last two of a longer phrase.
TRIGGERS: Final = frozenset(k[0] for k in QUALIFIERS if len(k) == 1) | _words("between from down lower up higher")
TRIGGERS_2: Final = frozenset(k[-2:] for k in QUALIFIERS if len(k) > 1) | {("flat", "to")}
PHRASE_ENDS: Final = frozenset(last for _, last in TRIGGERS_2)
_ATTACHING: Final = ALNUM | frozenset("'’#@_")  # before the number, these make it part of a word or a reference
CONTAGIOUS: Final = _words("label name spec date")
_DEFAULTS: Final[dict[str, str]] = {}  # default_currency as given -> its code, once checked
_CJK_LABELS: Final = frozenset("頁页條条章節节項项")
_LABELS: Final = _words(
    "slide slides page pages p pg item items section sections sec § note notes exhibit exhibits rule rules "
    "form chapter part article appendix annex table figure fig schedule line step phase version ver v no nos "
    "number # round tier gen generation series model class title paragraph clause footnote question episode "
    "season suite floor room building box route cik file fiscal fy year quarter code nasdaq nyse hkex sehk "
    "twse tpex sse szse lse tsx asx sgx krx tse amex"
)
_MONTHS: Final = _words(
    "january jan february feb march mar april apr may june jun july jul august aug september sep sept october "
    "oct november nov december dec"
)
_SPECS: Final = _words(
    "node nm nanometer nanometre core bit byte gb tb mb kb ghz mhz hz gbps inch watt kw kwh mw gw pin layer "
    "qubit megapixel mp"
)
_COUNTS: Final = _words(
    "users user customers customer clients subscribers members shares share adss ads units people employees "
    "staff devices vehicles cars downloads orders transactions visits visitors accounts tons tonnes ton "
    "barrels barrel ounces ounce boe gallons gallon square cubic metric households homes stores restaurants "
    "locations maus daus players views impressions tokens parameters gpus chips wafers smartphones phones "
    "handsets cards patients doses tests students policies passengers seats rooms nights beds pieces copies "
    "items products skus servers nodes sites merchants sellers buyers drivers riders trips rides deliveries "
    "packages parcels shipments boxes bottles liters litres acres hectares miles km hours days weeks months "
    "years times installs apps calls messages subscriptions"
)
_FUNCTION: Final = _words(
    "in of from for to the a an this that these was were is are be been and or with compared versus vs as at "
    "by on during year quarter which while respectively"
)


def clean(token: str) -> str:
    """A word as looked up in these tables: lower case, without the punctuation around it."""
    return token.strip(STRIP).rstrip(".").lower()


def currency_code(written: str, default: str | None) -> str:
    """The code of a currency as written ("HK$", "dollars", "元"), given the default currency's code."""
    code = _CURRENCIES.get(written) or _CURRENCIES[written.lower()]
    if code == "$":
        return default if default in _DOLLARS else "USD"
    if code == "¥":
        return "RMB" if default == "RMB" else "JPY"
    if code == "元":
        return default if default in ("TWD", "HKD") else "RMB"
    return code


def unit_code(written: str) -> str:
    """"%", "pp", "bps" or "x" for a unit as written ("per cent", "percentage points", "basis points", "times")."""
    u = " ".join(written.lower().split())
    if u.startswith(("basis", "bp")):
        return "bps"
    if u in ("x", "times", "倍"):
        return "x"
    return "pp" if "point" in u or "pt" in u or u == "pp" or "百分" in u else "%"


def default_code(default_currency: str | None) -> str | None:
    """The code of `default_currency` as given ("cny" -> "RMB"); InputError when it is not a three-letter code."""
    if default_currency is None:
        return None
    if (code := _DEFAULTS.get(default_currency)) is not None:
        return code
    code = default_currency.strip().upper()
    if not CURRENCY_CODE.fullmatch(code):
        raise InputError(f"default_currency must be a three-letter code like 'USD', got {default_currency!r}")
    code = _DEFAULTS[default_currency] = "RMB" if code == "CNY" else code
    return code


def counted(text: str, start: int, end: int) -> bool:
    """A count noun next to the figure at `start:end` ('3 million monthly active users'): it is not money."""
    for tok in text[end : end + 48].split()[:3] if text[end : end + 1].isspace() else []:
        word = clean(tok)
        if word in _COUNTS:
            return True
        if word in _FUNCTION or not word.isalpha() or tok[-1] in ",.;:":
            break
    prev = text[max(0, start - 24) : start].split()[-1:]
    return bool(prev) and clean(prev[0]) in _COUNTS


def why_not(text: str, start: int, end: int, digits: str, bare: bool, closed: bool) -> str | None:
    """Why the number read at `start:end` is not a figure (a year, a date, a label, ...), or None when it is one."""
    if (digits[0] == "0" and digits[1:2] not in ("", ".")) or (
        len(digits) > 15 and len(digits.split(".")[0].replace(",", "")) > 15
    ):
        return "identifier"  # a leading zero ("05", "0,5") or too many digits for a figure
    before = text[start - 1] if start else ""
    after = text[end : end + 1]
    if before in _ATTACHING or (before == "," and text[start - 2 : start - 1].isdigit()):
        return "attached"  # FY2024, Q1'24, 17/502,101
    if (after in ALNUM and text[end - 1] in ALNUM) or (before == "." and text[start - 2 : start - 1] in ALNUM):
        return "attached"  # 21E, 1Q24, 5G, v.5
    if before in ("-", "–") and _COMPOUND_LEFT.search(text, max(0, start - 24), start):
        return "attached"
    if not bare:
        return None
    integer, n = digits.isdigit(), len(text)
    value = int(digits) if integer else -1
    if integer and len(digits) == 4 and 1900 <= value <= 2099:
        return "year"
    if closed and integer and _ENUMERATION.match(text, end):
        return "enumeration"
    head = text[max(0, start - 40) : start]
    if integer and _LIST_MARK.match(text, end) and not head[head.rfind("\n") + 1 :].strip():
        return "list marker"  # "1. Revenue" at the start of a line
    nxt = text[end + 1 : end + 2]
    if (after in ("-", "–") and nxt in LETTERS) or (after == "." and "A" <= nxt <= "Z"):
        return "compound"
    if before == "第" or after in _CJK_LABELS:  # 第6頁 page 6, 第21E條 section 21E
        return "label"
    if _AMPM.match(text, end):
        return "time"
    following = text[end : min(n, end + 24)].split()[:1] if after.isspace() else []
    follows = clean(following[0]) if following else ""
    if follows in _SPECS:
        return "spec"
    parts = head.split()
    if not parts or not head[-1].isspace():
        return None
    raw, word = parts[-1], clean(parts[-1])
    if word in _LABELS and raw[-1] not in ",;" and (raw[-1] != "." or len(word) <= 3):  # "No. 1", not "page. 5"
        return "label"
    month_before, month_after = word in _MONTHS and raw[0].isupper(), follows in _MONTHS and following[0][0].isupper()
    if 1 <= value <= 31 and (month_before or month_after):
        return "date"
    name_like = raw[0] in LETTERS and (any("A" <= c <= "Z" for c in raw) or "&" in raw)
    if raw.istitle() and raw.isalpha():  # a capitalised word after a full stop just starts the sentence
        body = head.rstrip()[: -len(raw)]
        name_like = len(parts) > 1 and parts[-2][-1] not in ".!?:;•" and "\n" not in body[len(body.rstrip()) :]
    if integer and name_like and raw[-1].isalnum() and word not in _MONTHS and not _COLUMN.match(text, end):
        return "name"
    return None
