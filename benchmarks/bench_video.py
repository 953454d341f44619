"""Video prediction speed: seconds of video classified per second of wall time.

Generates a test video (default 60 s, 640x360, 30 fps, H.264; colour fields that change
every 10 s) or takes --video, then times, each once after a short warm-up:
  decode    sample_frames alone (decode + pick + convert to RGB), every --every seconds
  predict   predict_video: the same plus preprocessing and the model, in batches
The model is --model (run folder, checkpoint, or .onnx with --backend onnx) or, without it,
a random-init mobilenet_v2 at its own input size (speed only; its labels mean nothing).

    python benchmarks/bench_video.py                  # full: writes docs/benchmarks/video.json
    python benchmarks/bench_video.py --quick          # seconds: 5 s at 160x90, 64-px model
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import common

BENCHMARK = "video"
CLASSES = ["coast", "desert", "forest", "glacier", "mountain", "sea"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--video", type=Path, help="time this video instead of a generated one")
    p.add_argument("--model", help="run folder, checkpoint or .onnx (default: random init)")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--every", type=float, default=1.0, help="seconds between sampled frames")
    p.add_argument("--scene-change", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seconds", type=int, default=60, help="length of the generated video")
    p.add_argument("--size", default="640x360", help="WxH of the generated video")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--image-size", type=int, default=None, help="random-init model input size")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--out-dir", type=Path, default=None, help="default: docs/benchmarks")
    p.add_argument("--quick", action="store_true", help="5 s at 160x90, 64-px model")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.size, args.fps = 5, "160x90", 10
        args.image_size = args.image_size or 64
        args.threads = args.threads or 1
    return args


def generate_video(path: Path, seconds: int, size: str, fps: int) -> Path:
    """Smooth moving colour fields (H.264), a new palette every 10 s: realistic to decode."""
    import av
    import numpy as np

    width, height = map(int, size.split("x"))
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * fps):
            if i % (10 * fps) == 0:
                palette = rng.uniform(30, 225, (3, 3)).astype(np.float32)
            phase = i / fps
            wave = 0.5 + 0.5 * np.sin(x / 37.0 + phase) * np.cos(y / 23.0 - 0.7 * phase)
            rgb = palette[0] + wave[..., None] * (palette[1] - palette[0])
            noise = rng.normal(0, 6, (height, width, 1)).astype(np.float32)
            pixels = np.clip(rgb + noise, 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def load_model(args: argparse.Namespace) -> tuple[Any, str]:
    """The Classifier to time and a description of it."""
    from landrec.data.transforms import Preprocessing
    from landrec.engine.checkpoint import resolve_checkpoint
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import Classifier, load_classifier
    from landrec.models.factory import ModelConfig, create_model
    from landrec.models.registry import get_spec

    if args.model:
        backend = Backend(args.backend)
        source = Path(args.model) if backend is Backend.ONNX else resolve_checkpoint(args.model)
        classifier = load_classifier(source, backend)
        return classifier, classifier.source
    import torch

    spec = get_spec("mobilenet_v2")
    model, _ = create_model(ModelConfig("mobilenet_v2", len(CLASSES)), weights="none")
    model = model.eval().to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def logits(x: Any) -> Any:
        batch = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        return model(batch).float().numpy()

    pre = Preprocessing(args.image_size or spec.input_size, spec.mean, spec.std)
    return Classifier(
        CLASSES, pre, logits, "mobilenet_v2 random init"
    ), "mobilenet_v2 (random init)"


def video_info(path: Path) -> dict[str, Any]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "path": str(path),
            "codec": stream.codec_context.name,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(stream.average_rate) if stream.average_rate else None,
            "duration_s": container.duration / 1e6 if container.duration else None,
            "bytes": path.stat().st_size,
        }


def time_decode(args: argparse.Namespace, video: Path, draft_size: int) -> dict[str, Any]:
    from landrec.data.video import VideoReadReport, sample_frames

    report = VideoReadReport()
    t0 = time.perf_counter()
    for _ in sample_frames(
        video, args.every, args.scene_change, report=report, draft_size=draft_size
    ):
        pass
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "frames_decoded": report.frames_decoded,
        "frames_sampled": report.frames_sampled,
        "video_s_per_wall_s": report.end_time / wall,
    }


def time_predict(args: argparse.Namespace, video: Path, classifier: Any) -> dict[str, Any]:
    from landrec.engine.inference.video import VideoOptions, predict_video

    t0 = time.perf_counter()
    options = VideoOptions(args.every, args.scene_change)
    result = predict_video(classifier, video, options, batch_size=args.batch_size)
    wall = time.perf_counter() - t0
    covered = result.segments[-1].end if result.segments else 0.0
    return {
        "wall_s": wall,
        "frames_classified": result.frames,
        "video_s_per_wall_s": covered / wall,
        "ms_per_frame": 1000 * wall / max(result.frames, 1),
        "error": result.error,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    machine = common.machine_info()
    classifier, model = load_model(args)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or generate_video(
            Path(tmp) / "test.mp4", args.seconds, args.size, args.fps
        )
        warmup = classifier.logits  # one batch, so first-call costs are not timed
        warmup(torch.zeros(2, 3, *(2 * [classifier.preprocessing.input_size])).numpy())
        results = {
            "video": video_info(video),
            "model": model,
            "input_size": classifier.preprocessing.input_size,
            "decode": time_decode(args, video, classifier.preprocessing.short_side),
            "predict": time_predict(args, video, classifier),
        }
    settings = vars(args)  # Paths are written as strings
    notes = [
        "video_s_per_wall_s: seconds of video covered / wall seconds (higher is faster)",
        "decode is sample_frames alone; predict adds preprocessing and the model",
    ]
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
