"""Checking the arithmetic a document states: changes recomputed from the values it gives, contradictions."""

from __future__ import annotations

from dataclasses import dataclass

from bot.extract.amount_format import format_amount


@dataclass(frozen=True, slots=True)
class Stated:
    """A figure as stated: its value and the rounding step it was written with (0.1 for '1,187.4')."""

    value: float
    step: float


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    message: str


def _interval(x: Stated) -> tuple[float, float]:
    half = x.step / 2
    return x.value - half, x.value + half


def check_pct_change(current: Stated, prior: Stated, stated_pct: Stated, label: str) -> Outcome | None:
    """Does (current / prior - 1) match the stated percentage change, given how each figure was rounded?"""
    if prior.value == 0 or (prior.value < 0) != (current.value < 0):
        return None
    c_lo, c_hi = _interval(current)
    p_lo, p_hi = _interval(prior)
    candidates = [(c / p - 1) * 100 for c in (c_lo, c_hi) for p in (p_lo, p_hi) if p != 0]
    if prior.value < 0:
        candidates = [-x for x in candidates]
    lo, hi = min(candidates), max(candidates)
    s_lo, s_hi = _interval(stated_pct)
    computed = (current.value / prior.value - 1) * 100 * (-1 if prior.value < 0 else 1)
    said = f"{stated_pct.value:+g}%"
    text = (
        f"{label}: {_fmt(current.value)} vs {_fmt(prior.value)} gives {computed:+.1f}%, stated {said}"
    )
    return Outcome(s_hi >= lo - 1e-9 and s_lo <= hi + 1e-9, text)


def check_pp_change(current: Stated, prior: Stated, stated_pp: Stated, label: str) -> Outcome:
    """Does current - prior match the stated percentage-point change?"""
    c_lo, c_hi = _interval(current)
    p_lo, p_hi = _interval(prior)
    lo, hi = c_lo - p_hi, c_hi - p_lo
    s_lo, s_hi = _interval(stated_pp)
    computed = current.value - prior.value
    text = f"{label}: {current.value:g}% vs {prior.value:g}% gives {computed:+.1f}pp, stated {stated_pp.value:+g}pp"
    return Outcome(s_hi >= lo - 1e-9 and s_lo <= hi + 1e-9, text)


def direction_contradiction(current: float, prior: float, said: str) -> bool:
    """The text says 'increase' while the values fall, or 'decrease' while they rise."""
    if said == "up":
        return current < prior
    if said == "down":
        return current > prior
    return False


def computed_pct(current: float, prior: float) -> float | None:
    if prior == 0 or (prior < 0) != (current < 0):
        return None
    return (current / prior - 1) * 100 * (-1 if prior < 0 else 1)


def consistent(a: Stated, b: Stated) -> bool:
    """Two statements of one figure agree once each is rounded the way it was written."""
    a_lo, a_hi = _interval(a)
    b_lo, b_hi = _interval(b)
    slack = 1e-9 * max(abs(a.value), abs(b.value), 1.0)
    return a_lo <= b_hi + slack and b_lo <= a_hi + slack


def _fmt(value: float) -> str:
    if abs(value) >= 1e5:
        return format_amount(value, None)
    return f"{value:g}"
