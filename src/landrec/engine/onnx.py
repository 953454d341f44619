"""ONNX plumbing shared by training (the feature cache) and inference: export a module,
run it on ONNX Runtime, read and write the checkpoint metadata an exported file carries."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landrec.engine.checkpoint import CheckpointError, CheckpointMeta

if TYPE_CHECKING:  # imported where used: ONNX prediction runs without torch (and onnx)
    import onnxruntime as ort
    import torch

META_KEY = "landrec"  # metadata_props key holding CheckpointMeta.to_json()
INPUT = "input"  # (B, 3, H, W) float32, preprocessed by eval_transform
PIXELS = "pixels"  # (B, H, W, 3) uint8: `with_pixel_input`'s graph normalises them itself
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


def with_pixel_input(model: Path | bytes, mean: Sequence[float], std: Sequence[float]) -> bytes:
    """The exported model (a file or its bytes) reading the crops' uint8 pixels (B, H, W, 3) as
    `PIXELS`: its graph first normalises them as `preprocess.normalise` does, step by step in
    float32 (transpose, cast, x 1/255, minus mean, over std), so the logits are the same
    bits. ONNX Runtime runs those steps in its own threads, and the model in the same
    session ran 3-6% faster than on NumPy's floats (benchmarks/bench_predict.py)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    graph = proto.graph
    floats = next((i for i in graph.input if i.name == INPUT), None)
    dims = [] if floats is None else list(floats.type.tensor_type.shape.dim)
    if floats is None or len(dims) != 4 or dims[1].dim_value != 3:
        raise CheckpointError(f"the exported model reads no (B, 3, H, W) {INPUT!r}")
    batch, height, width = (d.dim_value or d.dim_param or None for d in (dims[0], *dims[2:]))
    pixels = helper.make_tensor_value_info(PIXELS, TensorProto.UINT8, [batch, height, width, 3])
    constants = {
        "pixels_scale": np.asarray(1 / 255, dtype=np.float32),
        "pixels_mean": np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1),
        "pixels_std": np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1),
    }
    steps = [
        helper.make_node("Transpose", [PIXELS], ["pixels_chw"], perm=[0, 3, 1, 2]),
        helper.make_node("Cast", ["pixels_chw"], ["pixels_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pixels_float", "pixels_scale"], ["pixels_unit"]),
        helper.make_node("Sub", ["pixels_unit", "pixels_mean"], ["pixels_centred"]),
        helper.make_node("Div", ["pixels_centred", "pixels_std"], [INPUT]),
    ]
    graph.input.remove(floats)
    graph.input.insert(0, pixels)
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    nodes = steps + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return proto.SerializeToString()


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
