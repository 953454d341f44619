"""calibrate: temperature scaling, ECE, the unknown threshold; predict/export/evaluate honour
them; out-of-class rejection; test-time augmentation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landrec import api
from landrec.cli.main import main
from landrec.data.transforms import Preprocessing
from landrec.engine.checkpoint import load_checkpoint, read_meta
from landrec.engine.evaluation.calibrate import (
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    nll,
)
from landrec.engine.evaluation.evaluate import image_logits
from landrec.engine.inference.classifier import (
    Classifier,
    onnx_classifier,
    torch_classifier,
    with_options,
)
from landrec.engine.inference.export import export_onnx
from landrec.engine.inference.predict import predict_files
from landrec.engine.loop import CachedSource, predict_logits
from landrec.engine.onnx import read_onnx_meta
from landrec.engine.probability import softmax
from landrec.engine.runs import RunFolder
from landrec.engine.selective import UNKNOWN, choose_threshold, coverage_curve

# Three greys close enough that a tiny model confuses some images: calibration has work to do.
GREYS = {"dim": 105, "mid": 128, "bright": 150}
SPLIT_SIZES = {"train": 24, "val": 30, "test": 6}


def _grey_image(path: Path, level: int, seed: int, size: int = 40) -> None:
    rng = np.random.default_rng(seed)
    shade = level + rng.normal(0, 14)  # per-image brightness: the classes overlap
    pixels = np.clip(shade + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _greys_dataset(root: Path) -> Path:
    for s, (split, n) in enumerate(SPLIT_SIZES.items()):
        for c, (name, level) in enumerate(GREYS.items()):
            for i in range(n):
                _grey_image(root / split / name / f"{name}_{i}.png", level, 1000 * s + 50 * c + i)
    return root


def _out_of_class(folder: Path, n: int = 6) -> Path:
    """Magenta and green stripes: colours and a pattern none of the classes has."""
    for i in range(n):
        pixels = np.zeros((40, 40, 3), np.uint8)
        pixels[:, :] = (220, 40, 220) if i % 2 else (40, 200, 60)
        pixels[:: 4 + i % 3] = 255
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"other_{i}.png")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, head_only: Callable[..., dict]) -> dict:
    """A random-init ResNet18 head trained on the greys, then calibrated on val."""
    tmp = tmp_path_factory.mktemp("calibrate")
    data = _greys_dataset(tmp / "data")
    api.train(
        data,
        tmp / "run",
        test=False,
        **head_only(tmp / "cache", head_epochs=12),
    )
    last_before = RunFolder(tmp / "run").last.read_bytes()
    result = api.calibrate(tmp / "run", data, target_accuracy=0.9)
    return {"tmp": tmp, "data": data, "run": tmp / "run", "result": result, "last": last_before}


# ---- the numbers, by hand ---------------------------------------------------------------


def _overconfident(n: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits `scale` times too large for labels drawn from softmax(logits / scale)."""
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (n, 5))
    labels = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    return scale * true_logits, labels


def test_fit_temperature_recovers_a_known_scale() -> None:
    logits, labels = _overconfident(4000, scale=2.5)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(2.5, rel=0.08)
    assert nll(logits, labels, t) < nll(logits, labels)
    # Calibrated logits keep T close to 1.
    assert fit_temperature(logits / 2.5, labels) == pytest.approx(1.0, rel=0.08)


def test_expected_calibration_error_by_hand() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 0])
    # 15 bins: 0.9 and 0.8 in separate bins, 0.7 and 0.55 in separate bins.
    # |1 - 0.9| + |0 - 0.8| + |1 - 0.7| + |0 - 0.55| over 4 images.
    expected = (0.1 + 0.8 + 0.3 + 0.55) / 4
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)
    # One bin: |mean accuracy - mean confidence|.
    assert expected_calibration_error(probs, labels, bins=1) == pytest.approx(
        abs(0.5 - (0.9 + 0.8 + 0.7 + 0.55) / 4)
    )
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, np.array([0, 1])) == 0.0


def test_choose_threshold_by_hand() -> None:
    conf = np.array([0.6, 0.9, 0.7, 0.8])
    correct = np.array([True, True, False, True])
    # Most confident first: 0.9 ok, 0.8 ok, 0.7 wrong, 0.6 ok -> top-k accuracy 1, 1, 2/3, 3/4.
    assert choose_threshold(conf, correct, 0.9) == 0.8
    assert choose_threshold(conf, correct, 0.75) == 0.0  # all four reach 0.75: accept all
    assert choose_threshold(conf, ~correct, 0.5) is None  # the most confident is wrong
    # A tie cannot be split: accepting 0.9 accepts both 0.9s (one wrong).
    tie = np.array([0.9, 0.9, 0.5])
    assert choose_threshold(tie, np.array([True, False, True]), 1.0) is None
    assert choose_threshold(tie, np.array([True, True, False]), 1.0) == 0.9


def test_coverage_curve_and_fit_calibration() -> None:
    logits, labels = _overconfident(600, scale=3.0)
    result = fit_calibration(logits, labels, target_accuracy=0.9)
    assert result.temperature == pytest.approx(3.0, rel=0.25)
    assert result.nll_after < result.nll_before
    assert result.ece_after < result.ece_before / 2
    after = softmax(logits / result.temperature)
    accepted = after.max(1) >= result.threshold
    assert result.coverage == pytest.approx(accepted.mean())
    assert result.accuracy == pytest.approx((after.argmax(1) == labels)[accepted].mean())
    assert result.accuracy >= 0.9
    curve = coverage_curve(after.max(1), after.argmax(1) == labels)
    coverage = [p["coverage"] for p in curve]
    assert coverage[0] == 1.0 and coverage == sorted(coverage, reverse=True)
    assert result.curve == curve


# ---- calibrate a trained run -------------------------------------------------------------


def test_calibrate_result_and_files(run: dict) -> None:
    r = run["result"]
    assert np.isfinite(r.temperature) and r.temperature > 0
    assert r.n_images == 3 * SPLIT_SIZES["val"] and r.split == "val"
    assert r.nll_after <= r.nll_before + 1e-9
    assert r.ece_after <= r.ece_before + 0.05  # T minimises NLL, not ECE: allow a little
    assert r.threshold is not None and 0.0 <= r.threshold <= 1.0
    assert r.accuracy >= r.target_accuracy == 0.9
    assert 0.0 < r.coverage <= 1.0
    assert Path(r.files["png"]).stat().st_size > 0
    saved = json.loads(Path(r.files["json"]).read_text())
    assert saved["temperature"] == r.temperature and saved["threshold"] == r.threshold
    assert Path(r.files["png"]).parent == run["run"]


def test_calibration_is_written_into_best_only(run: dict) -> None:
    r = run["result"]
    meta = read_meta(RunFolder(run["run"]).best)
    assert meta.extra["calibration"] == {
        "temperature": r.temperature,
        "threshold": r.threshold,
        "target_accuracy": 0.9,
        "split": "val",
    }
    assert meta.temperature == r.temperature and meta.threshold == r.threshold
    assert "epoch" in meta.extra  # training's own metadata is kept
    assert RunFolder(run["run"]).last.read_bytes() == run["last"]


def test_predict_applies_the_calibration_found_on_val(run: dict) -> None:
    """Predicting val with the stored T and threshold reproduces calibrate's coverage and
    accuracy (up to one image at the boundary: float32 logits via a different batching)."""
    r, val = run["result"], run["data"] / "val"
    preds = api.predict(run["run"], [val])
    accepted = [p for p in preds if p.label != UNKNOWN]
    n = len(preds)
    assert len(accepted) / n == pytest.approx(r.coverage, abs=1.01 / n)
    correct = [Path(p.path).parent.name == p.label for p in accepted]
    assert np.mean(correct) >= r.target_accuracy - 1.01 / n
    for p in preds:
        assert p.best_guess == p.top_k[0][0] and p.confidence == p.top_k[0][1]
        assert p.label in (UNKNOWN, p.best_guess)
        assert (p.label == UNKNOWN) == (p.confidence < r.threshold)


def test_unknown_override_and_off(run: dict) -> None:
    test = run["data"] / "test"
    everything_unknown = api.predict(run["run"], [test], threshold=1.0)
    assert {p.label for p in everything_unknown} == {UNKNOWN}
    assert all(p.best_guess in GREYS and len(p.top_k) == 3 for p in everything_unknown)
    assert all(p.to_dict()["best_guess"] == p.best_guess for p in everything_unknown)
    never = api.predict(run["run"], [test], unknown=False)
    assert UNKNOWN not in {p.label for p in never}
    assert [p.label for p in never] == [p.best_guess for p in everything_unknown]
    accept_all = api.predict(run["run"], [test], threshold=0.0)
    assert [p.label for p in accept_all] == [p.label for p in never]


def test_temperature_scales_the_probabilities(run: dict) -> None:
    r = run["result"]
    calibrated = torch_classifier(RunFolder(run["run"]).best)
    assert calibrated.temperature == r.temperature and calibrated.threshold == r.threshold
    x = np.random.default_rng(0).normal(0, 1, (2, 3, 32, 32)).astype(np.float32)
    raw = calibrated.logits(x).astype(np.float64)
    np.testing.assert_allclose(calibrated.probabilities(x), softmax(raw / r.temperature))
    uncalibrated = torch_classifier(RunFolder(run["run"]).last)
    assert uncalibrated.temperature == 1.0 and uncalibrated.threshold is None


def test_onnx_export_carries_the_calibration(run: dict, tmp_path: Path) -> None:
    r = run["result"]
    onnx_path = export_onnx(RunFolder(run["run"]).best, tmp_path / "m.onnx").path
    assert read_onnx_meta(onnx_path).extra["calibration"]["temperature"] == r.temperature
    onnx = onnx_classifier(onnx_path)
    assert onnx.temperature == r.temperature and onnx.threshold == r.threshold
    paths = sorted((run["data"] / "test").rglob("*.png"))
    via_onnx = predict_files(onnx, paths, progress=False)
    via_torch = api.predict(run["run"], paths)
    assert [p.label for p in via_onnx] == [p.label for p in via_torch]
    for a, b in zip(via_onnx, via_torch, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
    # TTA works on the ONNX backend too, and agrees with torch's.
    tta_onnx = predict_files(with_options(onnx, tta=True), paths, progress=False)
    tta_torch = api.predict(run["run"], paths, tta=True)
    for a, b in zip(tta_onnx, tta_torch, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


def test_rejection_report(run: dict) -> None:
    other = _out_of_class(run["tmp"] / "other")
    report = api.rejection_report(run["run"], run["data"], other)
    assert report["threshold"] == run["result"].threshold
    inside, outside = report["in_class"], report["out_of_class"]
    assert inside["n"] == 3 * SPLIT_SIZES["test"] and outside["n"] == 6
    assert 0.0 <= outside["rejection_rate"] <= 1.0
    assert sum(outside["accepted_as"].values()) == round((1 - outside["rejection_rate"]) * 6)
    # The in-class figures are the unknown rule applied to predict's output on test.
    preds = api.predict(run["run"], [run["data"] / "test"])
    rejected = [p.label == UNKNOWN for p in preds]
    assert inside["false_rejection_rate"] == pytest.approx(np.mean(rejected), abs=1.01 / len(preds))
    strict = api.rejection_report(run["run"], run["data"], other, threshold=1.0)
    assert strict["out_of_class"]["rejection_rate"] == 1.0
    assert strict["in_class"]["false_rejection_rate"] == 1.0
    assert strict["in_class"]["accuracy_accepted"] is None
    lenient = api.rejection_report(run["run"], run["data"], other, threshold=0.0)
    assert lenient["out_of_class"]["rejection_rate"] == 0.0
    assert lenient["in_class"]["accuracy_accepted"] == lenient["in_class"]["accuracy_all"]


def test_evaluate_with_tta_and_the_unknown_rule(run: dict) -> None:
    plain = api.evaluate(run["run"], run["data"], unknown=False)
    assert plain.selective is None and not plain.tta
    calibrated = api.evaluate(run["run"], run["data"])
    sel = calibrated.selective
    assert sel is not None and sel["threshold"] == run["result"].threshold
    assert sel["accuracy_all"] == pytest.approx(calibrated.accuracy)
    assert sel["coverage"] + sel["rejected"] == pytest.approx(1.0)
    assert calibrated.accuracy == plain.accuracy  # metrics cover every image either way
    flipped = api.evaluate(run["run"], run["data"], tta=True, threshold=0.0)
    assert flipped.tta and flipped.n_images == plain.n_images
    assert flipped.selective is not None and flipped.selective["coverage"] == 1.0


# ---- test-time augmentation ---------------------------------------------------------------


def _classifier(logits) -> Classifier:
    return Classifier(["a", "b"], Preprocessing(4, (0, 0, 0), (1, 1, 1)), logits, "test")


def test_tta_averages_probabilities_over_the_mirror() -> None:
    def left_vs_right(x: np.ndarray) -> np.ndarray:  # a model that only looks at one side
        return np.stack([x[:, 0, 0, 0] * 3, x[:, 0, 0, -1] * 3], axis=1)

    x = np.zeros((2, 3, 4, 4), np.float32)
    x[0, :, :, 0] = 1.0  # bright on the left
    x[1, :, :, -1] = 2.0  # brighter on the right
    plain = _classifier(left_vs_right)
    flipped = with_options(plain, tta=True)
    expected = (softmax(left_vs_right(x)) + softmax(left_vs_right(x[..., ::-1].copy()))) / 2
    np.testing.assert_allclose(flipped.probabilities(x), expected, rtol=1e-6)
    np.testing.assert_allclose(flipped.probabilities(x).sum(1), 1.0)
    # A mirror-symmetric input gives the same probabilities with or without TTA.
    sym = np.ones((1, 3, 4, 4), np.float32)
    np.testing.assert_allclose(flipped.probabilities(sym), plain.probabilities(sym), rtol=1e-6)


def test_tta_through_torch_and_evaluate_agree(run: dict) -> None:
    """evaluate's TTA (torch, in the loop) and predict's (the Classifier wrapper) match."""
    paths = sorted((run["data"] / "test").rglob("*.png"))
    model, meta = load_checkpoint(RunFolder(run["run"]).last)
    logits, _, _ = image_logits(model, meta.preprocessing, paths, [0] * len(paths), tta=True)
    preds = api.predict(RunFolder(run["run"]).last, paths, tta=True)
    np.testing.assert_allclose(
        torch.softmax(logits.double(), 1).max(1).values.numpy(),
        [p.confidence for p in preds],
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="cannot be flipped"):
        predict_logits(model, CachedSource(torch.zeros(1, 2, 512), torch.zeros(2), 2), 5, True)


# ---- the command line -------------------------------------------------------------------


def test_cli_calibrate_predict_evaluate(
    run: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run["run"], copy)
    other = _out_of_class(tmp_path / "other")
    argv = ["calibrate", copy, run["data"], "--target-accuracy", "0.9", "--json"]
    assert main([str(a) for a in [*argv, "--out-of-class", other]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["temperature"] == pytest.approx(run["result"].temperature)
    assert out["rejection"]["out_of_class"]["n"] == 6
    assert main([str(a) for a in argv[:-1]]) == 0
    text = capsys.readouterr().out
    assert "temperature" in text and "unknown" in text and "calibration.png" in text

    test = run["data"] / "test"
    assert main(["predict", str(copy), str(test), "--threshold", "1", "--format", "json"]) == 0
    labels = {p["label"] for p in json.loads(capsys.readouterr().out)}
    assert labels == {UNKNOWN}
    argv = ["predict", str(copy), str(test), "--threshold", "1", "--no-unknown", "--tta"]
    assert main([*argv, "--format", "json"]) == 0
    assert UNKNOWN not in {p["label"] for p in json.loads(capsys.readouterr().out)}
    assert main(["evaluate", str(copy), str(run["data"]), "--tta", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tta"] is True and result["selective"]["n"] == result["n_images"]
    assert main(["evaluate", str(copy), str(run["data"]), "--tta"]) == 0
    assert "mirror" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["predict", str(copy), str(test), "--threshold", "1.5"])
