"""Build hook: with EARNINGS_BOT_COMPILE=1 the extractor modules listed in pyproject.toml are compiled with mypyc.

Everything else (metadata, dependencies, packages) is in pyproject.toml. Without the variable the package is pure
Python, as an editable install for development must be: a compiled module would shadow edits to its source.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from setuptools import setup


def compiled_modules() -> list[str]:
    config = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["earnings-bot"]["compiled"])


def ext_modules() -> list[object]:
    if os.environ.get("EARNINGS_BOT_COMPILE") != "1":
        return []
    from mypyc.build import mypycify  # the compiler comes with mypy; only this build needs it

    return list(mypycify(compiled_modules(), opt_level="3"))


setup(ext_modules=ext_modules())
