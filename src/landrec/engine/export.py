"""landrec export: a checkpoint as an ONNX model (fp32 or int8) that carries its own metadata."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from landrec.data.dataset import ImageDataset, make_loader
from landrec.data.transforms import Preprocessing, eval_transform
from landrec.engine.checkpoint import CheckpointMeta, load_checkpoint
from landrec.engine.predict import Classifier, expand_paths

log = logging.getLogger(__name__)

META_KEY = "landrec"  # metadata_props key holding CheckpointMeta.to_json()
INPUT = "input"  # (B, 3, H, W) float32, preprocessed by eval_transform
OUTPUT = "logits"  # (B, C)
CALIBRATION_BATCH = 8


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
) -> ExportResult:
    """Write the checkpoint as ONNX; int8: static with `calibration` images, else dynamic."""
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
            used = _quantize(fp32, result, meta.preprocessing, calibration)
            _set_meta(result, meta)  # the quantizer keeps metadata today; do not depend on it
        result.replace(out)
    return ExportResult(out, int8, out.stat().st_size, opset, used)


def _check_output(out: Path) -> Path:
    if out.is_dir():
        raise ValueError(f"{out}: is a directory; give a file path such as {out / 'model.onnx'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _export_fp32(model: torch.nn.Module, meta: CheckpointMeta, path: Path, opset: int) -> None:
    size = meta.preprocessing.input_size
    example = torch.randn(2, 3, size, size)  # batch 2, so nothing specialises to batch 1
    export_module(model, example, path, OUTPUT, opset)
    _set_meta(path, meta)


def export_module(
    module: torch.nn.Module,
    example: torch.Tensor,
    target: str | Path | io.BytesIO,
    output: str = OUTPUT,
    opset: int = 17,
) -> None:
    """TorchScript exporter: exact opset, dynamic batch; torch 2.14's dynamo exporter cannot
    down-convert its opset-18 graph to 17 and takes ~5x longer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based export"
        torch.onnx.export(
            module.eval(),
            (example,),
            # the TorchScript exporter writes to a file-like object too; the hint says only paths
            target if isinstance(target, io.BytesIO) else str(target),  # type: ignore[arg-type]
            input_names=[INPUT],
            output_names=[output],
            dynamic_axes={INPUT: {0: "batch"}, output: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def session_options(threads: int | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    return options


def module_runner(
    module: torch.nn.Module, example: torch.Tensor, threads: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """`module` exported in memory and run by ONNX Runtime: numpy in, numpy out."""
    buffer = io.BytesIO()
    export_module(module, example, buffer, "output")
    session = ort.InferenceSession(
        buffer.getvalue(), session_options(threads), providers=["CPUExecutionProvider"]
    )
    return lambda x: session.run(None, {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]


def _set_meta(path: Path, meta: CheckpointMeta) -> None:
    model = onnx.load(str(path))
    props = [p for p in model.metadata_props if p.key != META_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    model.metadata_props.add(key=META_KEY, value=meta.to_json())
    model.producer_name = "landrec"
    onnx.save(model, str(path))


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


def _quantize(fp32: Path, out: Path, pre: Preprocessing, calibration: list[Path] | None) -> int:
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
    quantize_static(
        str(source),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    if reader.used == 0:
        raise ValueError(f"no readable calibration image among {len(paths)} file(s)")
    return reader.used


def read_onnx_meta(path: str | Path) -> CheckpointMeta:
    """The CheckpointMeta stored in an exported ONNX file."""
    model = onnx.load(str(path), load_external_data=False)
    return _parse_meta({p.key: p.value for p in model.metadata_props}, Path(path))


def _parse_meta(props: dict[str, str], path: Path) -> CheckpointMeta:
    if META_KEY not in props:
        raise ValueError(f"{path}: no landrec metadata (not exported by `landrec export`)")
    return CheckpointMeta.from_json(props[META_KEY])


def onnx_classifier(path: str | Path, threads: int | None = None) -> Classifier:
    """A Classifier running an exported ONNX file on ONNX Runtime's CPU provider."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX model")
    options = session_options(threads)
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own types for protobuf and graph errors
        raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from exc
    meta = _parse_meta(session.get_modelmeta().custom_metadata_map, path)
    input_name = session.get_inputs()[0].name

    def logits(x: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]

    init = " (random init)" if meta.random_init else ""
    source = f"{path} [onnx]{init}"
    return Classifier(
        meta.classes, meta.preprocessing, logits, source, meta.temperature, meta.threshold
    )
