"""Report -> Digest: choosing the headline figures, wording their changes, and listing what to distrust."""

from __future__ import annotations

from bot.digest.model import Digest, FigureLine, OutlookLine, Trend
from bot.extract.amount_format import decimals, format_amount
from bot.extract.checks import computed_pct
from bot.models import Guidance, Metric, Report

HEADLINE_SIZE = 8
PRIORITY: tuple[tuple[str, ...], ...] = (
    ("revenue", "adjusted_revenue"),
    ("adjusted_gross_margin", "gross_margin"),
    ("adjusted_ebitda", "ebitda"),
    ("adjusted_ebitda_margin", "ebitda_margin"),
    ("adjusted_operating_income", "operating_income"),
    ("adjusted_net_income", "net_income"),
    ("adjusted_eps", "eps"),
    ("adjusted_eps_ads", "eps_ads"),
    ("adjusted_operating_margin", "operating_margin"),
    ("free_cash_flow",),
    ("same_store_sales",),
    ("net_interest_margin",),
    ("ffo", "affo"),
)
TAIL: tuple[str, ...] = ("capex", "adjusted_gross_profit", "gross_profit", "cash", "backlog", "aum")
KIND_LABEL = {"transcript": "earnings call", "press_release": "earnings release"}
SOURCE_LABEL = {"transcript": "Transcript", "press_release": "Press release"}
SECTION_LABEL = {"qa": "Q&A", "prepared": "prepared remarks", "table": "table", "body": None, "header": None}


def _arrow(x: float) -> tuple[str, Trend]:
    if x > 0:
        return "▲", "up"
    if x < 0:
        return "▼", "down"
    return "►", "flat"


def _num(x: float) -> str:
    return f"{abs(x):,.1f}".rstrip("0").rstrip(".") if abs(x) % 1 else f"{abs(x):,.0f}"


def _change(m: Metric) -> tuple[str | None, Trend | None, bool]:
    """The change to show: a stated one first (QoQ for quarterly calls as the text gives it), else computed."""
    c = m.change
    stated = (
        (c.qoq_pct, "% QoQ"), (c.yoy_pct, "% YoY"), (c.qoq_pp, "pp QoQ"), (c.yoy_pp, "pp YoY"),
        (c.pct, "%"), (c.pp, "pp"),
    )
    for value, suffix in stated:
        if value is not None:
            arrow, trend = _arrow(value)
            return f"{arrow} {_num(value)}{suffix}", trend, False
    for prior, tf in ((m.prior.prior_year, "YoY"), (m.prior.prior_quarter, "QoQ")):
        if prior is None:
            continue
        if m.unit == "%":
            diff = m.value - prior
            arrow, trend = _arrow(diff)
            return f"{arrow} {_num(diff)}pp {tf} (calc.)", trend, True
        pct = computed_pct(m.value, prior)
        if pct is not None:
            arrow, trend = _arrow(pct)
            return f"{arrow} {_num(pct)}% {tf} (calc.)", trend, True
    return None, None, False


def _value(m: Metric) -> str:
    return format_amount(m.value, m.unit, decimals=decimals(m.value_text))


def _prior(m: Metric) -> str | None:
    parts = []
    d = decimals(m.value_text)
    if m.prior.prior_quarter is not None:
        parts.append(f"prior quarter {format_amount(m.prior.prior_quarter, m.unit, decimals=d)}")
    if m.prior.prior_year is not None:
        parts.append(f"a year earlier {format_amount(m.prior.prior_year, m.unit, decimals=d)}")
    return ", ".join(parts) or None


def figure_line(m: Metric, warning: str | None = None) -> FigureLine:
    change, trend, computed = _change(m)
    return FigureLine(
        key=m.key, label=m.name, value=_value(m), change=change, trend=trend, computed=computed,
        prior=_prior(m), basis=m.basis, period=m.period, quote=m.quote, speaker=m.speaker, verified=m.verified,
        checks=m.checks, warning=warning, qualifier=m.qualifier, translation=m.translation,
    )


def _where(g: Guidance) -> str | None:
    who = g.speaker
    section = SECTION_LABEL.get(g.section or "body")
    parts = [p for p in (who, section) if p]
    return ", ".join(parts) or None


def _shorten(text: str, limit: int = 220) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > limit // 2 else limit - 1].rstrip(",;: ") + "…"


def outlook_line(g: Guidance) -> OutlookLine:
    text = _shorten(g.text)
    if g.kind == "refusal":
        text = f"No guidance: {g.text}"
    rng = None
    if g.low is not None and g.unit:
        rng = format_amount(g.low, g.unit) if g.high in (None, g.low) else (
            f"{format_amount(g.low, g.unit)} to {format_amount(g.high, g.unit)}")
    return OutlookLine(
        text=text, quote=g.quote, kind=g.kind, speaker=g.speaker, where=_where(g), range=rng,
        direction=g.direction, translation=g.translation,
    )


def headline(report: Report) -> list[Metric]:
    """The few figures an analyst reads first, in a stable order."""
    by_key = {m.key: m for m in report.metrics}
    chosen: list[Metric] = []
    for alternatives in PRIORITY:
        found = next((by_key[k] for k in alternatives if k in by_key), None)
        if found is not None and found.unit != "count":
            chosen.append(found)
    segments = sorted(
        (m for m in report.metrics if m.key.endswith("_revenue") and m.key not in ("revenue", "adjusted_revenue")
         and not m.key.startswith(("cost_of", "adjusted_cost_of"))
         and m.unit not in ("%", "count")),
        key=lambda m: -abs(m.value),
    )
    room = max(0, HEADLINE_SIZE - len(chosen) - 1)
    chosen.extend(segments[: min(4, room)])
    for k in TAIL:
        if k in by_key and len(chosen) < HEADLINE_SIZE and by_key[k] not in chosen:
            chosen.append(by_key[k])
    return chosen[:HEADLINE_SIZE]


def _title(report: Report) -> str:
    who = report.company or report.title or "Unknown company"
    if report.ticker and report.company:
        who = f"{report.company} ({report.ticker})"
    parts = [who]
    if report.period.label:
        parts.append(f"{report.period.label} {KIND_LABEL[report.kind]}")
    else:
        parts.append(KIND_LABEL[report.kind])
    return " · ".join(parts)


def build_digest(report: Report, *, lang: str = "en") -> Digest:
    """The platform-neutral digest of one report."""
    warnings_by_metric: dict[str, str] = {}
    warnings: list[str] = []
    for f in report.flags:
        warnings.append(f.message)
        if f.metric and f.kind in ("contradiction", "arithmetic_mismatch"):
            warnings_by_metric.setdefault(f.metric, f.message)
    lines = [figure_line(m, warnings_by_metric.get(m.key)) for m in report.metrics]
    by_key = {fl.key: fl for fl in lines}
    head = [by_key[m.key] for m in headline(report)]
    outlook = [outlook_line(g) for g in report.guidance]
    outlook.sort(key=lambda o: {"numeric": 0, "refusal": 1, "qualitative": 2}[o.kind])
    if lang != "en":
        lines = [fl.model_copy(update={"quote": fl.translation or fl.quote}) for fl in lines]
        head = [fl.model_copy(update={"quote": fl.translation or fl.quote}) for fl in head]
        outlook = [o.model_copy(update={"text": _shorten(o.translation or o.text), "quote": o.translation or o.quote})
                   for o in outlook]
    verified = sum(1 for m in report.metrics if m.verified)
    source = SOURCE_LABEL[report.kind]
    n_warn = len(warnings)
    footer = " · ".join(
        p for p in (
            source,
            f"{len(report.metrics)} figures, {verified} arithmetic-checked ✓",
            f"{n_warn} warning{'s' if n_warn != 1 else ''}" if n_warn else None,
            "figures and quotes in thread",
        ) if p
    )
    return Digest(
        title=_title(report), company=report.company, ticker=report.ticker, period=report.period.label,
        source_label=source, url=report.url, headline=tuple(head), outlook=tuple(outlook), warnings=tuple(warnings),
        figures=tuple(lines), footer=footer, figure_count=len(report.metrics), verified_count=verified, language=lang,
    )
