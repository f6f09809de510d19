"""`python -m bench`: every benchmark in turn, one line per figure."""

from __future__ import annotations

import importlib
import sys

SUITES = ("bench.extract_bench", "bench.compiled_bench", "bench.slack_bench", "bench.sources_bench")


def main() -> int:
    only = sys.argv[1:]
    for name in SUITES:
        if only and not any(o in name for o in only):
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"{name}: not available ({exc})")
            continue
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
