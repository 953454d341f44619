"""benchmarks/bench_robustness.py end to end on tiny generated photos, and its corruptions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_image

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    """The benchmark modules, imported the way the scripts import each other."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_robustness
    import build_outofsource
    import corruptions

    return bench_robustness, corruptions, build_outofsource


def write_classes(root: Path, per_class: int, seed: int) -> Path:
    for c, (name, colour) in enumerate({"red": (200, 30, 30), "blue": (30, 30, 200)}.items()):
        for i in range(per_class):
            write_image(root / name / f"{name}_{i}.jpg", colour, seed + 10 * c + i, size=40)
    return root


def test_every_corruption_keeps_shape_and_is_seeded(bench) -> None:
    _, corruptions, _ = bench
    img = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    for name, corruption in corruptions.CORRUPTIONS.items():
        for severity in range(1, len(corruption.levels) + 1):
            a = corruptions.apply(img, name, severity, np.random.default_rng(1))
            b = corruptions.apply(img, name, severity, np.random.default_rng(1))
            assert a.shape == img.shape and a.dtype == np.uint8, name
            assert np.array_equal(a, b), name
    gray = corruptions.apply(img, "grayscale", 1, np.random.default_rng(0))
    assert np.array_equal(gray[..., 0], gray[..., 2])
    dark = corruptions.apply(img, "low_light", 2, np.random.default_rng(0))
    assert dark.mean() < img.mean() / 2


def test_duplicates_are_found_by_hash_and_thumbnail(bench, tmp_path: Path) -> None:
    _, _, build = bench
    photo = Image.open(write_image(tmp_path / "a.jpg", (90, 140, 60), seed=3, size=64))
    photo = Image.fromarray(np.asarray(photo) // 2 + np.arange(64, dtype=np.uint8)[:, None, None])
    copy = io.BytesIO()
    photo.resize((48, 48)).save(copy, format="JPEG", quality=70)  # resized, re-encoded
    other = Image.fromarray(np.asarray(photo)[::-1])  # same colours, upside down
    index = build.Index([], {}, [], [])
    index.add("a.jpg", "sha-a", build.average_hash(photo), build.thumbnail(photo))
    again = Image.open(copy)
    why, _ = index.duplicate("sha-b", build.average_hash(again), build.thumbnail(again))
    assert why is not None and why.startswith("near duplicate of a.jpg")
    assert index.duplicate("sha-a", 0, build.thumbnail(other))[0] == "exact duplicate of a.jpg"
    assert index.duplicate("sha-c", build.average_hash(other), build.thumbnail(other))[0] is None


def test_quick_run_writes_json(bench, red_blue_checkpoint: Path, tmp_path: Path) -> None:
    bench_robustness, _, _ = bench
    data = write_classes(tmp_path / "test", per_class=3, seed=0)
    outside = write_classes(tmp_path / "outside", per_class=2, seed=100)
    (outside / "manifest.csv").write_text(
        "file,class,repo,commit,licence,kept\n"
        "red/red_0.jpg,red,someone/photos,abc,none stated,yes\n"
        "red/red_9.jpg,red,someone/photos,abc,none stated,exact duplicate of x\n"
    )
    argv = ["--run", red_blue_checkpoint, "--data", data, "--out-of-source", outside]
    argv += ["--corruptions", "jpeg", "grayscale", "--backend", "torch", "--out-dir", tmp_path]
    assert bench_robustness.main([str(a) for a in argv]) == 0

    record = json.loads((tmp_path / "bench_robustness.json").read_text())
    results = record["results"]
    assert set(results["settings"]) == {"jpeg-1", "jpeg-2", "grayscale-1"}
    assert results["clean"]["n"] == 6 and set(results["clean"]["per_class"]) == {"red", "blue"}
    assert 0 <= results["mean_corruption_accuracy"] <= 1
    assert (
        results["per_corruption_mean"]["grayscale"]
        == results["settings"]["grayscale-1"]["accuracy"]
    )
    oos = results["out_of_source"]
    assert oos["n"] == 4 and oos["classes_without_photos"] == []
    (source,) = oos["sources"]
    assert source["n"] == 1 and source["licence"] == "none stated"
    assert source["repo"] == "someone/photos" and 0 <= source["accuracy"] <= 1
    assert oos["dropped"] == {"exact duplicate of x": 1}
    assert record["machine"]["cpu_model"] and record["command"].startswith("python ")


def test_overhead_builder_maps_classes_and_picks_the_same_photos(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import build_outofsource as ground
    import build_outofsource_aerial as aerial

    assert [aerial.target_class(c) for c in ("Beach", "snowberg", "Desert", "BareLand")] == [
        "coast",
        "glacier",
        "desert",
        "bareland",
    ]
    paths = [f"AID/River/river_{i}.jpg" for i in range(10)]
    picked = aerial.pick(paths, 4)
    assert len(picked) == 4 and picked == aerial.pick(paths[::-1], 4) and picked != paths[:4]
    assert aerial.pick(paths, None) == sorted(paths)

    photo = write_image(tmp_path / "ooc" / "river" / "r.jpg", (40, 90, 160), seed=5, size=64)
    index = aerial.add_flat_folder(aerial.Index([], {}, [], []), tmp_path / "ooc")
    assert index.names == ["ooc/river/r.jpg"]
    with Image.open(photo) as im:
        h, thumb = ground.average_hash(im), ground.thumbnail(im)
    assert index.duplicate("other-sha", h, thumb)[0].startswith("near duplicate of ooc/river/r.jpg")
