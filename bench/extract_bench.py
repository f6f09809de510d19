"""Extraction speed and memory over the seed and the corpus, beside a numbers-only regex scan as the floor."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from bot.extract import extract
from bot.extract.load import load_bytes

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
NUMBERS = re.compile(r"\d[\d,]*(?:\.\d+)?")
CHUNK = 50 * 1024
LABEL = os.environ.get("BENCH_LABEL", "extract")  # bench.compiled_bench runs this again on the compiled build
ROUNDS = 7


def documents() -> list[Path]:
    corpus = SHARED / "corpus"
    skip = {"feeds", "edgar", "gt_summaries"}  # feeds and filing indexes are not documents; summaries are references
    docs = [p for p in sorted(corpus.rglob("*")) if p.is_file() and p.name != "SOURCES.md"
            and not skip & set(p.relative_to(corpus).parts)]
    return [SHARED / "seed" / "000_b4c0d37c8ab855e5.txt", *docs]


def _median_seconds(fn: object, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_50kb() -> None:
    paths = documents()
    total_bytes = 0
    extract_s = floor_s = 0.0
    per_doc: list[float] = []
    for path in paths:
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        extract(load_bytes(raw, name=path.name))  # warm
        t = _median_seconds(lambda raw=raw, name=path.name: extract(load_bytes(raw, name=name)))
        f = _median_seconds(lambda text=text: NUMBERS.findall(text))
        total_bytes += len(raw)
        extract_s += t
        floor_s += f
        per_doc.append(t / len(raw) * CHUNK * 1000)
    scale = CHUNK / total_bytes * 1000
    print(f"{LABEL}: {len(paths)} documents, {total_bytes / 1024:.0f} KB")
    print(f"{LABEL}: median-of-{ROUNDS} total, load+extract {extract_s * scale:.2f} ms per 50 KB "
          f"(worst document {max(per_doc):.2f} ms per 50 KB); target <= 10 ms")
    print(f"{LABEL}: numbers-only regex floor {floor_s * scale:.3f} ms per 50 KB "
          f"(ratio {extract_s / floor_s:.1f}x)")
    seed = paths[0]
    raw = seed.read_bytes()
    t = _median_seconds(lambda: extract(load_bytes(raw, name=seed.name)))
    print(f"{LABEL}: seed {len(raw) / 1024:.0f} KB in {t * 1000:.2f} ms "
          f"({t / len(raw) * CHUNK * 1000:.2f} ms per 50 KB)")
    tracemalloc.start()
    for path in paths:
        extract(load_bytes(path.read_bytes(), name=path.name))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{LABEL}: peak traced memory while extracting one document at a time {peak / 1e6:.1f} MB")


def cold_start() -> None:
    seed = str(SHARED / "seed" / "000_b4c0d37c8ab855e5.txt")
    cli = [str(Path(sys.executable).with_name("earnings-bot")), "extract", seed, "--json"]
    bare = [sys.executable, "-c", "pass"]

    def run(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    run(cli)
    b = statistics.median(run(bare) for _ in range(5))
    c = statistics.median(run(cli) for _ in range(5))
    print(f"{LABEL}: cold start `earnings-bot extract seed --json` {c * 1000:.0f} ms, bare python {b * 1000:.0f} ms, "
          f"difference {(c - b) * 1000:.0f} ms; target <= 500 ms")


def main() -> None:
    if not (SHARED / "seed").is_dir():
        print(f"{LABEL}: skipped, {SHARED} not found")
        return
    per_50kb()
    cold_start()


if __name__ == "__main__":
    main()
