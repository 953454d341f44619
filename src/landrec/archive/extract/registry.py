"""The extension surface of indexing: an `Extractor` reads one file of the kinds it declares
and returns fields, extra metadata or a thumbnail; a `Registry` holds them in running order.

A new extractor (telemetry, camera RAW, a video proxy) is one module with a class that has
`name`, `kinds` and `extract`, plus one `.register(...)` in `extract/__init__.py`: the indexer
runs whatever is registered for a file's kind, timing each under its `name`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image

from landrec.api import Format, MediaKind
from landrec.archive.extract.metadata import Metadata


@dataclass(frozen=True)
class Source:
    """The file an extractor reads, and what indexing knows of it already."""

    path: Path  # absolute
    sha256: str  # of its content: names the thumbnail
    format: Format  # detected by content: kind, name, media type
    thumbs_dir: Path  # where thumbnails are written
    still: Image.Image | None = None  # an image already decoded (8-bit RGB, upright), if any
    still_floor: int = 0  # the still's short side if it was decoded reduced is at least this


class Extractor(Protocol):
    """Reads one file; raises `ExtractError` (the file becomes `failed` with its reason)."""

    @property
    def name(self) -> str:
        """The step's name in the indexer's timings (`metadata`, `thumbnail`, ...)."""
        ...

    @property
    def kinds(self) -> frozenset[MediaKind]:
        """The kinds of file it reads."""
        ...

    def extract(self, source: Source) -> Metadata:
        """Fields (File columns), extra metadata and/or a thumbnail name of `source`."""
        ...


@dataclass(frozen=True)
class Registry:
    """Extractors in the order they run; each file gets those registered for its kind."""

    extractors: tuple[Extractor, ...] = ()

    def register(self, extractor: Extractor) -> Registry:
        """A registry with `extractor` after these (this one is left unchanged)."""
        return Registry((*self.extractors, extractor))

    def for_kind(self, kind: MediaKind) -> Iterator[Extractor]:
        """The extractors that read files of `kind`, in registration order."""
        return (e for e in self.extractors if kind in e.kinds)
