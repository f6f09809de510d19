"""Press-release loading from markup: HTML (SEC exhibits, Workiva) and Markdown wire re-posts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import accumulate

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.errors import InputError
from bot.extract.load_transcript import CJK, Para, Parsed, clean

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- release metadata

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
DATE = r"(?P<month>[A-Z][a-z]{2,8})\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>(?:19|20)\d{2})"
DATELINE = re.compile(rf"^[A-Z][^\n]{{0,80}}?[,–—-]\s*{DATE}\s*(?:--|[-–—/(])")
RELEASE_DATE = re.compile(rf"\b(?:for\s+immediate\s+release|release\s+date|dated?)\s*:?\s*{DATE}", re.I)
HEADLINE = re.compile(
    r"\b(?:reports|announces|releases|posts|approves|delivers|declares)\b|\bresults\b|\bearnings\b", re.I
)
GENERIC_TITLE = re.compile(r"^(?:document|untitled|exhibit\s*[\d.]+|ex-?\d+(?:\.\d+)?|.*\.html?)$", re.I)
TICKER = re.compile(r"\((?:NYSE(?:\s+American)?|NASDAQ|Nasdaq|OTC[A-Z]*|TSX|AMEX)\s*:\s*([A-Z][A-Z.]{0,6})\)")


def published_from(paras: Sequence[Para]) -> datetime | None:
    """The release date from a dateline ("CITY, ST - March 6, 2025 (WIRE) -") near the top."""
    for para in paras[:40]:
        match = DATELINE.match(para.text)
        if match is None and _may_state_date(para.text):
            match = RELEASE_DATE.search(para.text)
        if not match:
            continue
        month = MONTHS.get(match["month"].lower())
        if month is None:
            continue
        try:
            return datetime(int(match["year"]), month, int(match["day"]), tzinfo=UTC)
        except ValueError:
            continue
    return None


def _may_state_date(text: str) -> bool:
    """False when RELEASE_DATE cannot match `text`, tested much faster than the case-insensitive search.

    Each of its openings contains "date" or "relea", whose letters `re.I` matches only in upper or lower case.
    """
    lower = text.lower()
    return "date" in lower or "relea" in lower


def ticker_from(paras: Sequence[Para]) -> str | None:
    """The issuer's ticker from an exchange tag "(NYSE: DHR)" near the top."""
    for para in paras[:20]:
        if match := TICKER.search(para.text):
            return match.group(1).rstrip(".")
    return None


def headline_index(paras: Sequence[Para]) -> int | None:
    """Index of the release headline: the first short line near the top that reads like one."""
    for i, para in enumerate(paras[:25]):
        if para.section != "table" and len(para.text) <= 200 and HEADLINE.search(para.text):
            return i
    return None


def release(fmt: str, paras: list[Para], title: str | None = None) -> Parsed:
    """A press release's Parsed: title (given, or the headline, marked as header), date and ticker."""
    if title is None and (index := headline_index(paras)) is not None:
        title = paras[index].text
        paras[index].section = "header"
    return Parsed(
        fmt, "press_release", paras, title=title, published=published_from(paras), ticker=ticker_from(paras)
    )


# --------------------------------------------------------------------------- table rows

CURRENCY_PREFIX = frozenset({"$", "US$", "USD", "€", "£", "¥", "RMB", "HK$", "NT$", "C$", "A$", "S$"})
CLOSER = re.compile(r"^[)%]{1,3}$")  # ")" "%" ")%" closing the number in the cell before
BULLET_CELL = re.compile(r"^[•◦▪●○■□·]$")
BULLET_PREFIX = re.compile(r"^[•◦▪●○■□·]\s*")
PAGE_NUMBER = re.compile(r"^(?:\d{1,3}|[\W_]+)$")  # page footers and rules like "###": not text


def merge_cells(cells: Sequence[str]) -> list[str]:
    """Table cells with split symbols put back: "$" + "4,655" -> "$4,655", "(12.3" + ")" -> "(12.3)"."""
    out: list[str] = []
    for cell in cells:
        if not cell:
            continue
        if out and (CLOSER.match(cell) or out[-1] in CURRENCY_PREFIX):
            out[-1] += cell
        else:
            out.append(cell)
    return out


def row_paras(cells: Sequence[str]) -> list[Para]:
    """One table row: a "a | b | c" row (section table), or plain text when only one cell remains."""
    merged = merge_cells([c for c in cells if c and not BULLET_CELL.match(c)])
    if not merged:
        return []
    if len(merged) == 1:
        return [Para(merged[0])]
    return [Para(" | ".join(merged), section="table")]


# --------------------------------------------------------------------------- HTML

BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary tbody td tfoot th "
    "thead tr ul".split()
)
HEADINGS = frozenset({"h1", "h2", "h3"})
SKIP_TAGS = frozenset(
    "script style head title noscript template svg iframe object embed math select option button ix:header "
    "-comment".split()
)
HIDDEN = re.compile(r"display\s*:\s*none")  # on the lower-cased style attribute
# raised text, in the lower-cased style; two patterns, each starting with a literal, which `re` scans for quickly
SUPER_ALIGN = re.compile(r"vertical-align\s*:\s*super")
RAISED_TOP = re.compile(r"top(?<!\wtop)\s*:\s*-\d")  # (?<!\wtop): "top" starts a word, as with \btop
FOOTNOTE_MARK = re.compile(r"^[\d*†‡§,()\s]{1,4}$")
BODY_TAG = re.compile(r"<body\b", re.I)
SGML_DOCUMENT = re.compile(r"\s*<DOCUMENT>", re.I)
MAX_NESTING = 2000
NESTING_CHECK_TAGS = 10_000
NESTING_TAG = re.compile(
    r"<(/?)(?!(?:br|img|hr|meta|link|input|col|wbr|area|base|embed|param|source|track|keygen|p|li|td|th|tr|dt"
    r"|dd|option|optgroup|thead|tbody|tfoot|colgroup|caption|rb|rt|rtc|rp|html|head|body)\b)[A-Za-z]"
)


class _Lines:
    """Accumulates inline text and flushes it as paragraphs at block boundaries."""

    def __init__(self, *, in_cell: bool = False) -> None:
        self.in_cell = in_cell
        self.paras: list[Para] = []
        self.buffer: list[str] = []
        self.headings: list[str] = []

    def flush(self, heading: bool = False) -> None:
        if self.buffer:
            text = BULLET_PREFIX.sub("", clean("".join(self.buffer)))
            self.buffer.clear()
            if text and (self.in_cell or not PAGE_NUMBER.match(text)):
                self.paras.append(Para(text))
                if heading:
                    self.headings.append(text)


def _footnote_mark(node: LexborNode, tag: str, style: str | None) -> bool:
    """A superscript footnote reference ("Earnings per share<sup>1</sup>"), which is not text."""
    raised = style and (
        ("super" in style and SUPER_ALIGN.search(style)) or ("top" in style and RAISED_TOP.search(style))
    )
    if tag != "sup" and not raised:
        return False
    return bool(FOOTNOTE_MARK.match(node.text(deep=True) or ""))


def _walk(root: LexborNode, out: _Lines) -> None:
    """Depth-first over `root`, iteratively (deep nesting cannot overflow the stack).

    The stack holds nodes to visit and, as plain strings, the tags of blocks to close.
    """
    stack: list[LexborNode | str] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str):  # the end of a block
            out.flush(heading=node in HEADINGS)
            continue
        tag = node.tag or ""
        if tag == "-text":
            out.buffer.append(node.text_content or "")
            continue
        if tag in SKIP_TAGS or tag.startswith("-"):
            continue
        style = node.attributes.get("style")
        style = style.lower() if style else None
        if style and "display" in style and HIDDEN.search(style):
            continue
        if _footnote_mark(node, tag, style):
            continue
        if tag == "br":
            out.flush()
            continue
        if tag == "table" and len(node.css("table")) == 1:  # css() includes the node itself
            out.flush()
            _table(node, out)
            continue
        if tag in BLOCK_TAGS or tag == "table":
            out.flush()
            stack.append(tag)
        children = list(node.iter(include_text=True))
        children.reverse()
        stack.extend(children)


def _table(table: LexborNode, out: _Lines) -> None:
    """A data table: one paragraph per row, cells joined with " | "."""
    sub = _Lines(in_cell=True)  # reused: emptied after each cell
    for row in table.css("tr"):
        cells: list[str] = []
        for cell in row.iter():
            if cell.tag not in ("td", "th"):
                continue
            if cell.first_child is None:  # an empty cell (most cells of SEC tables are spacers)
                cells.append("")
                continue
            _walk(cell, sub)
            sub.flush()
            cells.append(" ".join(p.text for p in sub.paras))
            sub.paras.clear()
        out.paras.extend(row_paras(cells))


def nesting_depth(text: str) -> int:
    """How deep explicitly closed elements nest (void and auto-closing elements are not counted)."""
    found = NESTING_TAG.findall(text)
    return max(accumulate(-1 if slash else 1 for slash in found), default=0)


def parse_html(text: str) -> Parsed:
    """Visible text of an HTML release as paragraphs, with data tables read row by row."""
    if SGML_DOCUMENT.match(text):  # an EDGAR <DOCUMENT><TYPE>..<TEXT>html</TEXT> wrapper
        upper = text.upper()
        begin, end = upper.find("<TEXT>"), upper.rfind("</TEXT>")
        if begin >= 0:
            text = text[begin + len("<TEXT>") : end if end > begin else len(text)]
    # the parser's cost grows with the square of the nesting depth (10,000 levels take about a second);
    # real documents nest a few dozen levels, and small ones cannot nest deep enough to matter
    if text.count("<") > NESTING_CHECK_TAGS and (depth := nesting_depth(text)) > MAX_NESTING:
        raise InputError(f"HTML nests elements {depth:,} levels deep (limit {MAX_NESTING:,}): not a document")
    tree = LexborHTMLParser(text)
    body = tree.body
    if body is None or not (body.text(deep=True) or "").strip():
        if BODY_TAG.search(text):
            raise InputError("HTML <body> has no visible text")
        raise InputError("HTML has no <body>: nothing to read")
    out = _Lines()
    _walk(body, out)
    out.flush()
    if not out.paras:
        raise InputError("HTML <body> has no visible text")
    title_node = tree.css_first("title")
    title = clean(title_node.text() or "") if title_node is not None else ""
    if not title or GENERIC_TITLE.match(title):
        title = out.headings[0] if out.headings else ""
    return release("html_release", out.paras, title or None)


# --------------------------------------------------------------------------- Markdown

MD_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
MD_BULLET = re.compile(r"^\s*(?:[*+•-]|\d{1,3}[.)])\s+")
MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
MD_IMAGE = re.compile(r"!\[[^\]\n]{0,300}\]\([^)\s]{0,500}\)")
MD_LINK = re.compile(r"\[([^\]\n]{0,300})\]\(([^)\s]{0,500})(?:\s+\"[^\"\n]{0,300}\")?\)")
MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
MD_EMPHASIS = re.compile(  # [^*] / [^_] keep each attempt short: no quadratic scans on stray markers
    r"(\*{1,3})(?=[^*\s])([^*\n]{1,300}?)(?<=\S)\1|(?<!\w)(_{1,3})(?=[^_\s])([^_\n]{1,300}?)(?<=\S)\3(?!\w)"
)
MD_CODE = re.compile(r"`([^`\n]{1,300})`")
MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
MD_TAG = re.compile(r"</?[A-Za-z][^<>]{0,300}>")
MD_SOURCE_LINK = re.compile(r"\[(?:original|source)[^\]\n]{0,100}\]\((https?://[^)\s]{1,500})\)", re.I)
ARCHIVE_BOILERPLATE = re.compile(
    r"^(?:view the original release on \S+|the post .+ appeared first on .+|source:\s*\S+)\s*$", re.I
)


def _first_group(match: re.Match[str]) -> str:
    return match.group(1)


def _unwrap_emphasis(match: re.Match[str]) -> str:
    return match.group(2) if match.group(2) is not None else match.group(4)


def markdown_inline(text: str) -> str:
    """Markdown inline markup to plain text: images dropped, links to their text, emphasis unwrapped."""
    if "](" in text:
        text = MD_LINK.sub(_first_group, MD_IMAGE.sub("", text))
    if "<" in text:
        text = MD_TAG.sub("", MD_AUTOLINK.sub(_first_group, text))
    if "`" in text:
        text = MD_CODE.sub(_first_group, text)
    if "*" in text or "_" in text:
        text = MD_EMPHASIS.sub(_unwrap_emphasis, MD_EMPHASIS.sub(_unwrap_emphasis, text))
    if "\\" in text:
        text = MD_ESCAPE.sub(_first_group, text)
    return clean(text)


def heading_text(text: str) -> str:
    """A heading's text without the optional closing run of "#" (kept when it is part of a word, "C#")."""
    text = text.rstrip()
    bare = text.rstrip("#")
    return bare.rstrip() if bare != text and (not bare or bare[-1].isspace()) else text


def _link_line(line: str) -> bool:
    """A line made of links or images, with at most a short label ("Pickup - [site](url)")."""
    if "](" not in line:
        return False
    rest = MD_LINK.sub("", MD_IMAGE.sub("", line))
    return len(rest.strip(" \t-–—:|·•!")) <= 40


def _trailing_links(lines: list[str]) -> tuple[int, str | None]:
    """Where the archive's closing link block starts (after the last rule), and its source link."""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lstrip()[:1] in ("-", "*", "_") and MD_RULE.match(lines[i]):
            tail = [line for line in lines[i + 1 :] if line.strip()]
            if all(_link_line(line) for line in tail):
                source = next((m.group(1) for line in tail if (m := MD_SOURCE_LINK.search(line))), None)
                return i, source
            break
    return len(lines), None


def parse_markdown(text: str) -> Parsed:
    """A Markdown release as paragraphs; pipe tables become " | " rows; archive boilerplate dropped."""
    lines = text.split("\n")
    end, source_url = _trailing_links(lines)
    paras: list[Para] = []
    title: str | None = None
    block: list[str] = []

    def flush() -> None:
        if block:
            joined = markdown_inline(" ".join(block))
            block.clear()
            if joined and not ARCHIVE_BOILERPLATE.match(joined):
                paras.append(Para(joined))

    for raw in lines[:end]:
        line = raw.strip()
        # the first-character tests only skip regexes that could not match
        if not line or (line[0] in "-*_|:" and (MD_RULE.match(line) or MD_TABLE_SEP.match(line))):
            flush()
            continue
        if "#" in raw[:4] and (heading := MD_HEADING.match(raw)):
            flush()
            text_ = markdown_inline(heading_text(heading.group(1)))
            if text_:
                paras.append(Para(text_, section="header" if title is None else "body"))
                title = title or text_
            continue
        if line.startswith("|") or (line.count("|") >= 2 and not CJK.search(line)):
            flush()
            cells = [markdown_inline(cell) for cell in line.strip("|").split("|")]
            paras.extend(row_paras(cells))
            continue
        if MD_BULLET.match(line):
            flush()
            block.append(MD_BULLET.sub("", line, count=1))
            continue
        block.append(line)
    flush()
    if not paras:
        raise InputError("Markdown document has no text")
    parsed = release("markdown_release", paras, title)
    parsed.url = source_url
    return parsed
