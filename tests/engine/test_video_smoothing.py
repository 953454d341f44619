"""Video smoothing: generated videos of clips of known contexts whose frames flicker, the
Viterbi pass, unknown and view per segment, one summary for badge, top-k and timeline."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_video import PRE, write_video

from landrec.api.media import MediaPredictions
from landrec.cli.main import main
from landrec.cli.output import print_media
from landrec.engine.checkpoint import CheckpointMeta
from landrec.engine.inference.classifier import Classifier
from landrec.engine.inference.video import (
    FLOOR,
    FrameOutputs,
    VideoOptions,
    predict_video,
    summarise,
    viterbi,
)
from landrec.engine.onnx import set_meta
from landrec.engine.selective import UNKNOWN
from landrec.models.factory import ModelConfig

pytest.importorskip("av")

CHANNEL = {"red": 0, "green": 1, "blue": 2}
BRIGHT, DARK = 150, 70  # grey level of ground (bright) and overhead (dark) clips


def rgb_classifier(threshold: float | None = None, views: bool = False) -> Classifier:
    """Classes red/green/blue by which channel stands out of the frame's mean; views ground
    (bright) and overhead (dark) by the mean level: no training needed."""

    def logits(x: np.ndarray) -> np.ndarray:  # (B, 3, H, W) -> (B, 3) or (B, 3 + 2)
        channels = x.mean(axis=(2, 3))
        classes = 12.0 * (channels - channels.mean(1, keepdims=True))
        level = 8.0 * (channels.mean(1, keepdims=True) + 0.15)  # 0 between BRIGHT and DARK
        return np.hstack([classes, level, -level]) if views else classes

    names = ["ground", "overhead"] if views else []
    return Classifier(list(CHANNEL), PRE, logits, "rgb", threshold=threshold, views=names)


def clips_video(
    path: Path, clips: list[tuple[str, int]], noise: float = 30.0, seed: int = 0
) -> Path:
    """One frame per second (1 fps); a clip (context, seconds) is frames whose context's
    channel stands 40 grey levels above the others, plus per-frame colour noise of `noise`
    (sd): with 30, about a third of the frames look like another context. A context "grey"
    has no channel above the others; "dark-<colour>" is a clip of that colour at the dark
    (overhead) level; "blip-<colour>" is one clean frame of that colour."""
    rng = np.random.default_rng(seed)
    colours = []
    for context, seconds in clips:
        kind, _, name = context.rpartition("-")
        level = DARK if kind == "dark" else BRIGHT
        base = np.full(3, float(level))
        if name in CHANNEL:
            base[CHANNEL[name]] += 40 if kind != "blip" else 90
        sd = 0.0 if kind == "blip" else (5.0 if name == "grey" else noise)
        for _ in range(seconds):
            colours.append(tuple(np.clip(base + rng.normal(0, sd, 3), 0, 255).astype(int)))
    return write_video(path, colours, fps=1)


def truth(clips: list[tuple[str, int]]) -> list[tuple[float, float, str]]:
    """The (start, end, context) of each clip; consecutive clips of one context merge."""
    out: list[tuple[float, float, str]] = []
    t = 0.0
    for context, seconds in clips:
        name = context.rpartition("-")[2]
        if out and out[-1][2] == name:
            out[-1] = (out[-1][0], t + seconds, name)
        else:
            out.append((t, t + seconds, name))
        t += seconds
    return out


FLICKER = [("red", 30), ("blue", 20), ("green", 9), ("red", 20)]


@pytest.fixture(scope="module")
def flicker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clips_video(tmp_path_factory.mktemp("video") / "flicker.mkv", FLICKER)


def test_raw_frames_flicker_and_smoothing_finds_the_true_segments(flicker: Path) -> None:
    """Boundaries within one sampling interval; a 9 s context (>= the 8 s minimum) is kept."""
    classifier = rgb_classifier()
    raw = predict_video(classifier, flicker, VideoOptions(smooth=False, per_frame=True))
    wrong = sum(r.label != c for r, c in zip(raw.per_frame, _per_second(FLICKER), strict=True))
    assert wrong >= 15 and len(raw.segments) >= 20
    smooth = predict_video(classifier, flicker, VideoOptions(min_segment_s=8.0, per_frame=True))
    assert [r.label for r in smooth.per_frame] == [r.label for r in raw.per_frame]  # unsmoothed
    expected = truth(FLICKER)
    assert [s.label for s in smooth.segments] == [e[2] for e in expected]
    for s, (start, end, _) in zip(smooth.segments, expected, strict=True):
        assert abs(s.start - start) <= 1.0 and abs(s.end - end) <= 1.0, smooth.segments


def _per_second(clips: list[tuple[str, int]]) -> list[str]:
    return [c.rpartition("-")[2] for c, n in clips for _ in range(n)]


def test_one_frame_blip_is_removed_and_a_real_change_kept(tmp_path: Path) -> None:
    clips = [("red", 15), ("blip-blue", 1), ("red", 14), ("green", 8), ("red", 12)]
    path = clips_video(tmp_path / "blip.mkv", clips, noise=20.0)
    raw = predict_video(rgb_classifier(), path, VideoOptions(smooth=False))
    assert "blue" in [s.label for s in raw.segments]  # the blip is a segment of its own raw
    smooth = predict_video(rgb_classifier(), path, VideoOptions(min_segment_s=5.0))
    got = [(s.start, s.end, s.label) for s in smooth.segments]
    assert [g[2] for g in got] == ["red", "green", "red"], got
    assert abs(got[1][0] - 30) <= 1.0 and abs(got[1][1] - 38) <= 1.0, got


def test_badge_top_k_and_timeline_agree_on_a_flickering_video(tmp_path: Path) -> None:
    """Blue lasts longest, but its frames flicker so much that red has the most frame votes:
    the badge, the first share and the timeline all say blue, by duration."""
    clips = [("red", 18), ("blue", 24)]
    path = clips_video(tmp_path / "agree.mkv", clips, noise=45.0, seed=3)
    classifier = rgb_classifier()
    result = predict_video(classifier, path, VideoOptions(per_frame=True))
    votes = {c: sum(r.label == c for r in result.per_frame) for c in CHANNEL}
    assert max(votes, key=votes.__getitem__) == "red", votes  # frame majority says red
    timeline: dict[str, float] = {}
    for s in result.segments:
        timeline[s.label] = timeline.get(s.label, 0.0) + s.end - s.start
    assert result.label == next(iter(result.shares)) == max(timeline, key=timeline.__getitem__)
    assert result.label == "blue"
    assert result.shares == pytest.approx({c: t / 42 for c, t in timeline.items()}, abs=1e-6)
    blue = [r for r in result.segments if r.label == "blue"]
    assert result.confidence == pytest.approx(np.mean([s.confidence for s in blue]))


def test_unknown_segments_below_the_threshold(tmp_path: Path) -> None:
    clips = [("red", 20), ("grey", 20), ("blue", 20)]
    path = clips_video(tmp_path / "unknown.mkv", clips, noise=15.0)
    result = predict_video(rgb_classifier(threshold=0.6), path)
    got = [(s.start, s.end, s.label) for s in result.segments]
    assert [g[2] for g in got] == ["red", UNKNOWN, "blue"], got
    assert all(s.confidence < 0.6 for s in result.segments if s.label == UNKNOWN)
    assert abs(got[1][0] - 20) <= 1.0 and abs(got[1][1] - 40) <= 1.0
    assert set(result.shares) == {"red", UNKNOWN, "blue"}
    never = predict_video(rgb_classifier(threshold=None), path)
    assert UNKNOWN not in never.shares


def test_views_per_segment_and_for_the_video(tmp_path: Path) -> None:
    clips = [("red", 20), ("dark-blue", 25)]
    path = clips_video(tmp_path / "views.mkv", clips, noise=10.0)
    result = predict_video(rgb_classifier(views=True), path, VideoOptions(per_frame=True))
    assert [(s.label, s.view) for s in result.segments] == [("red", "ground"), ("blue", "overhead")]
    assert all(s.view_confidence is not None and s.view_confidence > 0.9 for s in result.segments)
    assert result.view == "overhead"  # 25 of the 45 s
    assert result.view_confidence == pytest.approx(
        (20 * (1 - result.segments[0].view_confidence) + 25 * result.segments[1].view_confidence)
        / 45,
        abs=1e-6,
    )
    assert {r.view for r in result.per_frame} == {"ground", "overhead"}
    row = result.to_dict()
    assert row["view"] == "overhead" and row["segments"][1]["view"] == "overhead"
    plain = predict_video(rgb_classifier(), path)
    assert plain.view is None and all(s.view is None for s in plain.segments)


def test_the_table_shows_each_segments_view_and_the_videos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`landrec predict`'s table: the view and its confidence after the video's label and
    after each segment's, as image rows show it; nothing of views for a model without them."""
    path = clips_video(tmp_path / "views.mkv", [("red", 20), ("dark-blue", 25)], noise=10.0)
    result = predict_video(rgb_classifier(views=True), path)
    print_media(MediaPredictions([], [result]), "table")
    summary, _, *rows = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        rf".*views\.mkv  blue \d\.\d{{3}}   overhead {result.view_confidence:.3f}  \(.*", summary
    )
    for row, s in zip(rows, result.segments, strict=True):
        assert row.endswith(f"{s.label:<12} {s.confidence:.3f}   {s.view} {s.view_confidence:.3f}")
    assert [row.split()[-2] for row in rows] == ["ground", "overhead"]
    print_media(MediaPredictions([], [predict_video(rgb_classifier(), path)]), "table")
    plain = capsys.readouterr().out
    assert "ground" not in plain and "overhead" not in plain
    assert re.search(r"  red +\d\.\d{3}\n", plain)  # the segment line ends at its confidence


def _brute_force(probs: np.ndarray, m: int) -> np.ndarray:
    """The best path of the same model by trying every path: runs >= m frames, a switch to a
    given other class costs log(leave / (C - 1)), a frame past the minimum log(1 - leave)."""
    t_len, n = probs.shape
    emit = np.log((1 - FLOOR) * probs + FLOOR / n)
    leave = 1 / (m + 1)
    best: tuple[float, tuple[int, ...]] | None = None
    for path in itertools.product(range(n), repeat=t_len):
        runs = [len(list(g)) for _, g in itertools.groupby(path)]
        if min(runs) < m:
            continue
        score = sum(emit[t, c] for t, c in enumerate(path))
        score += (len(runs) - 1) * np.log(leave / (n - 1))
        score += sum(max(r - m, 0) for r in runs) * np.log1p(-leave)
        if best is None or score > best[0]:
            best = (score, path)
    assert best is not None
    return np.array(best[1])


def test_viterbi_finds_the_best_path() -> None:
    rng = np.random.default_rng(0)
    for _ in range(60):
        t_len, n, m = int(rng.integers(3, 8)), int(rng.integers(2, 4)), int(rng.integers(1, 4))
        probs = rng.dirichlet(np.full(n, 0.5), size=t_len)
        assert viterbi(probs, m).tolist() == _brute_force(probs, m).tolist()


def test_shorter_than_the_minimum_is_one_context() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    assert viterbi(probs, 4).tolist() == [1, 1, 1]
    frames = FrameOutputs(np.arange(3.0), probs)
    by_hand = Classifier(["a", "b"], PRE, np.asarray, "probabilities given")
    result = summarise(by_hand, frames, VideoOptions(), end=3.0)
    assert [s.label for s in result.segments] == ["b"] and result.shares == {"b": 1.0}


def colour_onnx(path: Path) -> Path:
    """An ONNX model with landrec's metadata whose logits are 12 x the mean red and blue of
    the normalised frame: `landrec predict` runs it like an export, without training."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.zeros((3, 2), dtype=np.float32)
    weights[0, 0] = weights[2, 1] = 12.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "weights"], ["logits"]),
        ],
        "colour",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    meta = CheckpointMeta(["red", "blue"], ModelConfig("mobilenet_v2", 2), PRE, "hand-made", False)
    set_meta(path, meta)
    return path


def test_cli_smoothing_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--no-smooth keeps a one-frame blip; by default, or with a long --min-segment, it goes."""
    model = colour_onnx(tmp_path / "colour.onnx")
    clip = clips_video(tmp_path / "blip.mkv", [("red", 10), ("blip-blue", 1), ("red", 9)], 10.0)
    argv = ["predict", str(model), str(clip), "--format", "json", "--frames"]

    def segments(*flags: str) -> tuple[list[str], list[str]]:
        assert main([*argv, *flags]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        return [s["label"] for s in row["segments"]], [r["label"] for r in row["per_frame"]]

    raw, frames = segments("--no-smooth")
    assert raw == ["red", "blue", "red"] and frames.count("blue") == 1
    assert segments() == (["red"], frames)
    assert segments("--min-segment", "1") == (raw, frames)  # a clean blip outweighs 1 s
    assert segments("--min-segment", "12")[0] == ["red"]
