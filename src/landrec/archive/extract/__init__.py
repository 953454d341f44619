"""Metadata, content hashes and thumbnails of the archive's files: pure functions of a file,
no database. Every failure on a bad file is an `ExtractError` whose message says why."""

from landrec.archive.extract.hashing import sha256_file
from landrec.archive.extract.images import image_metadata
from landrec.archive.extract.metadata import FIELD_NAMES, ExtractError, Metadata
from landrec.archive.extract.thumbs import make_thumbnail, save_thumbnail, thumbnail_name
from landrec.archive.extract.videos import parse_iso6709, video_metadata

__all__ = [
    "FIELD_NAMES",
    "ExtractError",
    "Metadata",
    "image_metadata",
    "make_thumbnail",
    "parse_iso6709",
    "save_thumbnail",
    "sha256_file",
    "thumbnail_name",
    "video_metadata",
]
