"""Recall against ECTSum reference summaries: figures a human summary cites that the extractor got right."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.extract import extract
from bot.extract.amounts import find_amounts
from bot.extract.load import load_path
from tests.corpus import CORPUS, require_shared

# The README reports the share this test measures; the floor below is what the suite guards.
FLOOR = 0.70


@dataclass
class Score:
    cited: int = 0
    found: int = 0


def _values(report_values: list[float], target: float, kind: str) -> bool:
    for v in report_values:
        if kind == "percent" and abs(abs(v) - abs(target)) < 0.051:
            return True
        if kind == "money" and target and abs(abs(v) - abs(target)) / abs(target) < 0.006:
            return True
    return False


def measure(directory: Path) -> Score:
    score = Score()
    for summary in sorted((directory / "gt_summaries").glob("*.txt")):
        transcript = directory / "ects" / summary.name
        document = load_path(transcript)
        report = extract(document)
        values = [m.value for m in report.metrics]
        values += [c for m in report.metrics for c in m.change.model_dump().values()]
        values += [p for m in report.metrics for p in m.prior.model_dump().values()]
        values += [x for g in report.guidance for x in (g.low, g.high) if x is not None]
        text = document.text
        for line in summary.read_text(encoding="utf-8").splitlines():
            for a in find_amounts(line, "USD"):
                if a.kind not in ("money", "percent") or a.high is not None:
                    continue
                number = re.search(r"\d[\d,]*(?:\.\d+)?", a.raw)
                if number is None or number.group(0) not in text:
                    continue
                score.cited += 1
                score.found += _values(values, a.value, a.kind)
    return score


def test_ectsum_recall() -> None:
    require_shared()
    score = measure(CORPUS / "ectsum")
    share = score.found / score.cited
    print(f"ECTSum: {score.found}/{score.cited} cited figures extracted with the right value ({share:.1%})")
    assert score.cited >= 40
    assert share >= FLOOR
