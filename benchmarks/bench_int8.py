"""Static int8 recipes against fp32: test accuracy, top-1 agreement, model-only images/s.

Exports a run's checkpoint as fp32 ONNX and as int8 under each recipe (landrec's own
`export_onnx`), then scores every model on the whole test split (decoded and preprocessed
once, as `predict` does), replays its dense layers in integers to count the int16 overflows a
CPU without VNNI would suffer (`saturation`), and times every model on ONNX Runtime (landrec's
session settings), batch 1 and 32, in turns within this one process, so ratios compare like
with like.

    python benchmarks/bench_int8.py /tmp/verify/new-run
    python benchmarks/bench_int8.py RUN --variants old default --quick   # seconds, 64 test images
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
from onnxruntime.quantization import CalibrationMethod, QuantType

import common
from landrec.data.dataset import ImageDataset, make_loader
from landrec.data.layout import expand_paths
from landrec.data.transforms import eval_transform
from landrec.engine.checkpoint import load_checkpoint
from landrec.engine.inference.export import (
    Int8Recipe,
    calibration_sample,
    default_recipe,
    export_onnx,
)
from landrec.engine.onnx import INPUT, session_options
from landrec.engine.runs import RunFolder

BENCHMARK = "bench_int8"


@dataclass(frozen=True)
class Variant:
    recipe: Int8Recipe
    spread: bool = True  # calibration images spread over the folder; False: its first N (old)
    images: int | None = None  # None: --calibration-images


MINMAX = Int8Recipe()
VARIANTS: dict[str, Variant] = {
    "old": Variant(MINMAX, spread=False),  # the recipe before issue 17: first 200 = one class
    "old_reduce_range": Variant(Int8Recipe(reduce_range=True), spread=False),
    "old_u8u8": Variant(Int8Recipe(weight_type=QuantType.QUInt8), spread=False),
    "old_keep_head": Variant(Int8Recipe(keep_fp32=("head",)), spread=False),
    "spread": Variant(MINMAX),
    "spread_50": Variant(MINMAX, images=50),
    "spread_reduce_range": Variant(Int8Recipe(reduce_range=True)),
    "spread_u8u8": Variant(Int8Recipe(weight_type=QuantType.QUInt8)),
    "spread_entropy": Variant(Int8Recipe(method=CalibrationMethod.Entropy)),
    "spread_percentile": Variant(Int8Recipe(method=CalibrationMethod.Percentile)),
    "spread_keep_head": Variant(Int8Recipe(keep_fp32=("head",))),
    "spread_keep_stem_head": Variant(Int8Recipe(keep_fp32=("stem", "head"))),
    "spread_keep_depthwise": Variant(Int8Recipe(keep_fp32=("depthwise",))),
    "spread_act_symmetric": Variant(Int8Recipe(options={"ActivationSymmetric": True})),
    "default": Variant(default_recipe()),  # what `landrec export --int8` uses on this CPU
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("run", type=Path, help="run folder (its best.safetensors) or checkpoint")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=tuple(VARIANTS))
    p.add_argument("--calibration-images", type=int, default=200)
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per round")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="ORT threads [all cores]")
    p.add_argument("--quick", action="store_true", help="64 test images, short timings")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def test_set(data: Path, checkpoint: Path, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The test split preprocessed as `predict` does, and its labels as class indices."""
    _, meta = load_checkpoint(checkpoint)
    paths = expand_paths([data / "test"])
    if limit:
        paths = paths[:: max(1, len(paths) // limit)][:limit]
    pre = meta.preprocessing
    loader = make_loader(ImageDataset(paths, eval_transform(pre), draft_size=pre.short_side), 32)
    images, labels = [], []
    for batch in loader:
        images.append(batch.images.numpy())
        labels += [meta.classes.index(paths[i].parent.name) for i in batch.indices]
    return np.concatenate(images), np.array(labels)


def score(path: Path, x: np.ndarray, threads: int | None) -> tuple[np.ndarray, Any]:
    session = ort.InferenceSession(
        str(path), session_options(threads), providers=["CPUExecutionProvider"]
    )
    logits = [session.run(None, {INPUT: x[i : i + 32]})[0] for i in range(0, len(x), 32)]
    return np.concatenate(logits).argmax(1), session


def speeds(sessions: dict[str, Any], x: np.ndarray, args: argparse.Namespace) -> dict[str, dict]:
    """Images/s of every model, batch 1 and 32, timed in turns (one round of each model, then
    the next round), so a neighbour's load falls on all models alike; the median round counts."""
    rounds: dict[str, dict[str, list[float]]] = {
        n: {"batch_1": [], "batch_32": []} for n in sessions
    }
    for _ in range(args.repeats):
        for name, session in sessions.items():
            for batch in (1, 32):
                feed = {INPUT: x[:batch]}
                rate = common.measure(
                    lambda s=session, f=feed: s.run(None, f), batch, args.seconds, 1, 0.3
                )["images_per_s"]
                rounds[name][f"batch_{batch}"].append(rate)
    return {n: {b: statistics.median(r) for b, r in by.items()} for n, by in rounds.items()}


def saturation(path: Path, x: np.ndarray) -> dict[str, Any]:
    """What a non-VNNI x86 CPU would lose: MLAS's AVX2 U8S8 kernel adds each pair of adjacent
    u8 x s8 products (vpmaddubsw) in int16, which saturates beyond +-32767; VNNI adds in int32.
    Returns the fraction of such pair sums, over the dense Convs and Gemms on `x`, that overflow.
    """
    model = onnx.load(str(path))
    producer = {o: n for n in model.graph.node for o in n.output}
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.op_type not in ("Conv", "Gemm") or group > 1:
            continue  # depthwise: MLAS accumulates those in int32
        dq_x, dq_w = (producer.get(i) for i in node.input[:2])
        if not (dq_x and dq_w):
            continue  # left in float
        if dq_x.op_type != "DequantizeLinear" or dq_w.input[0] not in weights:
            continue
        zero = int(weights[dq_x.input[2]])  # padding's raw value: the zero point
        if weights[dq_w.input[0]].dtype != np.int8:
            return {}  # U8U8: MLAS widens to int16 before multiplying, nothing saturates
        layers.append((node, dq_x.input[0], weights[dq_w.input[0]].astype(np.int32), zero))
    names = list(dict.fromkeys(layer[1] for layer in layers))
    model.graph.output.extend(onnx.ValueInfoProto(name=q) for q in names)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])
    acts = dict(zip(names, session.run(names, {INPUT: x}), strict=True))
    over = total = 0
    worst: dict[str, float] = {}
    for node, q, w, zero in layers:
        a = _patches(acts[q].astype(np.int32), node, w, zero)  # (rows, K), K ordered (kh, kw, c)
        w2 = w.transpose(0, 2, 3, 1).reshape(len(w), -1) if node.op_type == "Conv" else w
        k = a.shape[1] // 2 * 2
        pairs = a[:, :k].reshape(len(a), -1, 2)  # (rows, K/2, 2)
        layer_over = 0
        for m in range(w2.shape[0]):
            layer_over += int((np.abs((pairs * w2[m, :k].reshape(-1, 2)).sum(-1)) > 32767).sum())
        over, total = over + layer_over, total + len(a) * w2.shape[0] * (k // 2)
        if layer_over:
            worst[node.name] = layer_over / (len(a) * w2.shape[0] * (k // 2))
    top = sorted(worst.items(), key=lambda kv: -kv[1])[:3]
    return {
        "int16_overflow_fraction": over / max(total, 1),
        "layers_overflowing": f"{len(worst)} of {len(layers)}",
        "worst_layers": {name: round(f, 5) for name, f in top},
    }


def _patches(a: np.ndarray, node: Any, w: np.ndarray, zero: int) -> np.ndarray:
    """im2col rows of a Conv's input (NCHW) in (kh, kw, c) order, or a Gemm's input as is."""
    if node.op_type == "Gemm":
        return a.reshape(len(a), -1)
    kh, kw = w.shape[2:]
    if (kh, kw) == (1, 1):
        return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])
    attrs = {t.name: list(t.ints) for t in node.attribute}
    stride, pad = attrs.get("strides", [1, 1])[0], attrs.get("pads", [0] * 4)[0]
    padded = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=zero)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, OH, OW, kh, kw)
    return windows.transpose(0, 2, 3, 4, 5, 1).reshape(-1, kh * kw * a.shape[1])


def export_variant(
    checkpoint: Path, out: Path, variant: Variant, train: list[Path], n: int
) -> dict[str, Any]:
    n = variant.images or n
    images = train if variant.spread else train[:n]
    result = export_onnx(
        checkpoint, out, int8=True, calibration=images, calibration_images=n, recipe=variant.recipe
    )
    used = calibration_sample(images, n) or []
    return {
        "calibration_images": result.calibration_images,
        "calibration_classes": len({p.parent.name for p in used}),
        "recipe": repr(variant.recipe),
        "megabytes": result.bytes / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 0.5, 1
    checkpoint = RunFolder(args.run).best if args.run.is_dir() else args.run
    x, y = test_set(args.data, checkpoint, 64 if args.quick else None)
    train = expand_paths([args.data / "train"])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        fp32 = export_onnx(checkpoint, Path(tmp) / "fp32.onnx").path
        ref, session = score(fp32, x, args.threads)
        results["fp32"] = {"accuracy": float((ref == y).mean())}
        sessions = {"fp32": session}
        for name in args.variants:
            out = Path(tmp) / f"{name}.onnx"
            entry = export_variant(checkpoint, out, VARIANTS[name], train, args.calibration_images)
            pred, sessions[name] = score(out, x, args.threads)
            entry |= {
                "accuracy": float((pred == y).mean()),
                "agreement": float((pred == ref).mean()),
            }
            results[name] = entry | saturation(out, x[:2])
            print(name, results[name], flush=True)
        for name, rates in speeds(sessions, x, args).items():
            results[name] |= rates
            for batch in ("1", "32"):
                base = rates if name == "fp32" else results["fp32"]
                results[name][f"speedup_{batch}"] = rates[f"batch_{batch}"] / base[f"batch_{batch}"]
    settings = {
        "checkpoint": str(checkpoint),
        "test_images": len(y),
        "calibration_images": args.calibration_images,
        "threads": args.threads,
        "seconds": args.seconds,
        "repeats": args.repeats,
        "quick": args.quick,
    }
    notes = [
        "accuracy on the whole test split unless quick; agreement: top-1 equal to fp32's",
        "old: calibration on the folder's first N sorted files (one class); spread: N spread out",
        "images/s: model only, ONNX Runtime CPU, preprocessed inputs, batch 1 and 32, "
        "all models timed in turns (--repeats rounds of --seconds each); speedup: over fp32",
    ]
    common.write_results(
        BENCHMARK, common.out_dir_for(args), common.machine_info(), settings, results, notes
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
