"""landrec export: a checkpoint as an ONNX model (fp32 or int8) that carries its own metadata."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from landrec.data.dataset import ImageDataset, make_loader
from landrec.data.layout import expand_paths
from landrec.data.transforms import Preprocessing, eval_transform
from landrec.engine.checkpoint import CheckpointMeta, load_checkpoint
from landrec.engine.onnx import INPUT, OUTPUT, export_module, set_meta
from landrec.models.net import BlockClassifier, Outputs

log = logging.getLogger(__name__)

CALIBRATION_BATCH = 8


@dataclass(frozen=True)
class Int8Recipe:
    """Static int8 options (benchmarks/bench_int8.py measures each against fp32)."""

    method: CalibrationMethod = CalibrationMethod.MinMax
    weight_type: QuantType = QuantType.QInt8  # QUInt8: U8U8 kernels
    reduce_range: bool = False  # 7-bit weights: no int16 saturation in non-VNNI U8S8 kernels
    keep_fp32: tuple[str, ...] = ()  # node kinds left in float: "head", "stem", "depthwise"
    options: dict[str, object] = field(default_factory=dict)  # quantize_static extra_options


VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # int8 dot products summed in int32


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this x86 CPU sums int8 products in int32 (False where the flags are unknown)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = next(
        (ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []
    )
    return any(f in flags for f in VNNI_FLAGS)


def default_recipe(vnni: bool | None = None) -> Int8Recipe:
    """The measured recipe for this CPU (or `vnni`): 8-bit weights where VNNI sums in int32;
    7-bit weights elsewhere, whose pair sums fit in int16 (docs/benchmarks.md)."""
    return Int8Recipe(reduce_range=not (cpu_has_vnni() if vnni is None else vnni))


@dataclass
class ExportResult:
    path: Path
    int8: bool
    bytes: int
    opset: int
    calibration_images: int = 0  # images the static int8 calibration actually used


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    int8: bool = False,
    calibration: list[Path] | None = None,
    opset: int = 17,
    calibration_images: int | None = None,
    recipe: Int8Recipe | None = None,
) -> ExportResult:
    """Write the checkpoint as ONNX; int8: static with `calibration` images (at most
    `calibration_images`, spread over the sorted list, so every class folder), else dynamic."""
    out = _check_output(Path(out))
    model, meta = load_checkpoint(checkpoint)
    used = 0
    # Build everything in a temporary folder beside `out`, then rename: never half a file.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export_fp32(model, meta, fp32, opset)
        result = fp32
        if int8:
            result = Path(tmp) / "int8.onnx"
            images = calibration_sample(calibration, calibration_images)
            used = _quantize(fp32, result, meta.preprocessing, images, recipe or default_recipe())
            set_meta(result, meta)  # the quantizer keeps metadata today; do not depend on it
        result.replace(out)
    return ExportResult(out, int8, out.stat().st_size, opset, used)


def calibration_sample(paths: list[Path] | None, n: int | None) -> list[Path] | None:
    """`n` of `paths` evenly spaced: a folder's first `n` sorted files are often one class."""
    if not paths or n is None or n >= len(paths):
        return paths
    return [paths[i * len(paths) // n] for i in range(n)]


def _check_output(out: Path) -> Path:
    if out.is_dir():
        raise IsADirectoryError(
            f"{out}: is a directory; give a file path such as {out / 'model.onnx'}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _export_fp32(model: BlockClassifier, meta: CheckpointMeta, path: Path, opset: int) -> None:
    size = meta.preprocessing.input_size
    example = torch.randn(2, 3, size, size)  # batch 2, so nothing specialises to batch 1
    export_module(Outputs(model), example, path, OUTPUT, opset)
    set_meta(path, meta)


class _ImageReader(CalibrationDataReader):
    """Calibration batches decoded and preprocessed exactly as `predict` does."""

    def __init__(self, paths: list[Path], pre: Preprocessing) -> None:
        dataset = ImageDataset(paths, eval_transform(pre), draft_size=pre.short_side)
        self.batches = iter(make_loader(dataset, CALIBRATION_BATCH))
        self.used = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        for batch in self.batches:
            for i, reason in batch.failures:
                log.warning("calibration image %d skipped: %s", i, reason)
            if len(batch.indices):
                self.used += len(batch.indices)
                return {INPUT: batch.images.numpy()}
        return None


def _quantize(
    fp32: Path, out: Path, pre: Preprocessing, calibration: list[Path] | None, recipe: Int8Recipe
) -> int:
    """Quantize `fp32` into `out`; returns the number of calibration images used (0: dynamic)."""
    source = fp32.with_name("prepared.onnx")
    try:
        quant_pre_process(str(fp32), str(source))  # shape inference + fusions: better QDQ placement
    except Exception as exc:  # an optimisation only; the plain graph still quantizes
        log.warning("quantization pre-processing failed, quantizing the plain graph: %s", exc)
        source = fp32
    if not calibration:
        quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8)
        return 0
    paths = expand_paths(calibration)
    reader = _ImageReader(paths, pre)
    graph = onnx.load(str(source))
    quantize_static(
        str(source),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=recipe.reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=recipe.weight_type,
        nodes_to_exclude=kept_fp32(graph, recipe.keep_fp32),
        calibrate_method=recipe.method,
        extra_options=dict(recipe.options),
    )
    if reader.used == 0:
        raise ValueError(f"no readable calibration image among {len(paths)} file(s)")
    return reader.used


def kept_fp32(model: onnx.ModelProto, kinds: tuple[str, ...]) -> list[str]:
    """Names of the nodes of `kinds` ("head": Gemm/MatMul, "stem": the first Conv,
    "depthwise": grouped Convs) that quantization leaves in float."""
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    chosen = {
        "head": [n for n in model.graph.node if n.op_type in ("Gemm", "MatMul")],
        "stem": convs[:1],
        "depthwise": [n for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute)],
    }
    return [n.name for kind in kinds for n in chosen[kind]]
