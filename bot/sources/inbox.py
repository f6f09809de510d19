"""A local folder: each file dropped there (complete, not hidden or partial) becomes a document."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

import httpx
from pydantic import field_validator

from bot.errors import SourceError
from bot.sources.base import FetchedDocument, PollResult, SourceSpec, SourceState, log_item_failure
from bot.sources.http import MAX_BYTES

logger = logging.getLogger(__name__)

_PARTIAL = re.compile(r"(?:\.(?:tmp|temp|part|partial|crdownload|download|swp)|~)$", re.IGNORECASE)
_EXTRA_TYPES = {".md": "text/markdown", ".json": "application/json", ".txt": "text/plain"}


class InboxSpec(SourceSpec):
    """A folder to watch. A file counts once its size and mtime hold still for `settle_seconds`."""

    kind: Literal["inbox"] = "inbox"
    path: Path = Path("./inbox")
    settle_seconds: float = 1.0
    max_bytes: int = MAX_BYTES
    interval_seconds: float = 5.0
    jitter_seconds: float = 0.0

    @field_validator("settle_seconds")
    @classmethod
    def _settle(cls, v: float) -> float:
        if v < 0:
            raise ValueError("settle_seconds must not be negative")
        return v


class FileStat(NamedTuple):
    size: int
    mtime_ns: int

    @property
    def key_part(self) -> str:
        return f"{self.mtime_ns}:{self.size}"


def is_candidate(name: str) -> bool:
    """False for hidden files and partial downloads/uploads (*.tmp, *.part, *.crdownload, backup~)."""
    return bool(name) and not name.startswith(".") and _PARTIAL.search(name) is None


def file_key(name: str, stat: FileStat) -> str:
    """Identity of one version of a file: name, mtime and size, so a replaced file is new again."""
    return f"{name}:{stat.key_part}"


def _scan(folder: Path) -> dict[str, FileStat]:
    out: dict[str, FileStat] = {}
    for path in folder.iterdir():
        if not is_candidate(path.name):
            continue
        try:
            st = path.stat()
        except OSError:  # vanished between listing and stat
            continue
        if path.is_file():
            out[path.name] = FileStat(st.st_size, st.st_mtime_ns)
    return out


class InboxSource:
    """Polls the folder; `seen` holds the keys of emitted files that are still there."""

    def __init__(self, spec: InboxSpec) -> None:
        self.spec = spec

    def _folder(self) -> Path:
        folder = self.spec.path
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(
                f"source {self.spec.name}: inbox {folder} is not usable ({exc.strerror})"
            ) from None
        if not folder.is_dir():
            raise SourceError(f"source {self.spec.name}: inbox {folder} is not a folder")
        return folder

    async def _stable(self, folder: Path, wanted: dict[str, FileStat]) -> dict[str, FileStat]:
        """The files of `wanted` whose size and mtime did not change over settle_seconds."""
        if not wanted:
            return {}
        await asyncio.sleep(self.spec.settle_seconds)
        again = await asyncio.to_thread(_scan, folder)
        return {n: s for n, s in wanted.items() if again.get(n) == s}

    def _read(self, folder: Path, name: str, stat: FileStat) -> FetchedDocument:
        path = folder / name
        if stat.size > self.spec.max_bytes:
            raise SourceError(f"{path}: {stat.size} bytes exceeds the {self.spec.max_bytes}-byte limit")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
        content_type = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(name)[0]
        return FetchedDocument(
            source=self.spec.name,
            key=file_key(name, stat),
            url=path.resolve().as_uri(),
            title=path.stem,
            published=datetime.fromtimestamp(stat.mtime_ns / 1e9, UTC),
            content=content,
            content_type=content_type,
            ticker=self.spec.tickers[0] if len(self.spec.tickers) == 1 else None,
        )

    async def _documents(self, folder: Path, files: dict[str, FileStat]) -> list[FetchedDocument]:
        docs: list[FetchedDocument] = []
        stable = await self._stable(folder, files)
        for name in sorted(stable, key=lambda n: (stable[n].mtime_ns, n)):
            stat = stable[name]
            try:
                docs.append(await asyncio.to_thread(self._read, folder, name, stat))
            except SourceError as err:
                log_item_failure(logger, self.spec.name, file_key(name, stat), err)
        return docs

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult:
        folder = self._folder()
        try:
            present = await asyncio.to_thread(_scan, folder)
        except OSError as exc:
            raise SourceError(f"source {self.spec.name}: cannot list {folder} ({exc.strerror})") from None
        keys = {file_key(n, s): n for n, s in present.items()}
        new = {n: present[n] for k, n in keys.items() if k not in state.seen}
        docs = await self._documents(folder, new)
        seen = tuple(k for k in state.seen if k in keys) + tuple(d.key for d in docs)
        return PollResult(
            documents=tuple(docs),
            state=SourceState(validators=state.validators, seen=seen, cursor=state.cursor),
        )

    async def backfill(
        self, client: httpx.AsyncClient, ticker: str, quarters: int
    ) -> tuple[FetchedDocument, ...]:
        """Files whose name mentions the ticker as a word (e.g. "AAPL_q1_2022.txt"), oldest first."""
        folder = self._folder()
        word = re.compile(rf"(?<![A-Za-z0-9]){re.escape(ticker.strip())}(?![A-Za-z0-9])", re.IGNORECASE)
        present = await asyncio.to_thread(_scan, folder)
        return tuple(await self._documents(folder, {n: s for n, s in present.items() if word.search(n)}))
