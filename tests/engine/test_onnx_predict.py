"""ONNX Runtime prediction: a run folder's cached export, the default backend, the decoding
pipeline's order and error rows, and a prediction path that never imports torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_corrupt, write_image
from landrec import api
from landrec.data.decode import load_image
from landrec.data.preprocess import Preprocessing, to_array
from landrec.engine.checkpoint import CheckpointError, CheckpointMeta, read_meta, save_checkpoint
from landrec.engine.config import Backend
from landrec.engine.inference import onnx_cache
from landrec.engine.inference.classifier import Classifier, default_backend, load_classifier
from landrec.engine.inference.predict import ImageRef, predict_refs
from landrec.engine.pipeline import image_batches
from landrec.engine.runs import RunFolder, onnx_cache_path
from landrec.models.factory import create_model


@pytest.fixture
def run(tmp_path: Path, red_blue_checkpoint: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(red_blue_checkpoint, RunFolder(folder).best)
    return folder


def _images(folder: Path, n: int = 6) -> list[Path]:
    colours = [(220, 30, 30), (30, 30, 220)]
    return [
        write_image(folder / f"{i}.jpg", colours[i % 2], seed=i, size=40 + 3 * i) for i in range(n)
    ]


def _batch(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 3, 32, 32)).astype(np.float32)


def _resave(checkpoint: Path, seed: int) -> None:
    """Replace the checkpoint with other weights (same architecture and metadata)."""
    meta = read_meta(checkpoint)
    torch.manual_seed(seed)
    model, _ = create_model(meta.model, weights="none")
    save_checkpoint(checkpoint, model.eval(), meta)


def test_run_folder_export_is_cached_reused_and_rebuilt(
    run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    best = RunFolder(run).best
    cached = onnx_cache_path(best)
    assert cached == run / "best.fp32.onnx"  # the on-disk name
    first = load_classifier(run, Backend.ONNX)
    assert not cached.exists()  # made at the first batch: classifying nothing writes nothing
    assert first.source.startswith(str(best)) and "[onnx]" in first.source
    np.testing.assert_allclose(
        first.logits(_batch()), load_classifier(run, Backend.TORCH).logits(_batch()), atol=1e-4
    )
    assert cached.is_file()
    built = cached.stat().st_mtime_ns
    builds: list[Path] = []
    real_build = onnx_cache.build
    monkeypatch.setattr(onnx_cache, "build", lambda c: builds.append(c) or real_build(c))
    load_classifier(best, Backend.ONNX)
    assert builds == [] and cached.stat().st_mtime_ns == built  # reused

    _resave(best, seed=1)
    second = load_classifier(run, Backend.ONNX).logits(_batch())
    assert builds == [best]  # rebuilt: the checkpoint changed
    new_torch = load_classifier(run, Backend.TORCH).logits(_batch())
    np.testing.assert_allclose(second, new_torch, atol=1e-4)
    assert np.abs(first.logits(_batch()) - new_torch).max() > 1e-3  # the old export was stale


def test_a_damaged_cache_file_is_rebuilt(run: Path) -> None:
    cached = onnx_cache_path(RunFolder(run).best)
    cached.write_bytes(b"not a model")
    classifier = load_classifier(run, Backend.ONNX)
    assert classifier.logits(_batch(2)).shape == (2, 2)
    assert onnx_cache.SOURCE_KEY.encode() in cached.read_bytes()


def test_default_backend_is_onnx_and_agrees_with_torch(run: Path, tmp_path: Path) -> None:
    images = _images(tmp_path / "images", 12)
    assert default_backend() is Backend.ONNX
    default = api.predict(run, images)
    torch_rows = api.predict(run, images, backend="torch")
    assert onnx_cache_path(RunFolder(run).best).is_file()  # the default ran on ONNX Runtime
    assert [p.best_guess for p in default] == [p.best_guess for p in torch_rows]
    for a, b in zip(default, torch_rows, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


def _brightness_classifier(size: int = 24) -> Classifier:
    """'dark' or 'light' by the mean of the preprocessed image: order is checkable per row."""
    pre = Preprocessing(size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

    def logits(x: np.ndarray) -> np.ndarray:
        mean = x.reshape(len(x), -1).mean(axis=1)
        return np.stack([-10 * mean, 10 * mean], axis=1)

    return Classifier(["dark", "light"], pre, logits, "brightness")


@pytest.mark.parametrize("n_images", [2, 40], ids=["one batch", "many batches"])
def test_pipeline_keeps_input_order_and_turns_failures_into_rows(
    tmp_path: Path, n_images: int
) -> None:
    shades = [(20, 20, 20), (235, 235, 235)]
    paths = [
        write_image(tmp_path / f"{i:02d}.jpg", shades[(i * 7 // 3) % 2], seed=i, size=30 + i % 9)
        for i in range(n_images)
    ]
    (tmp_path / "bad").mkdir()
    empty, truncated = write_corrupt(tmp_path / "bad")
    paths[1:1] = [empty]
    paths.insert(len(paths) - 2, truncated)
    refs = [ImageRef(p) for p in paths]
    rows = predict_refs(_brightness_classifier(), refs, batch_size=4, progress=False)
    assert [r.path for r in rows] == [str(p) for p in paths]
    for row, path in zip(rows, paths, strict=True):
        if path in (empty, truncated):
            assert row.label is None and row.error
        else:
            index = int(path.stem)
            assert row.error is None
            assert row.label == ("dark", "light")[(index * 7 // 3) % 2]


@pytest.mark.parametrize("kind", ["threads", "process"])
def test_batches_hold_each_decoded_image_in_input_order(tmp_path: Path, kind: str) -> None:
    paths = [
        write_image(tmp_path / f"{i}.jpg", (40 * i, 90, 200 - 30 * i), seed=i) for i in range(5)
    ]
    (tmp_path / "bad").mkdir()
    empty, _ = write_corrupt(tmp_path / "bad")
    paths.insert(2, empty)
    pre = Preprocessing(24, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3), resize_size=28)
    items = [(p, 0) for p in paths]
    with ProcessPoolExecutor(1) if kind == "process" else ThreadPoolExecutor(2) as pool:
        batches = list(image_batches(items, pre, batch_size=4, pool=pool))
    assert [b.indices for b in batches] == [[0, 1, 3], [4, 5]]
    assert [b.failures for b in batches] == [[(2, "empty file (0 bytes)")], []]
    for batch in batches:
        want = [to_array(load_image(paths[i], draft_size=28), pre) for i in batch.indices]
        assert batch.images.dtype == np.float32
        np.testing.assert_array_equal(batch.images, np.stack(want))


TORCH_FREE = """
import json, sys
from landrec.data.sniff import detect_all
from landrec.engine.inference.classifier import load_classifier
from landrec.engine.inference.predict import predict_inputs
classifier = load_classifier(sys.argv[1])
rows = predict_inputs(classifier, detect_all(sys.argv[2:]), progress=False)
print(json.dumps({"torch": "torch" in sys.modules, "labels": [r.best_guess for r in rows],
                  "errors": [r.error for r in rows]}))
"""


def test_onnx_prediction_does_not_import_torch(run: Path, tmp_path: Path) -> None:
    load_classifier(run, Backend.ONNX).logits(_batch(1))  # builds the cached export (torch)
    images = _images(tmp_path / "images", 3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", TORCH_FREE, str(run), *map(str, images)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["errors"] == [None, None, None]
    assert out["labels"] == [p.best_guess for p in api.predict(run, images, backend="torch")]
    assert out["torch"] is False


def test_an_unknown_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a loadable ONNX model"):
        load_classifier(path, Backend.ONNX)
    with pytest.raises(FileNotFoundError):
        load_classifier(tmp_path / "missing.onnx", Backend.ONNX)


def test_meta_survives_the_cache(run: Path) -> None:
    meta: CheckpointMeta = read_meta(run)
    classifier = load_classifier(run, Backend.ONNX)
    assert classifier.classes == meta.classes
    assert classifier.preprocessing == meta.preprocessing
