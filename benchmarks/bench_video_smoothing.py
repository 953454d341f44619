"""Video smoothing on videos made of real photos: segments and boundaries, raw vs smoothed.

Each generated video concatenates 3-6 clips of 20-60 s, each clip one context (a class of
../shared/data/landscapes/test or ../shared/data/aerial/test; the next clip a different one),
one photo per second, every second a different photo of that class: the model's own errors
make the frames flicker as they do on real footage. Videos alternate ground and overhead
photos; they are written to a temporary folder, never into the repository. The frames are
classified once with --run; each --min-segment setting (0: raw, each frame's top-1) is then
scored against the clips:
  segments        count found vs true
  boundary error  seconds from each true boundary to the nearest found one (mean / max)
  spurious        found boundaries more than 2 s from every true one
  frame accuracy  fraction of sampled frames whose segment's label is the clip's context
  label correct   the video's summary label is its longest context

    python benchmarks/bench_video_smoothing.py --run /work/runs/base_mnv2
    python benchmarks/bench_video_smoothing.py --quick     # 4 videos
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common

BENCHMARK = "bench_video_smoothing"
DATA = Path(__file__).resolve().parents[2] / "shared/data"
DOMAINS = {"ground": "landscapes/test", "overhead": "aerial/test"}
SIZE = 160  # frame width and height (px); the photos are 128-150 px


@dataclass
class Clip:
    label: str
    photos: list[Path]  # one per second


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", default="/work/runs/base_mnv2", help="run folder or checkpoint")
    p.add_argument("--backend", choices=["torch", "onnx"], default=None)
    p.add_argument("--data", type=Path, default=DATA, help="holds landscapes/ and aerial/")
    p.add_argument("--videos", type=int, default=12)
    p.add_argument("--min-segments", default="0,3,5,8,10,15", help="seconds; 0: raw frames")
    p.add_argument("--default-min-segment", type=float, default=None, help="per-video rows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threshold", type=float, default=None, help="override the run's unknown one")
    p.add_argument("--out-dir", type=Path, default=None, help="default: docs/benchmarks")
    p.add_argument("--quick", action="store_true", help="4 videos")
    args = p.parse_args(argv)
    if args.quick:
        args.videos = min(args.videos, 4)
    return args


def make_clips(data: Path, domain: str, rng: random.Random) -> list[Clip]:
    """3-6 clips of 20-60 s, each of a class other than the one before it."""
    root = data / DOMAINS[domain]
    pools = {d.name: sorted(d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}
    clips: list[Clip] = []
    for _ in range(rng.randint(3, 6)):
        label = rng.choice([c for c in pools if not clips or c != clips[-1].label])
        seconds = rng.randint(20, 60)
        photos = rng.sample(pools[label], min(seconds, len(pools[label])))
        clips.append(Clip(label, (photos * 2)[:seconds]))  # a 60-photo class repeats past 60
    return clips


def write_video(path: Path, clips: list[Clip]) -> Path:
    """The clips' photos, one per second (H.264, 1 fps, SIZE x SIZE)."""
    import av
    from PIL import Image

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for clip in clips:
            for photo in clip.photos:
                image = Image.open(photo).convert("RGB").resize((SIZE, SIZE))
                container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode())
    return path


def truth(clips: list[Clip]) -> tuple[list[tuple[float, float, str]], list[float]]:
    """The true segments (start, end, label) and the boundaries between them (seconds)."""
    segments: list[tuple[float, float, str]] = []
    t = 0.0
    for clip in clips:
        end = t + len(clip.photos)
        if segments and segments[-1][2] == clip.label:
            segments[-1] = (segments[-1][0], end, clip.label)
        else:
            segments.append((t, end, clip.label))
        t = end
    return segments, [s[0] for s in segments[1:]]


def label_at(segments: list[Any], time: float) -> str:
    return next((s.label for s in segments if s.start <= time < s.end), segments[-1].label)


def score(result: Any, true: list[tuple[float, float, str]], times: Any) -> dict[str, Any]:
    """Segments, boundary error, frame accuracy and summary label of one result."""
    found = [s.start for s in result.segments[1:]]
    boundaries = [s[0] for s in true[1:]]
    errors = [min((abs(b - f) for f in found), default=true[-1][1]) for b in boundaries]
    spurious = [f for f in found if min((abs(b - f) for b in boundaries), default=99) > 2]
    correct = [label_at(result.segments, t) == _true_label(true, t) for t in times]
    longest = max(true, key=lambda s: s[1] - s[0])[2]
    by_duration: dict[str, float] = {}
    for start, end, label in true:
        by_duration[label] = by_duration.get(label, 0.0) + end - start
    return {
        "segments": len(result.segments),
        "true_segments": len(true),
        "boundary_error_mean_s": sum(errors) / len(errors) if errors else 0.0,
        "boundary_error_max_s": max(errors, default=0.0),
        "spurious_boundaries": len(spurious),
        "frame_accuracy": sum(correct) / len(correct),
        "label": result.label,
        "label_correct": result.label == max(by_duration, key=by_duration.__getitem__),
        "longest_clip": longest,
    }


def _true_label(true: list[tuple[float, float, str]], time: float) -> str:
    return next((s[2] for s in true if s[0] <= time < s[1]), true[-1][2])


def classify(classifier: Any, path: Path) -> tuple[Any, float]:
    from landrec.data.video import VideoReadReport, sample_frames
    from landrec.engine.inference.video import classify_frames

    report = VideoReadReport()
    frames = sample_frames(path, 1.0, report=report, draft_size=classifier.preprocessing.short_side)
    return classify_frames(classifier, frames), report.end_time


def options_for(min_segment: float) -> Any:
    from landrec.engine.inference.video import VideoOptions

    return VideoOptions(smooth=min_segment > 0, min_segment_s=min_segment or 1.0)


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    errors_mean = [r["boundary_error_mean_s"] for r in rows if r["true_segments"] > 1]
    return {
        "segments": sum(r["segments"] for r in rows),
        "true_segments": sum(r["true_segments"] for r in rows),
        "videos_with_true_count": sum(r["segments"] == r["true_segments"] for r in rows),
        "boundary_error_mean_s": sum(errors_mean) / max(len(errors_mean), 1),
        "boundary_error_max_s": max(r["boundary_error_max_s"] for r in rows),
        "spurious_boundaries": sum(r["spurious_boundaries"] for r in rows),
        "frame_accuracy": sum(r["frame_accuracy"] * r["frames"] for r in rows)
        / sum(r["frames"] for r in rows),
        "labels_correct": sum(r["label_correct"] for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import load_classifier
    from landrec.engine.inference.video import MIN_SEGMENT_S, summarise

    machine = common.machine_info()
    settings_s = [float(s) for s in args.min_segments.split(",")]
    default = args.default_min_segment or MIN_SEGMENT_S
    classifier = load_classifier(args.run, Backend(args.backend) if args.backend else None)
    if args.threshold is not None:
        classifier.threshold = args.threshold
    rng = random.Random(args.seed)
    per_setting: dict[str, list[dict[str, Any]]] = {str(s): [] for s in settings_s}
    videos = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.videos):
            domain = "ground" if i % 2 == 0 else "overhead"
            clips = make_clips(args.data, domain, rng)
            path = write_video(Path(tmp) / f"video{i}.mp4", clips)
            frames, end = classify(classifier, path)
            true, _ = truth(clips)
            info = {"video": i, "domain": domain, "frames": len(frames), "duration_s": end}
            info["clips"] = [(c.label, len(c.photos)) for c in clips]
            for s in settings_s:
                result = summarise(classifier, frames, options_for(s), end)
                row = {**info, **score(result, true, frames.times)}
                per_setting[str(s)].append(row)
            raw, smooth = per_setting[str(settings_s[0])][-1], per_setting[str(default)][-1]
            print(
                f"video {i} {domain:8} {len(frames):4d} frames  segments raw {raw['segments']:3d}"
                f" smoothed {smooth['segments']:2d} true {smooth['true_segments']}"
                f"  boundary err mean {smooth['boundary_error_mean_s']:.1f} s"
                f"  acc raw {raw['frame_accuracy']:.3f} smoothed {smooth['frame_accuracy']:.3f}",
                flush=True,
            )
            videos.append(info)
    results = {
        "model": classifier.source,
        "threshold": classifier.threshold,
        "default_min_segment_s": default,
        "per_video": {
            "raw": per_setting[str(settings_s[0])],
            "smoothed": per_setting[str(default)],
        },
        "totals": {
            ("raw" if s == 0 else f"min_segment_{s:g}s"): totals(per_setting[str(s)])
            for s in settings_s
        },
        "wall_s": time.perf_counter() - t0,
    }
    notes = [
        "min_segment 0 = raw: a segment per run of equal frame labels (the old behaviour)",
        "boundary error: each true boundary to the nearest found one (s); frames every 1 s",
        "label_correct: the summary label is the context with the most seconds of video",
        f"photos from {args.data}/landscapes/test (ground) and aerial/test (overhead)",
    ]
    settings = {**vars(args), "min_segments": settings_s}
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
