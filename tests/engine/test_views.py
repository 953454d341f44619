"""Views (issue 29): a sources file of several data-set roots, each with its view; a head that
scores (view, class) pairs and gives both marginals; calibration at the end of training by
default, out-of-class folders joining it; the view in predict's rows, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import COLOURS, write_image
from landrec import api
from landrec.cli.main import main
from landrec.data.layout import (
    DataLayoutError,
    Split,
    load_eval_folder,
    load_splits,
    read_sources_file,
)
from landrec.engine.checkpoint import read_meta
from landrec.engine.config import Backend
from landrec.engine.evaluation.calibrate import fit_calibration, halves
from landrec.engine.evaluation.evaluate import view_metrics
from landrec.engine.inference.classifier import load_classifier
from landrec.models.choices import ModelConfig
from landrec.models.factory import create_model
from landrec.models.net import fold

CLASSES = ("coast", "desert", "forest")


def write_overhead(path: Path, colour: tuple[int, int, int], seed: int, size: int = 48) -> Path:
    """An "overhead" image: the class's colour in a checkerboard of 8-px squares (a texture the
    ground images lack), with mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    board = ((y // 8 + x // 8) % 2)[..., None] * 120.0 - 60.0
    pixels = np.clip(np.array(colour) + board + rng.normal(0, 8, (size, size, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=92)
    return path


def write_sources(root: Path, per_class: int = 6, out_of_class: bool = True) -> Path:
    """ground/ and overhead/ data sets (train/val/test) of CLASSES, a grey out-of-class folder,
    and sources.yaml naming them (relative paths)."""
    for s, split in enumerate(("train", "val", "test")):
        for c, name in enumerate(CLASSES):
            for i in range(per_class):
                seed = 10_000 * s + 100 * c + i
                write_image(root / "ground" / split / name / f"g{i}.jpg", COLOURS[name], seed)
                write_overhead(root / "overhead" / split / name / f"o{i}.jpg", COLOURS[name], seed)
    lines = [
        "sources:",
        "  - {path: ground, view: ground}",
        "  - {path: overhead, view: overhead}",
    ]
    if out_of_class:
        for i in range(12):
            write_image(root / "ooc" / "grey" / f"x{i}.jpg", (128, 128, 128), 90_000 + i)
        lines += ["out_of_class: [ooc]"]
    sources = root / "sources.yaml"
    sources.write_text("\n".join(lines) + "\n")
    return sources


def test_a_sources_file_joins_roots_with_their_views(tmp_path: Path) -> None:
    sources = write_sources(tmp_path, per_class=2)
    data = load_splits(sources)
    assert data.views == ["ground", "overhead"] and data.classes == list(CLASSES)
    assert read_sources_file(sources).out_of_class == [(tmp_path / "ooc").resolve()]
    assert data.view_augment == [None, None] and data.view_weight == [1.0, 1.0]
    train = data.get(Split.TRAIN)
    assert len(train.samples) == 12
    paths, targets = train.paths_targets()
    for path, target, sample in zip(paths, targets, train.samples, strict=True):
        view = 1 if "overhead" in path.parts else 0
        assert sample.view == view and target == view * 3 + CLASSES.index(path.parent.name)
    # evaluation folders keep class labels (0..2), whatever the view
    test = load_eval_folder(sources, Split.TEST, list(CLASSES))
    assert sorted({s.label for s in test.samples}) == [0, 1, 2] and len(test.samples) == 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: []\n", "expected 'sources:'"),
        ("sources:\n  - {path: ground}\n", "needs a 'path' and a 'view'"),
        ("sources:\n  - {path: ground, view: a}\n  - {path: overhead, view: a}\n", "own view"),
        ("sources: [\n", "not a readable sources file"),
        ("sources:\n  - {path: ground, view: a, weight: 0}\n", "weight must be a number > 0"),
        ("sources:\n  - {path: ground, view: a, weight: x}\n", "weight must be a number > 0"),
    ],
)
def test_a_bad_sources_file_says_why(tmp_path: Path, text: str, message: str) -> None:
    write_sources(tmp_path, per_class=1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(DataLayoutError, match=message) as info:
        load_splits(bad)
    assert str(bad) in str(info.value)


def test_roots_with_other_classes_are_refused(tmp_path: Path) -> None:
    sources = write_sources(tmp_path, per_class=1, out_of_class=False)
    for split in ("train", "val", "test"):
        write_image(tmp_path / "overhead" / split / "glacier" / "x.jpg", (250, 250, 250), 1)
    with pytest.raises(DataLayoutError, match="has classes"):
        load_splits(sources)


def test_fold_gives_the_marginals_of_the_joint_softmax() -> None:
    joint = torch.randn(5, 2 * 3, dtype=torch.float64)
    classes, views = fold(joint, 2)
    p = joint.softmax(1).reshape(5, 2, 3)
    assert torch.allclose(classes.softmax(1), p.sum(1))
    assert torch.allclose(views.softmax(1), p.sum(2))


def test_a_model_with_views_outputs_classes_then_views() -> None:
    torch.manual_seed(0)
    config = ModelConfig("mobilenet_v2", 3, views=("ground", "overhead"))
    assert config.outputs == 6 and ModelConfig.from_dict(config.to_dict()) == config
    model, _ = create_model(config, weights="none")
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        joint, out = model.joint_from(0, x), model.outputs(x)
        assert joint.shape == (2, 6) and out.shape == (2, 5)
        assert torch.allclose(out[:, :3], model(x), atol=1e-6)
        assert torch.allclose(out[:, 3:].softmax(1), joint.softmax(1).reshape(2, 2, 3).sum(2))
    # without views: one output per class, `outputs` is `forward`
    plain, _ = create_model(ModelConfig("mobilenet_v2", 3), weights="none")
    assert (
        ModelConfig.from_dict({"arch": "mobilenet_v2", "num_classes": 3, "head": "mlp"}).views == ()
    )
    with torch.inference_mode():
        assert torch.equal(plain.eval().outputs(x), plain(x))


def test_out_of_class_images_join_the_threshold() -> None:
    """Accepted out-of-class images count as errors: the threshold rises above them."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    logits = rng.normal(0, 1, (400, 3))
    logits[np.arange(400), labels] += 4.0  # mostly right, confident
    outside = np.zeros((100, 3))
    outside[:, 0] = 6.0  # confidently "class 0"
    alone = fit_calibration(logits, labels, 0.97)
    joined = fit_calibration(logits, labels, 0.97, outside=outside)
    top = float(np.exp(6.0) / (np.exp(6.0) + 2))  # their confidence at T = 1
    assert joined.outside_n == 100
    assert joined.threshold is not None and alone.threshold is not None
    assert joined.threshold > alone.threshold
    assert joined.threshold >= min(top ** (1 / joined.temperature), 0.999) * 0.5


def test_halves_split_a_folder_stably(tmp_path: Path) -> None:
    for i in range(40):
        write_image(tmp_path / "ooc" / "a" / f"{i}.jpg", (1, 2, 3), i, size=8)
    fit, check = halves(tmp_path / "ooc")
    assert len(fit) + len(check) == 40 and not set(fit) & set(check)
    assert 10 <= len(fit) <= 30
    assert halves(tmp_path / "ooc") == (fit, check)


@pytest.fixture(scope="module")
def views_run(
    tmp_path_factory: pytest.TempPathFactory, head_only: Callable[..., dict]
) -> tuple[Path, Path, api.TrainAndTest]:
    """A head-only run on the generated sources file, calibrated as the default recipe is."""
    root = tmp_path_factory.mktemp("views")
    sources = write_sources(root)
    options = head_only(root / "cache", head_epochs=12, calibrate=True, target_accuracy=0.9)
    result = api.train(sources, root / "run", **options)
    return root, sources, result


def test_training_on_sources_learns_context_and_view_and_ends_calibrated(
    views_run: tuple[Path, Path, api.TrainAndTest],
) -> None:
    root, _, result = views_run
    meta = read_meta(result.train.checkpoint)
    assert meta.model.views == ("ground", "overhead") and meta.classes == list(CLASSES)
    assert result.calibration is not None and meta.threshold == result.calibration.threshold
    assert meta.temperature == pytest.approx(result.calibration.temperature)
    assert result.calibration.outside_n > 0
    [check] = result.calibration.out_of_class
    assert check["folder"] == str((root / "ooc").resolve()) and check["n"] > 0
    assert result.test is not None and result.test.accuracy >= 0.9  # classes, views summed out
    ground = api.predict(result.train.run_dir, [root / "ground" / "test"], unknown=False)
    overhead = api.predict(result.train.run_dir, [root / "overhead" / "test"], unknown=False)
    assert [p.view for p in ground] == ["ground"] * len(ground)
    assert [p.view for p in overhead] == ["overhead"] * len(overhead)
    assert all(0.5 <= p.view_confidence <= 1.0 for p in ground + overhead)
    right = [p.best_guess == Path(p.path).parent.name for p in ground + overhead]
    assert np.mean(right) >= 0.9


def test_both_backends_give_the_same_views(views_run: tuple[Path, Path, api.TrainAndTest]) -> None:
    root, _, result = views_run
    images = sorted((root / "overhead" / "test").rglob("*.jpg"))[:6]
    batch = np.stack([np.zeros((3, 32, 32), np.float32) + i / 10 for i in range(3)])
    torch_c = load_classifier(result.train.run_dir, Backend.TORCH)
    onnx_c = load_classifier(result.train.run_dir, Backend.ONNX)
    assert torch_c.views == onnx_c.views == ["ground", "overhead"]
    for a, b in zip(torch_c.outputs(batch), onnx_c.outputs(batch), strict=True):
        assert a is not None and b is not None
        np.testing.assert_allclose(a, b, atol=1e-4)
    by_torch = api.predict(result.train.run_dir, images, backend="torch")
    by_onnx = api.predict(result.train.run_dir, images, backend="onnx")
    assert [p.view for p in by_torch] == [p.view for p in by_onnx] == ["overhead"] * 6


def test_predict_prints_the_view_in_json_and_csv(
    views_run: tuple[Path, Path, api.TrainAndTest], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, result = views_run
    folder = root / "ground" / "test" / "forest"
    assert main(["predict", str(result.train.run_dir), str(folder), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["view"] for r in rows} == {"ground"} and all(r["view_confidence"] for r in rows)
    assert main(["predict", str(result.train.run_dir), str(folder), "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["view"] for r in table} == {"ground"} and len(table) == 6


def test_a_model_without_views_says_no_view(red_blue_checkpoint: Path, tmp_path: Path) -> None:
    image = write_image(tmp_path / "a.jpg", (200, 10, 10), 0)
    [p] = api.predict(red_blue_checkpoint, [image])
    assert p.view is None and p.view_confidence is None
    assert p.to_dict()["view"] is None


def test_train_can_skip_calibration(tmp_path: Path, head_only: Callable[..., dict]) -> None:
    sources = write_sources(tmp_path, per_class=2)
    result = api.train(sources, tmp_path / "run", **head_only(tmp_path / "c", head_epochs=1))
    assert result.calibration is None and read_meta(result.train.checkpoint).threshold is None


def test_each_source_may_have_its_own_augmentation_and_loss_weight(tmp_path: Path) -> None:
    from landrec.data.choices import AugPreset
    from landrec.engine.config import ConfigError
    from landrec.engine.training.train import view_presets

    write_sources(tmp_path, per_class=1, out_of_class=False)
    own = tmp_path / "own.yaml"
    own.write_text(
        "sources:\n  - {path: ground, view: ground, weight: 2}\n"
        "  - {path: overhead, view: overhead, augment: overhead}\n"
    )
    data = load_splits(own)
    assert data.view_weight == [2.0, 1.0]
    assert view_presets(data, AugPreset.FLIP) == [AugPreset.FLIP, AugPreset.OVERHEAD]
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {path: ground, view: g, augment: sideways}\n")
    with pytest.raises(ConfigError, match=r"view g: augment 'sideways' \(allowed: none, flip"):
        view_presets(load_splits(bad), AugPreset.FLIP)


def test_train_defaults_to_the_ground_and_overhead_sources(tmp_path: Path) -> None:
    from landrec.cli.options import DEFAULT_SOURCES, default_train_data

    assert default_train_data(tmp_path) == tmp_path  # a given DATA is taken as it is
    roots = [root for root, _ in api.read_sources(DEFAULT_SOURCES)]
    assert [r.name for r in roots] == ["landscapes", "aerial"]
    if not all(r.is_dir() for r in roots):
        pytest.skip("the shared photos are not beside the checkout")
    assert default_train_data(None) == DEFAULT_SOURCES
    data = load_splits(DEFAULT_SOURCES)
    assert data.views == ["ground", "overhead"] and data.view_weight == [2.0, 1.0]
    assert data.view_augment == [None, "overhead"]
    assert len(read_sources_file(DEFAULT_SOURCES).out_of_class) == 2


def test_distilling_into_a_model_with_views_is_refused(
    tmp_path: Path, head_only: Callable[..., dict], red_blue_checkpoint: Path
) -> None:
    from landrec.engine.config import ConfigError

    sources = write_sources(tmp_path, per_class=1, out_of_class=False)
    options = head_only(tmp_path / "c", teacher=str(red_blue_checkpoint))
    with pytest.raises(ConfigError, match=r"^teacher: distilling into a model with views"):
        api.train(sources, tmp_path / "run", **options)


def test_evaluate_breaks_a_sources_split_down_by_view(
    views_run: tuple[Path, Path, api.TrainAndTest],
) -> None:
    root, sources, result = views_run
    run = result.train.run_dir
    both = api.evaluate(run, sources, "test", unknown=False)
    assert both.per_view is not None and list(both.per_view) == ["ground", "overhead"]
    rows = both.per_view.values()
    assert sum(r["images"] for r in rows) == both.n_images == 2 * len(CLASSES) * 6
    weighted = sum(r["images"] * r["accuracy"] for r in rows) / both.n_images
    assert weighted == pytest.approx(both.accuracy)
    predicted = api.predict(run, [root / "ground" / "test", root / "overhead" / "test"])
    by_view = {v: [p.view == v for p in predicted if f"/{v}/" in p.path] for v in both.per_view}
    for view, row in both.per_view.items():  # the views predict gives, counted per view
        assert row["view_accuracy"] == pytest.approx(np.mean(by_view[view]))
    assert "| ground | 18 |" in api.to_markdown(both) and both.to_dict()["per_view"]
    trained = result.test  # the run's own test pass, through the feature cache
    assert trained is not None and trained.per_view is not None
    for view, row in both.per_view.items():
        for key, value in row.items():
            assert trained.per_view[view][key] == pytest.approx(value)
    one = api.evaluate(run, root / "ground", "test", unknown=False)  # a data-set root: no views
    assert one.per_view is None and "| view |" not in api.to_markdown(one)
    assert one.accuracy == pytest.approx(both.per_view["ground"]["accuracy"])


def test_view_metrics_count_each_views_images_and_its_own_view() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])  # right, wrong, right, wrong, right
    views = torch.tensor([0, 0, 1, 1, 1])
    seen = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    names, model_views = ["ground", "overhead", "underwater"], ["overhead", "ground"]
    rows = view_metrics(logits, labels, views, seen, names, model_views)
    assert list(rows) == ["ground", "overhead"]  # no image of the third view: no row
    assert rows["ground"] == {"images": 2, "accuracy": 0.5, "view_accuracy": 0.5}
    assert rows["overhead"] == pytest.approx(
        {"images": 3, "accuracy": 2 / 3, "view_accuracy": 1 / 3}
    )
    without = view_metrics(logits, labels, views, None, names, [])  # a model with no views
    assert without["ground"] == {"images": 2, "accuracy": 0.5}
