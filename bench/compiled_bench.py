"""The extraction benchmark again on the mypyc-compiled extractor that the Docker image ships.

Builds the wheel as the Dockerfile does (EARNINGS_BOT_COMPILE=1), installs it into build/compiled without its
dependencies, checks that the compiled extractor gives byte-identical reports to the interpreted one over the seed
and the corpus, then runs bench.extract_bench against it in a fresh process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
TARGET = BUILD / "compiled"

# Run in a child importing `bot` from its working directory: every report of the seed and corpus as JSON.
REPORTS = """
import json, sys
import bot.extract.amounts
from bench.extract_bench import documents
from bot.extract import extract
from bot.extract.load import load_bytes
assert bot.extract.amounts.__file__.endswith(".so") == (sys.argv[1] == "compiled"), bot.extract.amounts.__file__
print(json.dumps({p.name: json.loads(extract(load_bytes(p.read_bytes(), name=p.name)).model_dump_json())
                  for p in documents()}))
"""


# Random text through the compiled extractor: it must never raise (mypyc checks types at run time, so a wrong
# annotation that Python would ignore fails here). The interpreted extractor has the same property under hypothesis.
FUZZ = """
import random, sys
from bot.extract import extract
from bot.models import Document
pieces = ["Revenue", " was ", "RMB", "$", "1,775.7", " million", "(12.3)", "%", " to ", "-", "2024", "Q1", " up ",
          "negative ", "plus or minus ", "\\n", ". ", "guidance", " expect ", "[", "]", "(sic ", ")", "萬", "億", "元",
          "bps", " percentage points", "EPS", " per share", "\\u00a0", "flat to down ", "0.5", "ſ", "İ", ""]
rng = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
    extract(Document(text=text, kind=rng.choice(["transcript", "press_release"]), format="text"))
"""
FUZZ_TEXTS = 3000


def build() -> str | None:
    """Build and install the compiled wheel into build/compiled; the reason it could not be, or None."""
    wheels = BUILD / "compiled-wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    shutil.rmtree(TARGET, ignore_errors=True)
    env = {**os.environ, "EARNINGS_BOT_COMPILE": "1"}
    steps = [
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps", "-w", str(wheels), "."],
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(TARGET), "WHEEL"],
    ]
    for step in steps:
        if step[-1] == "WHEEL":
            step[-1] = str(next(wheels.glob("*.whl")))
        done = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"{' '.join(step[2:4])} failed: {last[0]}"
    return None


def reports(where: Path, kind: str) -> dict[str, object]:
    """Every report, extracted by a fresh process that imports `bot` from `where` (its working directory)."""
    env = {**os.environ, "PYTHONPATH": f"{where}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", REPORTS, kind], cwd=where, env=env, capture_output=True, text=True,
                          check=True)
    return dict(json.loads(done.stdout))


def main() -> None:
    from bench.extract_bench import SHARED

    if not (SHARED / "seed").is_dir():
        print(f"compiled: skipped, {SHARED} not found")
        return
    reason = build()
    if reason:
        print(f"compiled: not measured ({reason})")
        return
    compiled = reports(TARGET, "compiled")
    interpreted = reports(ROOT, "interpreted")
    differing = sorted(name for name in interpreted if interpreted[name] != compiled.get(name))
    if differing:
        print(f"compiled: reports differ from the interpreted extractor for {', '.join(differing)}")
        return
    print(f"compiled: identical reports for all {len(interpreted)} documents")
    env = {**os.environ, "PYTHONPATH": f"{TARGET}{os.pathsep}{ROOT}"}
    fuzz = subprocess.run([sys.executable, "-c", FUZZ, "1", str(FUZZ_TEXTS)], cwd=TARGET, env=env, capture_output=True,
                          text=True)
    if fuzz.returncode != 0:
        print(f"compiled: raised on random text: {fuzz.stderr.strip().splitlines()[-1:]}")
        return
    print(f"compiled: {FUZZ_TEXTS} random texts extracted without an error")
    env = {**os.environ, "PYTHONPATH": f"{TARGET}{os.pathsep}{ROOT}", "BENCH_LABEL": "extract (compiled)"}
    subprocess.run([sys.executable, "-m", "bench.extract_bench"], cwd=TARGET, env=env, check=True)


if __name__ == "__main__":
    main()
