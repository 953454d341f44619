"""export: ONNX matches PyTorch through the predict path, carries its metadata, quantizes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image

from landrec.data.decode import load_image
from landrec.data.transforms import Preprocessing, eval_transform
from landrec.engine.checkpoint import CheckpointMeta, save_checkpoint
from landrec.engine.config import Backend
from landrec.engine.inference.classifier import Classifier, load_classifier
from landrec.engine.inference.export import ExportResult, export_onnx
from landrec.engine.inference.predict import predict_files
from landrec.engine.onnx import read_onnx_meta
from landrec.models.factory import ModelConfig, create_model

CLASSES = ["coast", "forest", "mountain"]
PRE = Preprocessing(64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), resize_size=72)


def _images(folder: Path, n: int = 8) -> list[Path]:
    """Smooth random colour fields of varied sizes, half PNG and half JPEG."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    for i in range(n):
        coarse = rng.integers(0, 256, (4 + i % 3, 5, 3), dtype=np.uint8)
        size = (80 + 10 * i, 96 - 4 * i)
        img = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
        path = folder / f"img{i}.{'png' if i % 2 else 'jpg'}"
        img.save(path)
        paths.append(path)
    return paths


def _checkpoint(path: Path, images: list[Path]) -> Path:
    """A tiny random-init MobileNetV2 whose BatchNorm statistics come from real batches."""
    torch.manual_seed(0)
    config = ModelConfig("mobilenet_v2", len(CLASSES))
    model, _ = create_model(config, weights="none")
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.momentum = None  # cumulative average: running stats equal the batches' stats
    model.train()
    with torch.no_grad():
        model(_batch(images))
        model(torch.randn(4, 3, PRE.input_size, PRE.input_size))
    for bn in bns:
        bn.momentum = 0.1
    meta = CheckpointMeta(CLASSES, config, PRE, "random init", random_init=True)
    save_checkpoint(path, model.eval(), meta)
    return path


def _batch(paths: list[Path]) -> torch.Tensor:
    transform = eval_transform(PRE)
    return torch.stack([transform(load_image(p, draft_size=PRE.short_side)) for p in paths])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("export")
    images = _images(root / "images")
    ckpt = _checkpoint(root / "best.safetensors", images)
    fp32 = export_onnx(ckpt, root / "out" / "model.onnx")
    return {"root": root, "images": images, "ckpt": ckpt, "fp32": fp32}


@pytest.fixture(scope="module")
def classifiers(setup: dict) -> tuple[Classifier, Classifier]:
    torch_clf = load_classifier(setup["ckpt"], Backend.TORCH)
    return torch_clf, load_classifier(setup["fp32"].path, Backend.ONNX)


def test_fp32_export_matches_pytorch(setup: dict, classifiers: tuple[Classifier, Classifier]):
    result: ExportResult = setup["fp32"]
    assert not result.int8 and result.opset == 17 and result.bytes == result.path.stat().st_size
    torch_clf, onnx_clf = classifiers
    x = _batch(setup["images"]).numpy()
    ref, got = torch_clf.logits(x), onnx_clf.logits(x)
    assert got.shape == (8, len(CLASSES))
    assert np.ptp(ref, axis=0).max() > 1e-3, "logits should differ between images"
    assert np.abs(got - ref).max() < 1e-4
    assert (got.argmax(1) == ref.argmax(1)).all()
    assert onnx_clf.source.endswith("[onnx] (random init)")


def test_predict_files_agree(setup: dict, classifiers: tuple[Classifier, Classifier]):
    a, b = (predict_files(c, setup["images"], workers=0, progress=False) for c in classifiers)
    assert [p.label for p in a] == [p.label for p in b]
    assert all(p.error is None for p in b)
    np.testing.assert_allclose([p.confidence for p in a], [p.confidence for p in b], atol=1e-5)


def test_dynamic_batch(setup: dict, classifiers: tuple[Classifier, Classifier]):
    _, onnx_clf = classifiers
    x = _batch(setup["images"]).numpy()
    full = onnx_clf.logits(x)
    for n in (1, 5):
        np.testing.assert_allclose(onnx_clf.logits(x[:n]), full[:n], atol=1e-5)


def test_metadata_round_trips(setup: dict):
    meta = read_onnx_meta(setup["fp32"].path)
    assert meta.classes == CLASSES
    assert meta.preprocessing == PRE
    assert meta.model == ModelConfig("mobilenet_v2", len(CLASSES))
    assert meta.random_init


@pytest.mark.parametrize("calibrated", [True, False], ids=["static", "dynamic"])
def test_int8_export(
    setup: dict,
    classifiers: tuple[Classifier, Classifier],
    calibrated: bool,
    record_property: pytest.RecordProperty,
):
    calibration = setup["images"] if calibrated else None
    out = setup["root"] / f"int8_{calibrated}.onnx"
    result = export_onnx(setup["ckpt"], out, int8=True, calibration=calibration)
    assert result.int8 and result.path == out
    assert result.calibration_images == (8 if calibrated else 0)
    assert result.bytes < setup["fp32"].bytes / 2
    assert read_onnx_meta(out).classes == CLASSES
    quantized = load_classifier(out, Backend.ONNX)
    x = _batch(setup["images"]).numpy()
    got, ref = quantized.logits(x), classifiers[1].logits(x)
    assert got.shape == ref.shape and np.isfinite(got).all()
    agreement = float((got.argmax(1) == ref.argmax(1)).mean())
    record_property("top1_agreement_with_fp32", agreement)  # random init: not asserted
    print(
        f"int8 ({'static' if calibrated else 'dynamic'}) top-1 agreement with fp32: {agreement:.2f}"
    )


def test_missing_metadata_is_a_clear_error(tmp_path: Path):
    x, y = (
        helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3]) for n in ("input", "logits")
    )
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["logits"])], "g", [x], [y])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    message = re.escape(f"{path}: no landrec metadata")
    with pytest.raises(ValueError, match=message):
        read_onnx_meta(path)
    with pytest.raises(ValueError, match=message):
        load_classifier(path, Backend.ONNX)


def test_refuses_to_overwrite_a_directory(tmp_path: Path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        export_onnx(tmp_path / "missing.safetensors", tmp_path)


@pytest.mark.real_data
def test_onnx_matches_pytorch_on_real_validation_photos(real_data: Path, tmp_path: Path) -> None:
    """Real ImageNet weights on real photos: ONNX and PyTorch agree in top-1 and to 1e-4."""
    from landrec.models.registry import get_spec
    from landrec.models.weights import offline_file

    if offline_file(get_spec("mobilenet_v2")) is None:
        pytest.skip("the offline MobileNetV2 weights are not installed")
    photos = [p for c in sorted((real_data / "val").iterdir()) for p in sorted(c.glob("*.jpg"))[:8]]
    classes = sorted(c.name for c in (real_data / "val").iterdir())
    torch.manual_seed(0)
    config = ModelConfig("mobilenet_v2", len(classes))
    model, weights = create_model(config)  # real backbone; the fresh head is random
    pre = Preprocessing(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    ckpt = tmp_path / "real.safetensors"
    meta = CheckpointMeta(classes, config, pre, weights.source, not weights.pretrained)
    save_checkpoint(ckpt, model.eval(), meta)
    export_onnx(ckpt, tmp_path / "real.onnx")
    transform = eval_transform(pre)
    batch = torch.stack([transform(load_image(p, draft_size=224)) for p in photos]).numpy()
    a = load_classifier(ckpt, Backend.TORCH).logits(batch)
    b = load_classifier(tmp_path / "real.onnx", Backend.ONNX).logits(batch)
    assert len(photos) == 8 * len(classes)
    assert np.abs(a - b).max() < 1e-4
    assert (a.argmax(1) == b.argmax(1)).all()
