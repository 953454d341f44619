"""Evaluation metrics and reports, prediction on files and folders, the untrained baseline."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from landrec import api
from landrec.data.transforms import Preprocessing
from landrec.engine.evaluation.evaluate import compute_metrics
from landrec.engine.evaluation.untrained import evaluate_untrained
from landrec.engine.inference.classifier import Classifier
from landrec.engine.inference.predict import predict_files
from landrec.engine.runs import ReportFiles, RunFolder
from landrec.models.registry import get_spec
from landrec.models.weights import offline_file

EVAL_FIELDS = {
    "accuracy",
    "macro_f1",
    "per_class",
    "confusion_matrix",
    "classes",
    "n_images",
    "images_per_second",
}


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, head_only: Callable[..., dict], dataset_writer
) -> tuple[Path, Path]:
    """(run folder, data root): random-init ResNet18 whose trained head tells the colours apart."""
    tmp = tmp_path_factory.mktemp("trained")
    root = dataset_writer(tmp / "data")
    api.train(
        root,
        tmp / "run",
        test=False,
        **head_only(tmp / "cache", head_epochs=20),
    )
    return tmp / "run", root


def test_compute_metrics_by_hand() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 0, 1, 1, 2, 2])
    m = compute_metrics(labels, preds, ["a", "b", "c", "unseen"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert m["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert m["per_class"]["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert m["per_class"]["unseen"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # A class with no test images does not drag the macro average down.
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)
    assert m["confusion_matrix"] == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_evaluate_fields_and_report_files(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, root = trained
    result = api.evaluate(run, root, out=tmp_path / "report")
    d = json.loads(json.dumps(result.to_dict()))
    assert set(d) >= EVAL_FIELDS
    assert d["classes"] == ["coast", "desert", "forest"] and d["n_images"] == 12
    assert d["accuracy"] >= 0.9  # solid colours: a trained head separates them
    assert sum(map(sum, d["confusion_matrix"])) == 12
    assert {c: v["support"] for c, v in d["per_class"].items()} == dict.fromkeys(d["classes"], 4)
    assert d["images_per_second"] > 0 and d["weights"] == "random init" and d["split"] == "test"
    assert d["random_init"] is True
    assert d["confusion_matrix_normalized"][0] == pytest.approx(
        [x / 4 for x in d["confusion_matrix"][0]]
    )
    files = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert files == ["test_confusion.png", "test_metrics.json", "test_report.md"]  # on disk
    report_files = ReportFiles(tmp_path / "report", "test")
    report = report_files.markdown.read_text()
    assert "random init" in report and "| coast |" in report
    saved = json.loads(report_files.metrics.read_text())
    assert saved["accuracy"] == d["accuracy"]


def test_evaluate_other_splits(trained: tuple[Path, Path]) -> None:
    run, root = trained
    assert api.evaluate(run, root, split="val").split == "val"
    assert api.evaluate(RunFolder(run).last, root, split="train").n_images == 12


def test_evaluate_a_folder_with_a_subset_of_classes(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    run, root = trained
    folder = tmp_path / "some"
    shutil.copytree(root / "test" / "forest", folder / "Forest")
    result = api.evaluate(run, folder)
    assert result.classes == ["coast", "desert", "forest"]
    assert result.n_images == 4
    assert result.per_class["forest"]["support"] == 4
    assert result.per_class["coast"]["support"] == 0
    assert result.confusion_matrix[2][2] == round(result.accuracy * 4)


def test_evaluate_refuses_an_unknown_class(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from landrec.data.layout import DataLayoutError

    run, root = trained
    shutil.copytree(root / "test" / "forest", tmp_path / "some" / "jungle")
    with pytest.raises(DataLayoutError, match="jungle"):
        api.evaluate(run, tmp_path / "some")


def test_predict_files_and_folders(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, root = trained
    folder = tmp_path / "photos"
    shutil.copytree(root / "test" / "coast", folder / "nested" / "deeper")
    (folder / "broken.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image: a row that says so")
    single = root / "test" / "desert" / "desert_0.jpg"
    preds = api.predict(run, [single, folder], top_k=2)
    assert [Path(p.path).name for p in preds] == [
        "desert_0.jpg",
        "broken.jpg",
        "coast_0.jpg",
        "coast_1.jpg",
        "coast_2.jpg",
        "coast_3.jpg",
        "notes.txt",
    ]
    broken = preds[1]
    assert broken.label is None and broken.confidence is None and broken.error
    assert preds[-1].label is None and preds[-1].error == "unsupported format (text)"
    good = [p for p in preds if p.error is None]
    assert len(good) == 5
    for p in good:
        probs = [prob for _, prob in p.top_k]
        assert len(p.top_k) == 2 and probs == sorted(probs, reverse=True)
        assert sum(probs) <= 1 + 1e-6
        assert (p.label, p.confidence) == p.top_k[0]
    assert preds[0].label == "desert"
    assert [p.label for p in preds[2:6]] == ["coast"] * 4
    everything = api.predict(run, [single], top_k=10)[0]
    assert len(everything.top_k) == 3  # clipped to the number of classes
    assert sum(prob for _, prob in everything.top_k) == pytest.approx(1.0, abs=1e-5)


def test_predict_orders_top_k_by_probability(tmp_path: Path, make_data) -> None:
    root = make_data(per_class=1, val=False, test=False)
    fixed = np.array([[0.5, 3.0, -1.0, 2.0]], dtype=np.float32)
    classifier = Classifier(
        ["w", "x", "y", "z"],
        Preprocessing(32, (0.5,) * 3, (0.5,) * 3),
        lambda batch: np.repeat(fixed, len(batch), axis=0),
        "fixed logits",
    )
    files = sorted(root.rglob("*.jpg"))
    preds = predict_files(classifier, files, top_k=3, workers=0, progress=False)
    expected = np.exp(fixed[0]) / np.exp(fixed[0]).sum()
    for p in preds:
        assert [c for c, _ in p.top_k] == ["x", "z", "w"]
        assert [v for _, v in p.top_k] == pytest.approx(expected[[1, 3, 0]].tolist())
        assert p.to_dict()["top_k"][0] == {"label": "x", "probability": pytest.approx(expected[1])}


def test_untrained_baseline_reports_its_weights(make_data) -> None:
    root = make_data(per_class=2)
    result = evaluate_untrained("mobilenet_v2", root, weights="none")
    assert result.weights == "random init"
    assert result.n_images == 6 and result.split == "test" and result.model == "mobilenet_v2"
    if offline_file(get_spec("mobilenet_v2")) is not None:
        pretrained = evaluate_untrained("mobilenet_v2", root, split="val")
        assert pretrained.weights == get_spec("mobilenet_v2").offline.pip_name  # type: ignore[union-attr]
