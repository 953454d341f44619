"""The model's context for indexed files: Predictions -> tags and detail rows."""

from __future__ import annotations

from pathlib import Path

from landrec.api import Predictor
from landrec.archive.db.models import Status
from landrec.archive.db.writes import Outcome, SegmentIn, TagIn

TOP_K = 3
MAX_PAGES = 100  # pages of a multi-page image classified one by one (beyond: the first 100)


def image_tags(predictor: Predictor, version: str, items: list[tuple[Path, Outcome]]) -> None:
    """Classify the images together (one batched call) and fill in each outcome: its tag, its
    pages as detail rows for a multi-page file, or `failed` with the decoder's reason."""
    if not items:
        return
    predictions = predictor.images([path for path, _ in items], TOP_K)
    for (path, outcome), p in zip(items, predictions, strict=True):
        if p.error is not None:
            outcome.status, outcome.error = Status.FAILED, p.error
            continue
        outcome.tag = TagIn(version, p.label, p.confidence, _top_k(p.top_k))
        pages = int(outcome.fields.get("pages") or 1)
        if pages > 1:
            rows = predictor.pages(path, min(pages, MAX_PAGES), TOP_K)
            outcome.segments = [
                SegmentIn(i, r.label, r.confidence, page=i + 1)
                for i, r in enumerate(rows)
                if r.error is None
            ]


def video_tag(predictor: Predictor, version: str, path: Path, outcome: Outcome) -> None:
    """A video's dominant context, its shares (in `extra`) and its segments."""
    v = predictor.video(path)
    if v.label is None:
        outcome.status, outcome.error = Status.FAILED, v.error or "no frame could be classified"
        return
    shares = [{"label": c, "probability": s} for c, s in v.shares.items()]
    outcome.tag = TagIn(version, v.label, v.confidence, shares[:TOP_K])
    outcome.extra = {**(outcome.extra or {}), "context_shares": v.shares, "frames": v.frames}
    if v.error:  # read to where it broke: indexed, with the reason kept
        outcome.error = v.error
    outcome.segments = [
        SegmentIn(i, s.label, s.confidence, start_s=s.start, end_s=s.end)
        for i, s in enumerate(v.segments)
    ]


def _top_k(top: list[tuple[str, float]]) -> list[dict]:
    return [{"label": c, "probability": round(p, 6)} for c, p in top]
