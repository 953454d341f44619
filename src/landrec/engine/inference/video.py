"""Classify a video: sample frames, classify them in batches, smooth the contexts over time
and summarise them (segments, shares, the dominant context and view)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
from tqdm import tqdm

from landrec.data.preprocess import to_array
from landrec.data.video import Frame, VideoDecodeError, VideoReadReport, sample_frames
from landrec.engine.inference.classifier import Classifier
from landrec.engine.inference.predict import likelier_view, to_prediction
from landrec.engine.selective import UNKNOWN, label_or_unknown

# Shortest context the smoothing keeps, in seconds: on videos of real photos (benchmarks/
# bench_video_smoothing.py, docs/media.md) the shortest minimum that found the true segment
# count in every video; 3 and 5 s left runs of the model's errors as segments.
MIN_SEGMENT_S = 8.0
# Each frame's probabilities are mixed with this much of the uniform distribution, so one
# frame, however confident, never outweighs more than a few others.
FLOOR = 0.02
# How much a frame's own verdict (top-1 at or above the threshold, or not) counts when the
# smoothing decides whether a stretch is known: 0.8 against 0.2, so most frames of a stretch
# must agree (`frame_labels`).
ACCEPTED = 0.8


@dataclass(frozen=True)
class VideoOptions:
    """How videos are sampled, smoothed and reported."""

    every_seconds: float = 1.0  # classify the first frame at or after every this many seconds
    scene_change: float | None = None  # also frames differing this much (0..1) from the last
    per_frame: bool = False  # keep one row per classified frame (unsmoothed) in the result
    smooth: bool = True  # segments from a Viterbi pass over the frames, not each frame's top-1
    min_segment_s: float = MIN_SEGMENT_S  # shortest segment the smoothing keeps (seconds)


@dataclass(frozen=True)
class FrameRow:
    time: float  # seconds
    label: str  # the frame's own top-1 ("unknown" below the threshold), never smoothed
    confidence: float
    view: str | None = None
    view_confidence: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    label: str
    confidence: float  # mean probability of `label` over the segment's frames
    view: str | None = None  # e.g. ground or overhead, where the model tells views apart
    view_confidence: float | None = None


@dataclass
class VideoPrediction:
    """A video's contexts: segments in time, each label's share of the duration, the dominant
    label and view; all three from the same (smoothed) segments, so they agree.

    `shares` is the fraction of the video's duration covered by each label's segments, largest
    first; `label` is the label with the largest share (ties: the higher confidence) and
    `confidence` the mean probability of that label over the frames inside its segments. `view`
    is the likelier view of the segments' mean view probabilities weighted by their duration,
    `view_confidence` its probability (None for a model without views).
    """

    path: str
    label: str | None = None
    confidence: float | None = None
    duration: float | None = None  # seconds, as the file states it
    frames: int = 0  # frames classified
    shares: dict[str, float] = field(default_factory=dict)  # fraction of duration, largest first
    segments: list[Segment] = field(default_factory=list)
    per_frame: list[FrameRow] = field(default_factory=list)
    error: str | None = None  # why the video could not be read (entirely or to the end)
    view: str | None = None
    view_confidence: float | None = None

    def to_dict(self) -> dict:
        return {
            "kind": "video",
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            "view": self.view,
            "view_confidence": self.view_confidence,
            "duration": self.duration,
            "frames": self.frames,
            "shares": self.shares,
            "segments": [vars(s) for s in self.segments],
            "per_frame": [vars(r) for r in self.per_frame],
            "error": self.error,
        }


@dataclass
class FrameOutputs:
    """The classified frames of one video: times (T,), class probabilities (T, C) and view
    probabilities (T, V), None for a model without views."""

    times: np.ndarray
    probs: np.ndarray
    views: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.times)


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
) -> FrameOutputs:
    """Class and view probabilities of each frame, in order, holding one batch at a time."""
    times: list[float] = []
    probs: list[np.ndarray] = []
    views: list[np.ndarray] = []
    for batch_times, batch in _batches(frames, classifier, batch_size):
        p, v = classifier.outputs(batch)
        times += batch_times
        probs.append(p)
        if v is not None:
            views.append(v)
    n_classes = len(classifier.classes)
    return FrameOutputs(
        np.array(times, dtype=float),
        np.concatenate(probs) if probs else np.zeros((0, n_classes)),
        np.concatenate(views) if views and classifier.views else None,
    )


def frame_rows(classifier: Classifier, frames: FrameOutputs) -> list[FrameRow]:
    """One row per frame: its own top-1 ("unknown" below the threshold) and its view."""
    rows = []
    for i, time in enumerate(frames.times):
        views = None if frames.views is None else frames.views[i]
        p = to_prediction(classifier, "", frames.probs[i], 1, views)
        rows.append(
            FrameRow(
                float(time), p.label or UNKNOWN, p.confidence or 0.0, p.view, p.view_confidence
            )
        )
    return rows


def _mean_view(frames: FrameOutputs, start: int, stop: int) -> np.ndarray | None:
    """The mean view probabilities of frames start..stop-1 (None: the model has no views)."""
    return None if frames.views is None else frames.views[start:stop].mean(0)


def viterbi(probs: np.ndarray, min_frames: int) -> np.ndarray:
    """The likeliest class per frame (T,) under a hidden Markov model whose states are the
    classes and whose emissions are the frames' probabilities, in which a context lasts at
    least `min_frames` frames and then ends with probability 1 / (min_frames + 1) per frame,
    switching to any other class alike. A video shorter than `min_frames` is one context."""
    t_len, n = probs.shape
    m = max(1, min_frames)
    emit = np.log((1 - FLOOR) * probs + FLOOR / max(n, 1))  # (T, C)
    if t_len < max(m, 2) or n == 1:
        return np.full(t_len, int(emit.sum(0).argmax()) if t_len else 0)
    leave = 1.0 / (m + 1)
    stay, switch = np.log1p(-leave), np.log(leave / (n - 1))
    # score[t, c, k]: best log-probability of frames 0..t ending in class c, in the (k+1)-th
    # frame of its context (k = m - 1: its m-th frame or later).
    score = np.full((t_len, n, m), -np.inf)
    score[0, :, 0] = emit[0]
    came_from = np.zeros((t_len, n), dtype=int)  # the class a context entered at t came from
    for t in range(1, t_len):
        prev = score[t - 1]
        done = prev[:, m - 1]  # contexts that have lasted long enough to end
        best, second = np.argsort(-done)[:2]
        came_from[t] = np.where(np.arange(n) == best, second, best)
        entered = done[came_from[t]] + switch
        if m == 1:
            score[t, :, 0] = np.maximum(entered, done + stay)
        else:
            score[t, :, 0] = entered
            score[t, :, 1:m] = prev[:, : m - 1]
            score[t, :, m - 1] = np.maximum(prev[:, m - 2], done + stay)
        score[t] += emit[t][:, None]
    return _trace(score, came_from, stay, switch)


def _trace(score: np.ndarray, came_from: np.ndarray, stay: float, switch: float) -> np.ndarray:
    """Walk back from the best state that has lasted its minimum at the last frame, redoing
    each step's choice from the scores (only a switch needed a back-pointer)."""
    t_len, _, m = score.shape
    path = np.zeros(t_len, dtype=int)
    c, k = int(score[-1, :, m - 1].argmax()), m - 1
    for t in range(t_len - 1, 0, -1):
        path[t] = c
        prev = score[t - 1]
        source = int(came_from[t, c])
        if k == m - 1:  # stayed in a context that had lasted its minimum, or just reached it
            other = prev[source, 0] + switch if m == 1 else prev[c, m - 2]
            if prev[c, m - 1] + stay >= other:
                continue
        if k > 0:
            k -= 1  # one frame further back in the same context
        else:
            c, k = source, m - 1  # this context began here
    path[0] = c
    return path


def frame_labels(
    classifier: Classifier, frames: FrameOutputs, options: VideoOptions
) -> tuple[list[str], np.ndarray]:
    """Each frame's label and a probability for it (its class's; the frame's top-1 where it
    is "unknown"): smoothed, or the frame's own top-1 ("unknown" below the threshold).

    Smoothed, two passes with the same minimum length: the classes over all frames
    (`viterbi`), and whether each stretch is known at all, from each frame's own verdict (its
    top-1 at or above the threshold, or not: `ACCEPTED` of the evidence), so a stretch where
    most frames are below the threshold becomes "unknown" as one segment, and a few doubtful
    frames among confident ones do not. (A state "unknown" beside the classes, with the
    threshold as its probability, made whole videos unknown: a frame above the threshold gains
    little over it, one below loses much.)"""
    probs, threshold = frames.probs, classifier.threshold
    if not options.smooth:
        score = probs.max(1)
        top = [classifier.classes[j] for j in probs.argmax(1)]
        return [label_or_unknown(c, p, threshold) for c, p in zip(top, score, strict=True)], score
    min_frames = round(options.min_segment_s / options.every_seconds)
    path = viterbi(probs, min_frames)
    labels = [classifier.classes[j] for j in path]
    score = probs[np.arange(len(path)), path]
    if threshold is None:
        return labels, score
    accepted = probs.max(1) >= threshold
    evidence = np.where(accepted[:, None], [ACCEPTED, 1 - ACCEPTED], [1 - ACCEPTED, ACCEPTED])
    known = viterbi(evidence, min_frames) == 0
    labels = [label if k else UNKNOWN for label, k in zip(labels, known, strict=True)]
    labels = _absorb_short(labels, min_frames)  # where the two passes' boundaries differ
    known = np.array([label != UNKNOWN for label in labels])
    return labels, np.where(known, score, probs.max(1))


def _absorb_short(labels: list[str], min_frames: int) -> list[str]:
    """Runs shorter than `min_frames` take the label of their longer neighbour."""
    out = list(labels)
    runs = _runs(out)
    for i, (start, stop) in enumerate(runs):
        if stop - start >= min_frames or len(runs) == 1:
            continue
        before = runs[i - 1] if i > 0 else None
        after = runs[i + 1] if i + 1 < len(runs) else None
        longer = max((r for r in (before, after) if r), key=lambda r: r[1] - r[0])
        out[start:stop] = [out[longer[0]]] * (stop - start)
    return out


def _runs(labels: list[str]) -> list[tuple[int, int]]:
    """(start, stop) index ranges of consecutive equal labels."""
    bounds = [0, *(i for i in range(1, len(labels)) if labels[i] != labels[i - 1]), len(labels)]
    return list(pairwise(bounds))


def segments(
    classifier: Classifier, frames: FrameOutputs, labels: list[str], score: np.ndarray, end: float
) -> list[Segment]:
    """Runs of consecutive frames with the same label; a run ends where the next begins, the
    last at `end`; its confidence is the mean of `score` (its class's probability) over it."""
    runs = _runs(labels)
    starts = [float(frames.times[a]) for a, _ in runs]
    ends = [*starts[1:], max(end, float(frames.times[-1]))] if runs else []
    out = []
    for (a, b), start, stop in zip(runs, starts, ends, strict=True):
        view, view_confidence = likelier_view(classifier.views, _mean_view(frames, a, b))
        confidence = float(score[a:b].mean())
        out.append(Segment(start, stop, labels[a], confidence, view, view_confidence))
    return out


def summarise(
    classifier: Classifier, frames: FrameOutputs, options: VideoOptions, end: float
) -> VideoPrediction:
    """Segments, shares, label, confidence and view of classified frames (see
    VideoPrediction; its path is the caller's to fill); a video of one instant weighs each
    segment alike."""
    labels, score = frame_labels(classifier, frames, options)
    result = VideoPrediction("", frames=len(frames))
    result.segments = segs = segments(classifier, frames, labels, score, end)
    durations = np.array([s.end - s.start for s in segs])
    weight = durations / durations.sum() if durations.sum() > 0 else np.ones(len(segs)) / len(segs)
    share: dict[str, float] = defaultdict(float)
    for s, w in zip(segs, weight, strict=True):
        share[s.label] += float(w)
    per_label = np.array(labels)
    confidence = {c: float(score[per_label == c].mean()) for c in share}
    result.shares = dict(sorted(share.items(), key=lambda kv: (-kv[1], -confidence[kv[0]])))
    result.label = next(iter(result.shares))
    result.confidence = confidence[result.label]
    if frames.views is not None:
        runs = _runs(labels)
        mean = sum(w * frames.views[a:b].mean(0) for (a, b), w in zip(runs, weight, strict=True))
        result.view, result.view_confidence = likelier_view(classifier.views, mean)
    if options.per_frame:
        result.per_frame = frame_rows(classifier, frames)
    return result


def predict_video(
    classifier: Classifier,
    path: str | Path,
    options: VideoOptions | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> VideoPrediction:
    """Classify sampled frames of one video and summarise them; an unreadable or broken file
    is reported in `error` (with whatever was classified before it broke), never raised."""
    path, options = Path(path), options or VideoOptions()
    report = VideoReadReport()
    frames = sample_frames(
        path,
        options.every_seconds,
        options.scene_change,
        report=report,
        draft_size=classifier.preprocessing.short_side,
    )
    frames = tqdm(frames, desc=path.name, unit="frame", disable=not progress)
    try:
        outputs = classify_frames(classifier, frames, batch_size)
    except VideoDecodeError as exc:
        return VideoPrediction(str(path), error=str(exc))
    if len(outputs):
        result = summarise(classifier, outputs, options, report.end_time)
    else:
        result = VideoPrediction("")
    result.path, result.duration = str(path), report.duration
    if report.error is not None:
        result.error = f"{path}: {report.error}; classified {len(outputs)} frames before it"
    if not len(outputs):
        result.error = result.error or f"{path}: no frames could be decoded"
    return result


def predict_videos(
    classifier: Classifier,
    paths: list[Path],
    options: VideoOptions,
    batch_size: int = 32,
    progress: bool = False,
) -> list[VideoPrediction]:
    """One VideoPrediction per path, in order."""
    return [predict_video(classifier, p, options, batch_size, progress) for p in paths]
