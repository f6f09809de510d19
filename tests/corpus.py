"""Where the shared real documents are, and a skip with a clear reason when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "seed" / "000_b4c0d37c8ab855e5.txt"
CORPUS = SHARED / "corpus"
NOT_DOCUMENTS = {"feeds", "edgar"}


def require_shared() -> Path:
    if not SEED.is_file():
        pytest.skip(f"shared documents not found at {SHARED} (the ../shared folder beside the repository)")
    return SHARED


def corpus_documents() -> list[Path]:
    """Every document under ../shared/corpus plus the seed (empty when ../shared is absent)."""
    if not CORPUS.is_dir():
        return []
    docs = sorted(
        p for p in CORPUS.rglob("*")
        if p.is_file() and p.name != "SOURCES.md" and p.relative_to(CORPUS).parts[0] not in NOT_DOCUMENTS
    )
    return [SEED, *docs] if SEED.is_file() else docs


def corpus_file(rel: str) -> bytes:
    """The bytes of ../shared/corpus/REL, or a skip naming the missing file."""
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"needs the shared corpus (../shared/corpus): {rel} is absent")
    return path.read_bytes()
