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
from decimal import Decimal
from typing import Final, Literal, NamedTuple

from bot.extract.amount_words import (
    ALNUM,
    BY_CHANGE,
    CJK_QUALIFIERS,
    COMPARATIVE,
    CONTAGIOUS,
    LEADS,
    LEADS_AFTER_SPACE,
    LEFT_REVERSED,
    LETTERS,
    NOT_ONLY_CURRENCY,
    PHRASE_ENDS,
    POST_FIRST,
    QUALIFIERS,
    SCALES,
    STRIP,
    SUFFIX,
    SUFFIX_FIRST,
    TRIGGERS,
    TRIGGERS_2,
    Bound,
    clean,
    counted,
    currency_code,
    default_code,
    unit_code,
    why_not,
)

AmountKind = Literal["money", "percent", "pp", "bps", "number", "multiple"]


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


# _NUMBER without its masks, searched for: where no mask can start (see _skipped), it reads the same. The leading
# digit is factored out so that the search skips to a digit quickly.
_PLAIN: Final = re.compile(r"\d(?:\d{0,2}(?:,\d{3})+(?:\.\d+)?|\d*(?:\.\d+)?)", re.ASCII)
_NUMBER: Final = re.compile(
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
_TO_FLAT: Final = re.compile(r"[ \u00a0]to[ \u00a0]flat(?![A-Za-z])", re.IGNORECASE)
_TO_FLAT_START: Final = (" to", " To", " TO", "\u00a0to")
_RANGE_GAP: Final = re.compile(r"\s*(?:(?P<and>and)|to|through|-|–|—|~|至|到)\s*", re.IGNORECASE)
_TOLERANCE_GAP: Final = re.compile(r"[ \u00a0]*,?[ \u00a0]*")
_LINK_GAP: Final = re.compile(r"\s*(?:,\s*)?(?:and|or|to|through|&|-|–)?\s*", re.IGNORECASE)
_GLUE: Final = ALNUM | frozenset("%)].")  # a hyphen after these joins two figures rather than making a minus
_KINDS: Final[dict[str, AmountKind]] = {"%": "percent", "pp": "pp", "bps": "bps", "x": "multiple"}
_DIGITS: Final = frozenset("0123456789")
_MASK_NEXT: Final = frozenset(":-/(")  # after the digits, these may make a _NUMBER mask (see _skipped)
_SPACES: Final = frozenset(" \u00a0")
_SEPARATORS: Final = frozenset(" \u00a0-")
_CODES: Final[dict[tuple[str, str | None], str]] = {}  # (currency as written, default) -> currency_code's answer
_READ_AFTER: Final = TRIGGERS | PHRASE_ENDS  # the last word before a figure when _context may read further


class _Atom:
    """A figure while it is being read: the number as written, signed, plus its power-of-ten scale.

    Not a dataclass: compiled by mypyc, a dataclass's generated __init__ still runs as Python, setting each field
    through the generic attribute protocol, and an atom is made for most numbers.
    """

    __slots__ = ("approx", "between", "bound", "cur", "digits", "drop", "end", "exp", "explicit", "flat", "from_",
                 "high", "letter_scale", "low", "negative", "pm", "scale_written", "start", "unit")

    def __init__(self, start: int, end: int, digits: str, negative: bool, exp: int | None, unit: str | None,
                 cur: str | None, scale_written: bool, letter_scale: bool, pm: bool, drop: str | None) -> None:
        self.start = start
        self.end = end
        self.digits = digits  # without thousands separators
        self.negative = negative
        self.exp = exp
        self.unit = unit
        self.cur = cur
        self.scale_written = scale_written
        self.letter_scale = letter_scale
        self.pm = pm
        self.drop = drop
        self.approx = False
        self.bound: Bound | None = None
        self.between = False
        self.from_ = False
        self.flat = 0
        self.low: Decimal | None = None
        self.high: Decimal | None = None
        self.explicit = True

    @property
    def bare(self) -> bool:
        return self.unit is None and self.cur is None and self.exp is None

    @property
    def mant(self) -> Decimal:
        """The number as written, signed (made when needed: most figures only need `number`)."""
        mant = Decimal(self.digits)
        return -mant if self.negative else mant

    def value(self) -> Decimal:
        return self.mant.scaleb(self.exp or 0)

    def number(self) -> float:
        """float(self.value()), read from the digits directly when that is the same (no rounding to 28 digits)."""
        if len(self.digits) > 28:
            return float(self.value())
        f = float(self.digits if self.exp is None else f"{self.digits}e{self.exp}")
        return -f if self.negative and f else f  # -Decimal("0") is Decimal("0")


def _left(text: str, ns: int, ne: int, floor: int) -> tuple[int, bool, bool, bool, str | None]:
    """What is written before the digits: (start, closed parenthesis, negative, plus-or-minus, currency)."""
    lm = LEFT_REVERSED.match(text[max(floor, ns - 32) : ns][::-1])
    if lm is None or not lm.end():  # every part is optional: an empty match when nothing is there
        return ns, False, False, False, None
    open2, pre, sign, open_, pm, sw = lm.groups()
    if sign is not None and open_ is None and pm is None and sw is None:
        outer = ns - lm.end()
        if outer and text[outer - 1] in _GLUE:
            sign = None  # the hyphen of "43-45%" joins two figures
    closed = (open_ is not None or open2 is not None) and ne < len(text) and text[ne] == ")"
    if not closed and open2 is not None:
        return ns, False, False, False, None
    if not closed and open_ is not None:
        open_ = pm = sw = None  # an unclosed "(": only what is written inside it counts
    last = 6 if sw else 5 if pm else 4 if open_ else 3 if sign else 2 if pre else 1 if open2 else 0
    return (ns - lm.end(last) if last else ns, closed, closed or sign is not None or sw is not None,
            pm is not None, pre[::-1] if pre is not None else None)


def _read(text: str, ns: int, ne: int, floor: int, default: str | None, atoms: list[_Atom]) -> int:
    """The number at `ns:ne` with what is written around it, kept in `atoms` when it may matter; where it ends."""
    start, closed, negative, pm = ns, False, False, False
    written: str | None = None
    c1 = text[ns - 1] if ns > floor else ""
    if (c1 == "$" and ns - 3 >= floor and text[ns - 2] == " " and not text[ns - 3].isspace()
            and text[ns - 3] not in NOT_ONLY_CURRENCY):
        start, written = ns - 1, "$"  # " $1.2": the usual case, what _left would read
    elif c1 and (c1 in LEADS or (c1.isspace() and ns - 2 >= floor and text[ns - 2] in LEADS_AFTER_SPACE)):
        start, closed, negative, pm, written = _left(text, ns, ne, floor)
    end = ne + closed
    exp: int | None = None
    scaled = False
    letter_scale: str | None = None
    unit: str | None = None
    c = text[end : end + 1]
    if c == "%" and not _post_follows(text, end + 1):
        end, unit = end + 1, "%"  # "16.8%": what SUFFIX would read
    elif c in SUFFIX_FIRST or (c in _SEPARATORS and text[end + 1 : end + 2] in SUFFIX_FIRST):
        sm = SUFFIX.match(text, end)  # always matches (every part is optional), maybe empty
        assert sm is not None
        word_scale, letter_scale, cjk_scale, unit_written, post = sm.groups()
        end, scale = sm.end(), word_scale or letter_scale or cjk_scale
        if scale:
            exp, scaled = SCALES[scale.lower()], True
        unit = unit_code(unit_written) if unit_written else None
        written = written or post
    cur: str | None = None
    if written:
        if written[0] in "cC" and written.lower().startswith("cent"):
            exp = (exp or 0) - 2
        if not unit:
            key = (written, default)
            cur = _CODES.get(key) or _CODES.setdefault(key, currency_code(written, default))
    digits = text[ns:ne]
    drop = why_not(text, start, end, digits, unit is None and cur is None and exp is None, closed)
    if drop is not None and drop not in CONTAGIOUS:
        return end  # (never before ne) nothing joins or spreads to a year, a date part or a word's digits
    atom = _Atom(start, end, digits.replace(",", ""), negative, exp, unit, cur, scaled,
                 letter_scale is not None, pm, drop)
    if drop is None:
        _context(text, atom)
    atoms.append(atom)
    return atom.end


def _post_follows(text: str, at: int) -> bool:
    """Whether a currency may be written at `at` (after "%"): then SUFFIX reads it."""
    c = text[at : at + 1]
    return c in POST_FIRST or (c in _SPACES and text[at + 1 : at + 2] in POST_FIRST)


def _context(text: str, a: _Atom) -> None:
    """Qualifiers, 'between', 'from' and 'flat to' written around the figure."""
    start = a.start
    if start and not text[start - 1].isascii():
        for cjk in (text[start - 1 : start], text[max(0, start - 2) : start]):
            if cjk in CJK_QUALIFIERS:
                a.approx, a.bound = True, CJK_QUALIFIERS[cjk]
    window = text[max(0, start - 60) : start]
    tail = window.rsplit(None, 2)  # the last two words: enough to tell whether anything needs reading
    last = tail[-1].strip(STRIP).rstrip(".").lower() if tail else ""  # clean
    if last not in _READ_AFTER or (
        last not in TRIGGERS and (len(tail) < 2 or (clean(tail[-2]), last) not in TRIGGERS_2)
    ):
        if text.startswith(_TO_FLAT_START, a.end) and (tf := _TO_FLAT.match(text, a.end)):
            a.flat, a.end = 1, tf.end()
        return
    raws: list[str] = []
    words: list[str] = []
    for raw in window.split()[-5:]:
        if word := raw.strip(STRIP).rstrip(".").lower():  # clean
            raws.append(raw)
            words.append(word)
    for n in (3, 2, 1):
        if len(words) < n or (key := tuple(words[-n:])) not in QUALIFIERS:
            continue
        if words[-n] in COMPARATIVE and len(raws) > n and raws[-n - 1][-1] in "0123456789%":
            break
        a.approx, a.bound, words = True, QUALIFIERS[key], words[:-n]
        break
    last = words[-1] if words else ""
    a.between, a.from_ = last == "between", last == "from"
    flat = "flat" in words
    if flat and words[-3:-1] == ["flat", "to"] and last in ("down", "lower", "up", "higher"):
        a.flat = -1 if last in ("down", "lower") else 1
    elif flat and words[-2:] == ["flat", "to"]:
        a.flat = 1
    elif text.startswith(_TO_FLAT_START, a.end) and (tf := _TO_FLAT.match(text, a.end)):
        a.flat, a.end = (-1 if last in ("down", "lower") else 1), tf.end()
        return
    if a.flat:
        a.start = start - len(window) + window.lower().rfind("flat")


def _propagate(text: str, atoms: list[_Atom]) -> None:
    """'pages 5 and 6', '256 and 512 node': a bare number joined to a reference or a spec is one too."""
    pairs = list(itertools.pairwise(atoms))
    for a, b in pairs + pairs[::-1]:
        if a.bare and b.bare and b.start - a.end < 16 and _LINK_GAP.fullmatch(text, a.end, b.start):
            for src, dst in ((a, b), (b, a)):
                if src.drop in CONTAGIOUS and dst.drop is None:
                    dst.drop = src.drop


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
    if left[-1:].isspace() and left.rstrip()[-2:].lower() == "by" and BY_CHANGE.search(left):
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


def _finish(text: str, a: _Atom, default: str | None) -> Amount | None:
    money = a.cur is None and a.unit is None and a.scale_written and not a.letter_scale
    if money and default and not counted(text, a.start, a.end):
        a.cur, a.explicit = default, False
    if a.letter_scale and a.cur is None:
        return None
    high = a.high
    if a.low is not None:
        value = float(a.low)
    elif high is None and (a.flat or a.pm):
        base = a.value()
        low, high = sorted((Decimal(0), -abs(base) if a.flat < 0 else base)) if a.flat else (-abs(base), abs(base))
        value = float(low)
    else:
        value = a.number()
    kind = _KINDS[a.unit] if a.unit else "money" if a.cur else "number"
    # tuple.__new__ is what Amount(...) calls, without the named tuple's Python-level __new__ in between.
    return tuple.__new__(Amount, (a.start, a.end, text[a.start : a.end], value,
                                  None if high is None else float(high), kind, a.unit or a.cur,
                                  a.cur is not None and a.explicit, a.approx, a.bound, a.scale_written))


def _skipped(text: str, start: int, end: int) -> int:
    """Where reading goes on when the number at `start:end` is not read, else -1: a _NUMBER mask (a date, a time,
    a phone number...) or digits inside a word ("Q3", "FY2024", "SU7", "21E", "1Q24"), dropped before any reading.
    """
    after = text[end : end + 1]
    before = text[start - 1 : start]  # "" at 0
    if (
        after in _MASK_NEXT  # where none of these is, no mask can start: the plain number is _NUMBER's reading
        or before == "+"
        or (after in _SPACES and text.startswith("(", end + 1))
        or (after == "." and text[end + 1 : end + 2] in _DIGITS)
        or (after == ")" and end - start == 3)
    ) and (nm := _NUMBER.match(text, start)) is not None and nm.group("mask"):
        return nm.end()
    if before in (",", ".") and text[start - 2 : start - 1].isdigit():
        return end  # "1,23": a malformed group
    if (before in LETTERS and before not in "BDRPY") or (after in LETTERS and after not in "kKmMBbxp"):
        return end
    return -1


def find_amounts(text: str, default_currency: str | None = None) -> list[Amount]:
    """Every figure in `text`, in order and non-overlapping (see the module docstring for what counts)."""
    default = default_code(default_currency)
    atoms: list[_Atom] = []
    pos = floor = 0
    while (m := _PLAIN.search(text, pos)) is not None:
        ns, ne = m.span()
        if ns > floor and text[ns - 1] == "." and text[ns - 2 : ns - 1] not in ALNUM:
            dot = _NUMBER.match(text, ns - 1)  # ".5"
            ns, ne = ns - 1, dot.end() if dot else ne
        skip = _skipped(text, ns, ne)
        pos = floor = skip if skip >= 0 else _read(text, ns, ne, floor, default, atoms)
    if not atoms:
        return []
    kept = [a for a in atoms if a.drop is None]
    if len(kept) < len(atoms):  # the others are labels, names, specs and dates: they may spread (rarely)
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
