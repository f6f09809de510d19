"""The catalogue of headline metrics, their aliases, and finding metric mentions in a sentence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

from bot.extract.phrases import Hit, PhraseIndex, expand

MetricKind = Literal["money", "percent", "per_share", "count", "any"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A canonical metric: a stable key, a display name, regex aliases, and what kind of figure it takes."""

    key: str
    name: str
    aliases: tuple[str, ...]
    kind: MetricKind = "money"
    negative_aliases: tuple[str, ...] = ()


def _d(key: str, name: str, kind: MetricKind, *aliases: str, neg: tuple[str, ...] = ()) -> MetricDef:
    return MetricDef(key, name, aliases, kind, neg)


BASE_CATALOGUE: tuple[MetricDef, ...] = (
    _d("revenue", "Total revenues", "money",
       r"total (?:net )?revenues?", r"net revenues?", r"total (?:net )?sales", r"net sales", r"revenues?",
       r"top[- ]line", r"turnover", r"sales"),
    _d("gross_profit", "Gross profit", "money", r"gross profits?"),
    _d("gross_margin", "Gross margin", "percent", r"gross (?:profit )?margins?", r"GPM"),
    _d("operating_income", "Operating income", "money",
       r"operating (?:income|profits?)", r"income from operations", r"operating (?:loss|losses)",
       r"loss from operations", neg=(r"loss",)),
    _d("operating_margin", "Operating margin", "percent", r"operating (?:profit )?margins?"),
    _d("ebitda", "EBITDA", "money", r"EBITDA"),
    _d("ebitda_margin", "EBITDA margin", "percent", r"EBITDA margins?"),
    _d("net_income", "Net income", "money",
       r"net (?:income|profits?|earnings)(?: attributable to [\w ,.&'-]{1,60}?(?:shareholders|stockholders))?",
       r"net (?:loss|losses)", r"profit attributable to [\w ,.&'-]{1,60}?(?:shareholders|owners)",
       neg=(r"loss",)),
    _d("net_margin", "Net margin", "percent", r"net (?:profit |income )?margins?"),
    _d("eps_ads", "Earnings per ADS", "per_share",
       r"(?:net )?(?:income|earnings|profit|loss) per (?:diluted )?ADS", r"per (?:diluted )?ADS",
       neg=(r"loss",)),
    _d("eps", "EPS", "per_share",
       r"(?:diluted )?(?:net )?(?:earnings|income|loss) per (?:diluted )?(?:common )?share", r"(?:diluted )?EPS",
       r"per diluted share", neg=(r"loss",)),
    _d("affo", "AFFO", "money", r"AFFO", r"adjusted funds from operations"),
    _d("ffo", "FFO", "money", r"(?:core )?FFO", r"funds from operations"),
    _d("cost_of_revenue", "Cost of revenue", "money",
       r"(?:total )?costs? of (?:revenues?|sales|goods sold)", r"COGS"),
    _d("operating_expenses", "Operating expenses", "money",
       r"(?:total )?operating expenses", r"opex", r"total expenses"),
    _d("rd_expenses", "R&D expenses", "money",
       r"R&D (?:expenses?|spending|costs?)", r"research and development (?:expenses?|costs?)"),
    _d("sm_expenses", "Selling and marketing expenses", "money",
       r"(?:selling|sales) and marketing (?:expenses?|costs?)", r"S&M expenses?"),
    _d("ga_expenses", "G&A expenses", "money",
       r"general and administrative (?:expenses?|costs?)", r"G&A (?:expenses?|costs?)"),
    _d("sga_expenses", "SG&A expenses", "money",
       r"SG&A(?: expenses?)?", r"selling, general,? and administrative (?:expenses?|costs?)"),
    _d("capex", "Capex", "money", r"capital expenditures?", r"cap ?ex", r"capital spending"),
    _d("free_cash_flow", "Free cash flow", "money", r"free cash flows?", r"FCF"),
    _d("operating_cash_flow", "Operating cash flow", "money",
       r"(?:net )?cash (?:flows? )?(?:provided by|from|generated (?:by|from)) operati(?:ons|ng activities)",
       r"operating cash flows?"),
    _d("cash", "Cash", "money",
       r"cash, cash equivalents,? (?:and|&) (?:short-term |restricted cash|marketable securities|investments)"
       r"[\w ,-]{0,40}?(?=\s(?:of|were|was|amounted|totaled|totalled|reached|at|stood))",
       r"cash and (?:cash )?equivalents", r"cash (?:position|balance|on hand|reserves?)", r"total cash"),
    _d("backlog", "Backlog", "money", r"(?:total )?backlog", r"remaining performance obligations?", r"RPO"),
    _d("bookings", "Bookings", "money", r"(?:total )?(?:net )?bookings", r"orders? intake", r"(?:new )?orders"),
    _d("aum", "AUM", "money", r"assets under management", r"AUM"),
    _d("same_store_sales", "Same-store sales", "percent",
       r"same[- ]store sales", r"comparable (?:store )?sales", r"comp(?:arable)? (?:store )?sales", r"comps"),
    _d("net_interest_margin", "Net interest margin", "percent", r"net interest margins?", r"NIM"),
    _d("net_interest_income", "Net interest income", "money", r"net interest income"),
    _d("dividend", "Dividend per share", "per_share", r"(?:quarterly |cash )?dividends? (?:of|per share)"),
    _d("share_repurchase", "Share repurchases", "money",
       r"share (?:repurchases?|buybacks?)", r"repurchased", r"bought back"),
    _d("arr", "ARR", "money", r"annual(?:ized)? recurring revenues?", r"ARR"),
    _d("tax_rate", "Tax rate", "percent", r"(?:effective )?tax rate"),
)

# A segment or product revenue named in the text: "AI revenue", "public cloud revenues",
# "revenues from enterprise cloud services", "revenues contributed by Xiaomi and Kingsoft ecosystem".
# (Possessive "*+": giving back word characters can never let the \s after them match, so it only saves time.)
SEGMENT_BEFORE = re.compile(
    r"(?<![\w&/'-])(?P<seg>(?:[A-Za-z][\w&/'-]*+\s){1,4})(?:services?\s|business\s|segment\s)?(?:net\s)?"
    r"(?:revenues?|sales)\b$"
)
SEGMENT_AFTER = re.compile(
    r"^\s(?:from|contributed by|generated (?:by|from))\s(?:our\s|the\s)?"
    r"(?P<seg>(?:[A-Za-z][\w&/'-]*\s){0,4}?[A-Za-z][\w&/'-]*?)(?=\s(?:services|business|segment)\b|[,.;]|\s(?:was|were|"
    r"reached|grew|increased|decreased|rose|fell|declined|amounted|totaled|came|of|at|is|are|has|have)\b)"
)
SEGMENT_TERMS_OF = re.compile(r"\bin terms of (?P<seg>[\w&/' -]{2,40}?)(?: services| business| segment)?, $", re.I)
SEGMENT_STOP = frozenset(
    (
        "our the total net quarterly this its of in and record consolidated annual fiscal year quarter "
        "adjusted gaap non-gaap reported organic higher lower strong overall group company's company first "
        "second third fourth full-year full that these those which a an to for from with by on as at was were "
        "is are increased decreased grew average recurring deferred interest other operating more less same "
        "we you they i will would have has had be been being it better much different following new various "
        "all some such high-margin low-margin stronger weak solid healthy margin entire your their my "
        "generate generated contributed achieve achieving drive driving expand expanding expect expects "
        "expected see saw seeing grow growing deliver delivered report recognize recognized book booked "
        "recorded into delivering posted post guide guided estimate achieved reached generates drove delivers "
        "reports projecting expecting forecasting guiding anticipating targeting "
    ).split()
)
SEGMENT_STOP_BUT_AND = SEGMENT_STOP - {"and"}
COST_LINE = re.compile(
    r"^(?:(?:our|the|total|adjusted)\s)?(?P<name>(?:(?!costs?\b|expenses\b)[A-Za-z][\w&/-]*\s(?:and\s)?){0,3}"
    r"(?!costs?\b|expenses\b)[A-Za-z][\w&/-]*)\s(?P<what>costs?|expenses)\b"
    r"(?=\s(?:and (?P<name2>other|[A-Za-z][\w&/-]*) (?:costs|expenses)\s)?"
    r"(?:were|was|decreased|increased|rose|fell|declined|amounted|totaled|grew|reached|came))",
    re.I,
)
# Most re.I patterns here need some word, so they are tried only when the lower-cased sentence holds it. That rules
# a pattern out only for ASCII text: re.I also matches a few non-ASCII letters to ASCII ones ('ſ' to "s", 'ı' to
# "i", the Kelvin sign to "k"). So `folded` is the sentence lower-cased if it is ASCII, else None (try them all).
BASIS_IN_NAME = re.compile(r"\b(?:adjusted|non-?GAAP|non-?IFRS)\b", re.I)
BASIS_ADJUSTED = re.compile(r"\b(?:adjusted|non-?GAAP|non-?IFRS|underlying|pro forma|core)\s+(?:[\w&-]+\s+)?$", re.I)
BASIS_GAAP = re.compile(r"(?<!non-)(?<!non )\b(?:GAAP|IFRS|reported)\s+(?:[\w&-]+\s+)?$")


class MetricMention(NamedTuple):
    """A metric named in a sentence, at [start, end) of the sentence text."""

    key: str
    name: str
    kind: MetricKind
    start: int
    end: int
    basis: Literal["adjusted", "gaap"] | None
    negative: bool


NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return NOT_SLUG.sub("_", text.lower()).strip("_")


@dataclass(frozen=True)
class Catalogue:
    """A compiled set of metric definitions (the base catalogue plus config extensions).

    Aliases that expand to a small set of phrases are matched word by word (fast); the few that do not
    (open-ended patterns) are regexes, tried only when their literal prefix occurs in the sentence.
    """

    defs: tuple[MetricDef, ...]
    index: PhraseIndex[MetricDef]
    fallbacks: tuple[tuple[str, re.Pattern[str], MetricDef], ...]
    negatives: dict[str, re.Pattern[str]]

    def hits(self, sentence: str, folded: str | None = None) -> list[Hit[MetricDef]]:
        """The metrics named in the sentence, left to right, non-overlapping (folded: sentence.lower(), if known)."""
        folded = sentence.lower() if folded is None else folded
        found = self.index.find(sentence, folded)
        extra = False
        for prefix, pattern, d in self.fallbacks:
            if prefix in folded:
                # In ASCII text a match starts where the folded text holds the prefix, so from its first one on.
                for m in pattern.finditer(sentence, folded.find(prefix) if sentence.isascii() else 0):
                    found.append(Hit(m.start(), m.end(), d))
                    extra = True
        if extra:  # else the index's own hits are already in order and do not overlap
            found.sort(key=lambda h: (h.start, -(h.end - h.start)))
            kept: list[Hit[MetricDef]] = []
            for h in found:
                if not kept or h.start >= kept[-1].end:
                    kept.append(h)
            found = kept
        return found


def compile_catalogue(defs: Sequence[MetricDef]) -> Catalogue:
    phrases: list[tuple[str, MetricDef]] = []
    fallbacks: list[tuple[str, re.Pattern[str], MetricDef]] = []
    for d in defs:
        for alias in d.aliases:
            expanded = expand(alias)
            if expanded is not None:
                phrases.extend((p, d) for p in expanded)
                continue
            prefix = re.split(r"[\\(\[.?*+{|]", alias, maxsplit=1)[0].lower()
            pattern = re.compile(r"(?<![\w-])(?:" + alias + r")(?![\w-])", re.IGNORECASE)
            fallbacks.append((prefix, pattern, d))
    negatives = {d.key: re.compile("|".join(d.negative_aliases), re.I) for d in defs if d.negative_aliases}
    return Catalogue(tuple(defs), PhraseIndex(phrases), tuple(fallbacks), negatives)


@lru_cache(maxsize=8)
def catalogue(extra: tuple[MetricDef, ...] = ()) -> Catalogue:
    """The compiled catalogue, extended with company-specific KPIs from config."""
    return compile_catalogue((*extra, *BASE_CATALOGUE))


def _basis(sentence: str, start: int, matched: str, folded: str | None) -> Literal["adjusted", "gaap"] | None:
    lo = start - 30 if start > 30 else 0
    window = sentence[lo:start]
    if folded is None:
        name_cue = window_cue = True
    else:  # the words BASIS_IN_NAME and BASIS_ADJUSTED need
        name, low = matched.lower(), folded[lo:start]
        name_cue = "adjusted" in name or "non" in name
        window_cue = "adjusted" in low or "non" in low or "underlying" in low or "pro forma" in low or "core" in low
    if (name_cue and BASIS_IN_NAME.search(matched)) or (window_cue and BASIS_ADJUSTED.search(window)):
        return "adjusted"
    if ("GAAP" in window or "IFRS" in window or "reported" in window) and BASIS_GAAP.search(window):
        return "gaap"
    return None


def _segment_words(words: list[str]) -> str | None:
    """The last words before a stop word, at most three."""
    last = words[-1]
    if last.lower() in SEGMENT_STOP or not last[0].isalpha():
        return None  # (most often)
    kept = 0
    for w in reversed(words[-3:]):
        if w.lower() in SEGMENT_STOP or not w[0].isalpha():
            break
        kept += 1
    return " ".join(words[len(words) - kept :]) or None


def _last_words(sentence: str, lo: int, end: int) -> int:
    """Where SEGMENT_BEFORE can start matching in sentence[lo:end]: it spans at most six whitespace characters,
    so it starts after the seventh space from the end."""
    head = sentence[lo:end].rsplit(" ", 7)
    return lo + len(head[0]) if len(head) == 8 else lo


def _segment_revenue(sentence: str, start: int, end: int, folded: str | None) -> str | None:
    """The segment named around a 'revenue' mention, if any ('AI revenue' -> 'AI')."""
    lo = sentence.rfind(" ", 0, max(0, start - 60)) + 1 if start > 60 else 0  # never cut a word in two
    # SEGMENT_BEFORE needs the mention to end with one of its words ($ is at `end`, or before a newline there).
    ends_right = sentence.endswith(("revenue", "revenues", "sales", "\n"), lo, end)
    before = SEGMENT_BEFORE.search(sentence, _last_words(sentence, lo, end), end) if ends_right else None
    if before:
        seg = _segment_words(before.group("seg").split())
        if seg:
            return seg
    after = SEGMENT_AFTER.match(sentence[end : end + 80])
    if after:
        words = after.group("seg").split()
        if words and not any(w.lower() in SEGMENT_STOP_BUT_AND for w in words):
            return " ".join(words)
    window = max(0, start - 60)
    terms_cue = folded is None or folded.find("in terms of", window, start) >= 0
    terms = SEGMENT_TERMS_OF.search(sentence[window:start]) if terms_cue else None
    if terms:
        return terms.group("seg")
    return None


SENTENCE_BASIS = re.compile(r"\bon an? (?P<basis>adjusted|non-GAAP|non-IFRS|GAAP|IFRS|reported) basis\b", re.I)


def find_mentions(sentence: str, cat: Catalogue) -> list[MetricMention]:
    """Every metric mention in a sentence, left to right, non-overlapping."""
    folded = sentence.lower() if sentence.isascii() else None
    hits = cat.hits(sentence, folded)
    cost_cue = folded is None or "cost" in folded or "expenses" in folded
    cost = COST_LINE.match(sentence) if cost_cue else None
    if not hits and cost is None:
        return []  # (most sentences)
    out: list[MetricMention] = []
    stated = SENTENCE_BASIS.search(sentence) if "basis" in sentence else None
    sentence_basis: Literal["adjusted", "gaap"] | None = None
    if stated:
        sentence_basis = "gaap" if stated.group("basis").lower() in ("gaap", "ifrs", "reported") else "adjusted"
    negatives = cat.negatives
    for start, end, d in hits:
        matched = sentence[start:end]
        basis = _basis(sentence, start, matched, folded)
        if basis is None and stated is not None and start > stated.start():
            basis = sentence_basis
        key, name = d.key, d.name
        if key == "revenue" and matched[:5].lower() != "total":
            seg = _segment_revenue(sentence, start, end, folded)
            if seg:
                key, name = f"{slug(seg)}_revenue", f"{seg[0].upper()}{seg[1:]} revenue"
        neg_pattern = negatives.get(d.key)
        negative = neg_pattern is not None and neg_pattern.search(matched) is not None
        if basis == "adjusted":
            key, name = f"adjusted_{key}", f"Adjusted {name[0].lower()}{name[1:]}" if not name[:3].isupper() else (
                f"Adjusted {name}")
        out.append(MetricMention(key, name, d.kind, start, end, basis, negative))
    if cost and not any(mm.start < cost.end() and cost.start("name") < mm.end for mm in out):
        label = cost.group("name")
        what = cost.group("what").lower()
        noun = "costs" if what.startswith("cost") else "expenses"
        mention = MetricMention(
            f"{slug(label)}_{noun}", f"{label[0].upper()}{label[1:]} {noun}", "money",
            cost.start("name"), cost.end(), _basis(sentence, cost.start("name"), cost.group(0), folded), False,
        )
        out.insert(0, mention)
        if cost.group("name2"):
            second = cost.group("name2")
            at = sentence.find(f"{second} {noun}", cost.end())
            if at >= 0:
                out.insert(1, MetricMention(f"{slug(second)}_{noun}", f"{second[0].upper()}{second[1:]} {noun}",
                                            "money", at, at + len(second) + len(noun) + 1, None, False))
    return out


def find_metric_key(text: str, extra: tuple[MetricDef, ...] = ()) -> str | None:
    """The catalogue key a user's words name ('adjusted ebitda margin' -> 'adjusted_ebitda_margin')."""
    mentions = find_mentions(text, catalogue(extra))
    if not mentions:
        return None
    best = max(mentions, key=lambda mm: mm.end - mm.start)
    return best.key
