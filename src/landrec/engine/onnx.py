"""ONNX plumbing shared by training (the feature cache) and inference: export a module,
run it on ONNX Runtime, read and write the checkpoint metadata an exported file carries."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landrec.engine.checkpoint import CheckpointError, CheckpointMeta

if TYPE_CHECKING:  # imported where used: ONNX prediction runs without torch (and onnx)
    import onnxruntime as ort
    import torch

META_KEY = "landrec"  # metadata_props key holding CheckpointMeta.to_json()
INPUT = "input"  # (B, 3, H, W) float32, preprocessed by eval_transform
OUTPUT = "logits"  # (B, C)


def export_module(
    module: torch.nn.Module,
    example: torch.Tensor,
    target: str | Path | io.BytesIO,
    output: str = OUTPUT,
    opset: int = 17,
) -> None:
    """TorchScript exporter: exact opset, dynamic batch; torch 2.14's dynamo exporter cannot
    down-convert its opset-18 graph to 17 and takes ~5x longer."""
    import torch

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
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    return options


def module_runner(
    module: torch.nn.Module, example: torch.Tensor, threads: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """`module` exported in memory and run by ONNX Runtime: numpy in, numpy out."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    export_module(module, example, buffer, "output")
    session = ort.InferenceSession(
        buffer.getvalue(), session_options(threads), providers=["CPUExecutionProvider"]
    )
    return lambda x: session.run(None, {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]


def set_meta(path: Path, meta: CheckpointMeta) -> None:
    """Store `meta` in the ONNX file's metadata_props (replacing an older copy)."""
    set_props(path, {META_KEY: meta.to_json()})


def set_props(path: Path, values: dict[str, str]) -> None:
    """Store `values` in the ONNX file's metadata_props, replacing the same keys."""
    import onnx

    model = onnx.load(str(path))
    props = [p for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    for key, value in values.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "landrec"
    onnx.save(model, str(path))


def read_onnx_meta(path: str | Path) -> CheckpointMeta:
    """The CheckpointMeta stored in an exported ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return parse_meta({p.key: p.value for p in model.metadata_props}, Path(path))


def parse_meta(props: dict[str, str], path: Path) -> CheckpointMeta:
    """The CheckpointMeta in an ONNX file's metadata map (as ONNX Runtime also returns it)."""
    if META_KEY not in props:
        raise CheckpointError(f"{path}: no landrec metadata (not exported by `landrec export`)")
    return CheckpointMeta.from_json(props[META_KEY])
