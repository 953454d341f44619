"""Metadata and thumbnails of the archive's files: pure functions of a file, no database, each
behind an `Extractor` registered in `EXTRACTORS` (the indexer runs those of a file's kind).
Every failure on a bad file is an `ExtractError` whose message says why."""

from landrec.archive.extract.images import ImageMetadata, image_metadata
from landrec.archive.extract.metadata import FIELD_NAMES, ExtractError, Metadata
from landrec.archive.extract.registry import Extractor, Registry, Source
from landrec.archive.extract.telemetry import TelemetryExtractor
from landrec.archive.extract.thumbs import (
    Thumbnail,
    make_thumbnail,
    save_thumbnail,
    thumbnail_media_type,
    thumbnail_name,
)
from landrec.archive.extract.videos import VideoMetadata, parse_iso6709, video_metadata

# The extractors every indexer runs, in this order; a new one is one more `.register(...)`.
EXTRACTORS = (
    Registry()
    .register(ImageMetadata())
    .register(VideoMetadata())
    .register(TelemetryExtractor())
    .register(Thumbnail())
)

__all__ = [
    "EXTRACTORS",
    "FIELD_NAMES",
    "ExtractError",
    "Extractor",
    "Metadata",
    "Registry",
    "Source",
    "TelemetryExtractor",
    "image_metadata",
    "make_thumbnail",
    "parse_iso6709",
    "save_thumbnail",
    "thumbnail_media_type",
    "thumbnail_name",
    "video_metadata",
]
