"""The model's context for files: Predictions -> tags and detail rows. The one classification
step of indexing and of `retag`: images in one batched call (a multi-page file's pages one by
one), videos frame by frame."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from landrec.api import Predictor
from landrec.archive.db.models import Kind, Status
from landrec.archive.domain import Outcome, SegmentIn, TagIn

if TYPE_CHECKING:
    from landrec.api.types import Prediction

TOP_K = 3
MAX_PAGES = 100  # pages of a multi-page image classified one by one (beyond: the first 100)


@dataclass(frozen=True)
class ToClassify:
    """A file to tag: where it is, its kind, (an image) its number of pages and the model's
    input if it was decoded already (`Predictor.preprocessing`)."""

    path: Path  # absolute
    kind: Kind
    pages: int = 1
    array: np.ndarray | None = field(default=None, compare=False)  # (3, H, W)


@dataclass
class Tagged:
    """The model's context for one file, or why there is none."""

    tag: TagIn | None = None
    segments: list[SegmentIn] = field(default_factory=list)
    error: str | None = None  # no tag: why; with a tag: where a video stopped being readable
    extra: dict[str, Any] = field(default_factory=dict)  # a video's context shares and frames

    def apply(self, outcome: Outcome) -> None:
        """Record this on an indexed file's outcome: its tag, or `failed` with the reason."""
        if self.tag is None:
            outcome.status, outcome.error = Status.FAILED, self.error
            return
        outcome.tag, outcome.segments = self.tag, self.segments
        if self.extra:
            outcome.extra = {**(outcome.extra or {}), **self.extra}
        if self.error:
            outcome.error = self.error


def classify(predictor: Predictor, version: str, items: list[ToClassify]) -> list[Tagged]:
    """The tags of `items`, in their order: every image in one model call, then each video."""
    out = [Tagged(error=f"not an image or a video ({item.kind.value})") for item in items]
    images = [i for i, item in enumerate(items) if item.kind is Kind.IMAGE]
    tags = image_tags(predictor, version, [items[i] for i in images])
    for i, tagged in zip(images, tags, strict=True):
        out[i] = tagged
    for i, item in enumerate(items):
        if item.kind is Kind.VIDEO:
            out[i] = video_tag(predictor, version, item.path)
    return out


def image_tags(predictor: Predictor, version: str, items: list[ToClassify]) -> list[Tagged]:
    """Classify the images together (one batched call for those decoded already, one for the
    rest): each one's tag, its pages as detail rows for a multi-page file, or the decoder's
    reason."""
    ready = [item for item in items if item.array is not None]
    rest = [item.path for item in items if item.array is None]
    decoded: Iterator[Prediction] = iter(())
    if ready:
        arrays = batch_of([item.array for item in ready])  # type: ignore[misc]
        decoded = iter(predictor.arrays([str(item.path) for item in ready], arrays, TOP_K))
    read = iter(predictor.images(rest, TOP_K) if rest else [])
    return [
        _image_tag(predictor, version, item, next(read if item.array is None else decoded))
        for item in items
    ]


def batch_of(arrays: list[np.ndarray]) -> np.ndarray:
    """One (B, 3, H, W) array of the (3, H, W) `arrays`: the array they are the rows of, in
    order, when they were written into one (`Indexer._submit`); else a stacked copy."""
    base = arrays[0].base
    whole = (
        isinstance(base, np.ndarray)
        and base.ndim == 4
        and len(base) == len(arrays)
        and all(
            a.base is base and a.ctypes.data == base[i].ctypes.data for i, a in enumerate(arrays)
        )
    )
    return base if whole else np.stack(arrays)  # type: ignore[return-value]


def _image_tag(predictor: Predictor, version: str, item: ToClassify, p: Prediction) -> Tagged:
    if p.error is not None:
        return Tagged(error=p.error)
    tag = TagIn(version, p.label, p.confidence, _top_k(p.top_k), p.view, p.view_confidence)
    tagged = Tagged(tag)
    if item.pages > 1:
        rows = predictor.pages(item.path, min(item.pages, MAX_PAGES), TOP_K)
        tagged.segments = [
            SegmentIn(
                i, r.label, r.confidence, page=i + 1, view=r.view, view_confidence=r.view_confidence
            )
            for i, r in enumerate(rows)
            if r.error is None
        ]
    return tagged


def video_tag(predictor: Predictor, version: str, path: Path) -> Tagged:
    """A video's dominant context, its shares (in `extra`) and its segments, each with its view.
    The top-k are the shares of the video's time, largest first: the first is the label's,
    what the GUI's badge shows beside it and what its timeline adds up to."""
    v = predictor.video(path)
    if v.label is None:
        return Tagged(error=v.error or "no frame could be classified")
    shares = [{"label": c, "probability": s} for c, s in v.shares.items()]
    segments = [
        SegmentIn(i, s.label, s.confidence, s.start, s.end, None, s.view, s.view_confidence)
        for i, s in enumerate(v.segments)
    ]
    return Tagged(
        TagIn(version, v.label, v.confidence, shares[:TOP_K], v.view, v.view_confidence),
        segments,
        error=v.error or None,  # read to where it broke: indexed, with the reason kept
        extra={"context_shares": v.shares, "frames": v.frames},
    )


def _top_k(top: list[tuple[str, float]]) -> list[dict]:
    return [{"label": c, "probability": round(p, 6)} for c, p in top]
