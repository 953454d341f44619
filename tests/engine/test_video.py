"""Video prediction: frame sampling by time, rotation, broken files, segments and the CLI."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec import api
from landrec.cli.main import main
from landrec.data.layout import expand_paths
from landrec.data.transforms import Preprocessing
from landrec.data.video import VideoDecodeError, VideoReadReport, sample_frames
from landrec.engine.inference.classifier import Classifier
from landrec.engine.inference.video import (
    FrameOutputs,
    VideoOptions,
    predict_video,
    predict_videos,
    summarise,
)
from landrec.engine.runs import RunFolder, onnx_cache_path

av = pytest.importorskip("av")

RED = (220, 20, 20)
BLUE = (20, 20, 220)
PRE = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
# Container -> an encoder this PyAV build has (libx264 for H.264, else MPEG-4 part 2).
CONTAINERS = {"mp4": "libx264", "mkv": "libx264", "avi": "mpeg4", "mov": "mpeg4", "ts": "libx264"}


def colour_classifier() -> Classifier:
    """Classes red/blue by the mean of the normalised red vs blue channel: no training needed."""

    def logits(x: np.ndarray) -> np.ndarray:  # (B, 3, H, W) -> (B, 2)
        return 4.0 * x[:, [0, 2]].mean(axis=(2, 3))

    return Classifier(["red", "blue"], PRE, logits, "mean colour")


def write_video(
    path: Path,
    colours: list[tuple[int, int, int]],
    times: list[float] | None = None,
    size: tuple[int, int] = (64, 64),
    options: dict[str, str] | None = None,
    rotation: int = 0,
    fps: int = 10,
) -> Path:
    """One frame per colour (with mild noise), at `times` (seconds; default i / fps)."""
    rng = np.random.default_rng(0)
    codec = CONTAINERS[path.suffix.lstrip(".")]
    width, height = size
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if times is not None:  # variable frame rate: explicit presentation times in ms
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i, colour in enumerate(colours):
            noise = rng.integers(-12, 12, (height, width, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def red_then_blue(path: Path, seconds: int = 6, fps: int = 10, **kwargs) -> Path:
    n = seconds * fps
    return write_video(path, [RED] * (n // 2) + [BLUE] * (n - n // 2), fps=fps, **kwargs)


def approx_segments(result, expected: list[tuple[float, float, str]], step: float) -> None:
    got = [(s.start, s.end, s.label) for s in result.segments]
    assert [g[2] for g in got] == [e[2] for e in expected], got
    for (start, end, _), (e_start, e_end, _) in zip(got, expected, strict=True):
        assert abs(start - e_start) <= step and abs(end - e_end) <= step, got


@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_containers_give_segments_and_shares(tmp_path: Path, ext: str) -> None:
    path = red_then_blue(tmp_path / f"clip.{ext}")
    result = predict_video(colour_classifier(), path, VideoOptions(min_segment_s=2.0))
    assert result.error is None
    assert result.frames == 6
    assert result.duration == pytest.approx(6.0, abs=0.2)
    approx_segments(result, [(0, 3, "red"), (3, 6, "blue")], step=1.0)
    assert result.shares == pytest.approx({"red": 0.5, "blue": 0.5})
    assert all(s.confidence > 0.9 for s in result.segments)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return red_then_blue(tmp_path_factory.mktemp("video") / "clip.mkv")


@pytest.mark.parametrize(("every", "times"), [(0.5, [i / 2 for i in range(12)]), (2.0, [0, 2, 4])])
def test_frames_follow_every_seconds(clip: Path, every: float, times: list[float]) -> None:
    report = VideoReadReport()
    got = [f.time for f in sample_frames(clip, every, report=report)]
    assert got == pytest.approx(times)
    assert report.frames_decoded == 60 and report.frames_sampled == len(times)
    assert report.end_time == pytest.approx(6.0) and report.error is None


def test_per_frame_rows_and_max_frames(clip: Path) -> None:
    result = predict_video(colour_classifier(), clip, VideoOptions(0.5, per_frame=True))
    assert [r.label for r in result.per_frame] == ["red"] * 6 + ["blue"] * 6
    assert len(list(sample_frames(clip, 0.5, max_frames=3))) == 3


def test_scene_change_adds_the_cut(clip: Path) -> None:
    plain = [f.time for f in sample_frames(clip, every_seconds=10.0)]
    with_cuts = [f.time for f in sample_frames(clip, every_seconds=10.0, scene_change=0.1)]
    assert plain == [0.0]
    assert with_cuts == pytest.approx([0.0, 3.0])
    result = predict_video(colour_classifier(), clip, VideoOptions(10.0, scene_change=0.1))
    approx_segments(result, [(0, 3, "red"), (3, 6, "blue")], step=0.1)


def test_variable_frame_rate_picks_first_frame_at_or_after_each_time(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.25, 1.7, 1.8, 3.05, 3.1, 4.0, 4.9]
    path = write_video(tmp_path / "vfr.mkv", [RED] * len(times), times=times)
    got = [f.time for f in sample_frames(path, every_seconds=1.0)]
    assert got == pytest.approx([0.0, 1.7, 3.05, 4.0])


@pytest.mark.parametrize(("degrees", "red_half"), [(90, "bottom"), (-90, "top")])
def test_rotation_metadata_makes_frames_upright(
    tmp_path: Path, degrees: int, red_half: str
) -> None:
    """A 64x32 frame, red on the left, stored with a display rotation (counter-clockwise)."""
    path = tmp_path / "rotated.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(degrees)
        for _ in range(10):
            pixels = rng.integers(0, 20, (32, 64, 3)).astype(np.uint8)
            pixels[:, :32, 0] = 220
            pixels[:, 32:, 2] = 220
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    report = VideoReadReport()
    image = next(iter(sample_frames(path, report=report)))
    pixels = np.asarray(image.image, dtype=float)
    assert image.image.size == (32, 64)  # upright: portrait
    top, bottom = pixels[:32].mean(axis=(0, 1)), pixels[32:].mean(axis=(0, 1))
    red, blue = (top, bottom) if red_half == "top" else (bottom, top)
    assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0]
    assert report.rotation == degrees % 360


def test_truncated_video_gives_partial_result_with_error(tmp_path: Path) -> None:
    # moov atom first (faststart), so half the file still opens and decodes partway.
    whole = red_then_blue(tmp_path / "whole.mp4", options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = predict_video(colour_classifier(), cut)
    assert result.error is not None and "cut.mp4" in result.error
    assert "stream ended at" in result.error
    assert 1 <= result.frames <= 4
    assert result.label == "red" and [s.label for s in result.segments] == ["red"]
    assert result.segments[-1].end < 4.0


def test_unreadable_video_is_a_clear_error_and_others_still_succeed(
    tmp_path: Path, clip: Path
) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoDecodeError, match=r"notes\.mp4: not a readable video"):
        next(iter(sample_frames(fake)))
    results = predict_videos(colour_classifier(), [fake, clip], VideoOptions())
    assert results[0].error is not None and "notes.mp4" in results[0].error
    assert results[0].frames == 0 and results[0].label is None
    assert results[1].error is None and results[1].frames == 6


def test_sampling_is_lazy(tmp_path: Path) -> None:
    """A 60 s video: the first frame comes out after decoding one frame, not all 300."""
    path = write_video(tmp_path / "long.mkv", [RED] * 300, size=(32, 32), fps=5)
    report = VideoReadReport()
    frames = sample_frames(path, every_seconds=1.0, report=report)
    first = next(frames)
    assert first.time == 0.0 and report.frames_decoded == 1
    assert sum(1 for _ in frames) == 59 and report.frames_decoded == 300


def test_raw_segments_and_duration_summary_by_hand() -> None:
    """Unsmoothed: a segment per run of frame labels; shares by duration, not frame count."""
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    frames = FrameOutputs(np.array([0.0, 1.0, 2.0, 3.0]), probs)
    result = summarise(colour_classifier(), frames, VideoOptions(smooth=False), end=6.0)
    got = [(s.start, s.end, s.label, s.confidence) for s in result.segments]
    assert got == [
        (0.0, 1.0, "red", pytest.approx(0.9)),
        (1.0, 3.0, "blue", pytest.approx(0.7)),
        (3.0, 6.0, "red", pytest.approx(0.7)),
    ]
    assert result.shares == pytest.approx({"red": 4 / 6, "blue": 2 / 6})
    assert (result.label, result.confidence) == ("red", pytest.approx(0.8))
    assert result.view is None and all(s.view is None for s in result.segments)


def test_folders_list_videos_only_when_asked(tmp_path: Path, clip: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
    (tmp_path / "b.MOV").write_bytes(clip.read_bytes())
    assert [p.name for p in expand_paths([tmp_path])] == ["a.jpg"]
    assert [p.name for p in expand_paths([tmp_path], videos=True)] == ["a.jpg", "b.MOV"]


def test_cli_predicts_images_and_videos_together(
    tmp_path: Path, clip: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.new("RGB", (40, 40), RED).save(tmp_path / "photo.jpg")
    (tmp_path / "clip.mkv").write_bytes(clip.read_bytes())
    (tmp_path / "broken.mkv").write_bytes(clip.read_bytes()[:100])  # a video, cut short
    (tmp_path / "notes.mp4").write_text("not a video")  # told apart by content, not name
    argv = ["predict", str(red_blue_checkpoint), str(tmp_path), "--every", "2", "--format", "json"]
    assert main(argv) == 0
    rows = {Path(r["path"]).name: r for r in json.loads(capsys.readouterr().out)}
    assert rows["photo.jpg"]["error"] is None and "kind" not in rows["photo.jpg"]
    assert rows["clip.mkv"]["kind"] == "video" and rows["clip.mkv"]["frames"] == 3
    assert sum(rows["clip.mkv"]["shares"].values()) == pytest.approx(1.0)
    assert rows["broken.mkv"]["kind"] == "video" and "broken.mkv" in rows["broken.mkv"]["error"]
    assert rows["notes.mp4"]["error"] == "unsupported format (text)"

    assert main([*argv[:-1], "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "path,kind,start,end,label,confidence,view,view_confidence,error"
    assert any(",video,0.000," in line for line in lines)

    assert main([*argv[:-2], "--frames"]) == 0
    table = capsys.readouterr().out
    assert "shares:" in table and table.count("  frame ") == 3 and "ERROR" in table


def test_api_predict_media_without_videos_matches_predict(
    tmp_path: Path, red_blue_checkpoint: Path
) -> None:
    Image.new("RGB", (40, 40), BLUE).save(tmp_path / "photo.png")
    media = api.predict_media(red_blue_checkpoint, [tmp_path])
    assert media.videos == [] and not api.has_videos([tmp_path])
    assert [p.to_dict() for p in media.images] == [
        p.to_dict() for p in api.predict(red_blue_checkpoint, [tmp_path])
    ]


def test_videos_give_the_same_result_on_either_backend(
    tmp_path: Path, clip: Path, red_blue_checkpoint: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    RunFolder(run).best.write_bytes(red_blue_checkpoint.read_bytes())
    results = {b: api.predict_media(run, [clip], backend=b).videos for b in ("torch", "onnx")}
    (on_torch,), (on_onnx,) = results["torch"], results["onnx"]
    assert on_onnx.error is None and on_onnx.frames == on_torch.frames > 0
    assert on_onnx.label == on_torch.label
    assert on_onnx.shares == on_torch.shares
    assert [s.label for s in on_onnx.segments] == [s.label for s in on_torch.segments]
    assert onnx_cache_path(RunFolder(run).best).is_file()  # ONNX Runtime ran the export
