"""The extractor: Document in, Report out (pure functions, no I/O)."""

from __future__ import annotations
