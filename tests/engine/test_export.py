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

from conftest import COLOURS, write_image
from landrec.data.decode import load_image
from landrec.data.transforms import Preprocessing, eval_transform
from landrec.engine.checkpoint import CheckpointMeta, save_checkpoint
from landrec.engine.config import Backend
from landrec.engine.inference.classifier import Classifier, load_classifier
from landrec.engine.inference.export import (
    ExportResult,
    calibration_sample,
    cpu_has_vnni,
    default_recipe,
    export_onnx,
)
from landrec.engine.inference.predict import predict_files
from landrec.engine.onnx import read_onnx_meta
from landrec.models.choices import HeadKind
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


def _separable(root: Path) -> tuple[list[Path], Path]:
    """Colour classes (sorted folders, 4 photos each) and MobileNetV2 with its real ImageNet
    backbone and a linear head that is the nearest class centroid of its features (random-init
    features are too weak for int8 to keep any ranking)."""
    from landrec.models.registry import get_spec
    from landrec.models.weights import offline_file

    if offline_file(get_spec("mobilenet_v2")) is None:
        pytest.skip("the offline MobileNetV2 weights are not installed")
    paths = [
        write_image(root / name / f"{i}.jpg", SEP_COLOURS[name], 100 * c + i, size=80)
        for c, name in enumerate(CLASSES_SEP)
        for i in range(4)
    ]
    config = ModelConfig("mobilenet_v2", len(CLASSES_SEP), head=HeadKind.LINEAR, dropout=0.0)
    model, weights = create_model(config)
    with torch.no_grad():
        feats = model.eval().features(_batch(paths)).flatten(1)
        mean = feats.mean(0)
        centroids = (feats - mean).reshape(len(CLASSES_SEP), 4, -1).mean(1)
        # logits: centred features . class centroid, folded into the linear head
        model.head[1].weight.copy_(centroids)
        model.head[1].bias.copy_(-(centroids * mean).sum(1))
    meta = CheckpointMeta(CLASSES_SEP, config, PRE, weights.source, not weights.pretrained)
    ckpt = root / "sep.safetensors"
    save_checkpoint(ckpt, model, meta)
    return paths, ckpt


# Sorted as folders are; the first, green, spans a narrower input range than the three.
SEP_COLOURS = {"green": COLOURS["forest"], "sand": COLOURS["desert"], "sea": COLOURS["coast"]}
CLASSES_SEP = list(SEP_COLOURS)


def _weights(path: Path) -> list[np.ndarray]:
    """The int8 weights of a QDQ model's Convs and Gemms."""
    model = onnx.load(str(path))
    dq = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    used = [dq[n.input[1]] for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    return [inits[w] for w in used]


def _input_scale(path: Path) -> float:
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and "input" in n.input)
    init = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    return float(init[node.input[1]])


def test_calibration_sample_spreads_over_folders():
    paths = [Path(f"{c}/{i}.jpg") for c in "abc" for i in range(10)]
    assert {p.parent.name for p in calibration_sample(paths, 3) or []} == {"a", "b", "c"}
    assert calibration_sample(paths, 30) == paths and calibration_sample(paths, None) == paths
    assert calibration_sample(None, 5) is None


def test_default_recipe_follows_vnni(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\n")
    assert not cpu_has_vnni(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_has_vnni(cpuinfo)
    assert not cpu_has_vnni(tmp_path / "missing")
    assert default_recipe(vnni=False).reduce_range and not default_recipe(vnni=True).reduce_range


def test_int8_recipe_is_applied_and_agrees_with_fp32(tmp_path: Path):
    """Calibration on every class folder (not the first N files: one class), 7-bit weights
    without VNNI, 8-bit with; top-1 equal to fp32 on clearly separable images."""
    paths, ckpt = _separable(tmp_path / "photos")
    x = _batch(paths).numpy()
    fp32 = load_classifier(export_onnx(ckpt, tmp_path / "fp32.onnx").path, Backend.ONNX)
    ref = fp32.logits(x)
    assert (ref.argmax(1) == np.repeat(range(len(CLASSES_SEP)), 4)).all(), "fp32 must be right"
    widest = {}
    for vnni in (False, True):
        out = export_onnx(ckpt, tmp_path / f"{vnni}.onnx", True, paths, recipe=default_recipe(vnni))
        assert out.calibration_images == len(paths)
        got = load_classifier(out.path, Backend.ONNX).logits(x)
        assert (got.argmax(1) == ref.argmax(1)).all()
        widest[vnni] = max(int(np.abs(w.astype(int)).max()) for w in _weights(out.path))
    assert widest == {False: 64, True: 127}  # 7-bit weights where int16 sums would saturate
    # Three of the sorted files: one per class, not the first three (one colour)
    out = export_onnx(ckpt, tmp_path / "three.onnx", True, paths, calibration_images=3)
    assert out.calibration_images == 3
    sample = _batch(paths[::4]).numpy()  # one image per class folder
    expected = (max(sample.max(), 0) - min(sample.min(), 0)) / 255  # MinMax, 0 included
    assert _input_scale(out.path) == pytest.approx(expected, rel=1e-3)
    assert _batch(paths[:3]).numpy().max() < sample.max() - 0.1, "first 3 files: one colour"


def test_export_uses_this_cpus_recipe(tmp_path: Path):
    paths, ckpt = _separable(tmp_path / "photos")
    out = export_onnx(ckpt, tmp_path / "int8.onnx", True, paths, calibration_images=3).path
    widest = max(int(np.abs(w.astype(int)).max()) for w in _weights(out))
    assert widest == (127 if cpu_has_vnni() else 64)


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
