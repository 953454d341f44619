"""Classify a video: sample frames, classify them in batches, summarise contexts over time."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from landrec.data.preprocess import to_array
from landrec.data.video import Frame, VideoDecodeError, VideoReadReport, sample_frames
from landrec.engine.inference.classifier import Classifier
from landrec.engine.inference.predict import to_prediction
from landrec.engine.selective import UNKNOWN


@dataclass(frozen=True)
class VideoOptions:
    """How videos are sampled and reported."""

    every_seconds: float = 1.0  # classify the first frame at or after every this many seconds
    scene_change: float | None = None  # also frames differing this much (0..1) from the last
    per_frame: bool = False  # keep one row per classified frame in the result


@dataclass(frozen=True)
class FrameRow:
    time: float  # seconds
    label: str
    confidence: float


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    label: str
    confidence: float  # mean top-1 probability over the segment's frames


@dataclass
class VideoPrediction:
    """A video's contexts: the dominant one, each one's share of frames, and segments in time.

    `label` is the most frequent top-1 label over the sampled frames (ties: the higher summed
    confidence), so it is also the label with the largest `shares` entry; `confidence` is the
    mean top-1 probability of the frames that voted for it.
    """

    path: str
    label: str | None = None
    confidence: float | None = None
    duration: float | None = None  # seconds, as the file states it
    frames: int = 0  # frames classified
    shares: dict[str, float] = field(default_factory=dict)  # fraction of frames, largest first
    segments: list[Segment] = field(default_factory=list)
    per_frame: list[FrameRow] = field(default_factory=list)
    error: str | None = None  # why the video could not be read (entirely or to the end)

    def to_dict(self) -> dict:
        return {
            "kind": "video",
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            "duration": self.duration,
            "frames": self.frames,
            "shares": self.shares,
            "segments": [vars(s) for s in self.segments],
            "per_frame": [vars(r) for r in self.per_frame],
            "error": self.error,
        }


def _batches(frames: Iterable[Frame], classifier: Classifier, size: int) -> Iterator[tuple]:
    """(times, (B, 3, H, W) array) batches; each frame is preprocessed as soon as it arrives."""
    pre = classifier.preprocessing
    times: list[float] = []
    arrays: list[np.ndarray] = []
    for frame in frames:
        times.append(frame.time)
        arrays.append(to_array(frame.image, pre))
        if len(times) == size:
            yield times, np.stack(arrays)
            times, arrays = [], []
    if times:
        yield times, np.stack(arrays)


def classify_frames(
    classifier: Classifier, frames: Iterable[Frame], batch_size: int = 32
) -> list[FrameRow]:
    """Top-1 label and probability of each frame, in order, holding one batch at a time."""
    rows: list[FrameRow] = []
    for times, batch in _batches(frames, classifier, batch_size):
        probs = classifier.probabilities(batch)
        for time, row in zip(times, probs, strict=True):
            top = to_prediction(classifier, "", row, 1)  # "unknown" below the threshold
            rows.append(FrameRow(time, top.label or UNKNOWN, top.confidence or 0.0))
    return rows


def dominant(rows: list[FrameRow]) -> tuple[str, float]:
    """The most frequent label (ties: higher summed confidence) and its mean confidence."""
    confidence: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        confidence[r.label].append(r.confidence)
    label = max(confidence, key=lambda c: (len(confidence[c]), sum(confidence[c])))
    return label, float(np.mean(confidence[label]))


def shares(rows: list[FrameRow]) -> dict[str, float]:
    """Fraction of frames whose top-1 label is each context, largest first."""
    counts = Counter(r.label for r in rows)
    return {label: n / len(rows) for label, n in counts.most_common()}


def segments(rows: list[FrameRow], end: float) -> list[Segment]:
    """Runs of consecutive frames with the same label; a run ends where the next begins,
    the last at `end`."""
    runs: list[list[FrameRow]] = []
    for r in rows:
        if runs and runs[-1][0].label == r.label:
            runs[-1].append(r)
        else:
            runs.append([r])
    starts = [run[0].time for run in runs]
    ends = [*starts[1:], max(end, rows[-1].time)] if rows else []
    return [
        Segment(start, stop, run[0].label, float(np.mean([r.confidence for r in run])))
        for run, start, stop in zip(runs, starts, ends, strict=True)
    ]


def _summary(
    path: Path, rows: list[FrameRow], report: VideoReadReport, per_frame: bool
) -> VideoPrediction:
    result = VideoPrediction(str(path), duration=report.duration, frames=len(rows))
    if report.error is not None:
        result.error = f"{path}: {report.error}; classified {len(rows)} frames before it"
    if not rows:
        result.error = result.error or f"{path}: no frames could be decoded"
        return result
    result.label, result.confidence = dominant(rows)
    result.shares = shares(rows)
    result.segments = segments(rows, report.end_time)
    result.per_frame = rows if per_frame else []
    return result


def predict_video(
    classifier: Classifier,
    path: str | Path,
    every_seconds: float = 1.0,
    scene_change: float | None = None,
    batch_size: int = 32,
    per_frame: bool = False,
    progress: bool = False,
) -> VideoPrediction:
    """Classify sampled frames of one video; an unreadable or broken file is reported in
    `error` (with whatever was classified before it broke), never raised."""
    path = Path(path)
    report = VideoReadReport()
    frames = sample_frames(
        path,
        every_seconds,
        scene_change,
        report=report,
        draft_size=classifier.preprocessing.short_side,
    )
    frames = tqdm(frames, desc=path.name, unit="frame", disable=not progress)
    try:
        rows = classify_frames(classifier, frames, batch_size)
    except VideoDecodeError as exc:
        return VideoPrediction(str(path), error=str(exc))
    return _summary(path, rows, report, per_frame)


def predict_videos(
    classifier: Classifier,
    paths: list[Path],
    options: VideoOptions,
    batch_size: int = 32,
    progress: bool = False,
) -> list[VideoPrediction]:
    """One VideoPrediction per path, in order."""
    return [
        predict_video(
            classifier,
            p,
            options.every_seconds,
            options.scene_change,
            batch_size,
            options.per_frame,
            progress,
        )
        for p in paths
    ]
