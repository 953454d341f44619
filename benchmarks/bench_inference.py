"""Inference throughput and peak memory per backend, against the report's way of predicting.

Paths (model-only, on preprocessed real images; one fresh process per model and path, so each
peak RSS is that path's own):
  report      eager PyTorch fp32, NCHW, model.eval() + torch.no_grad(), one image at a time
  eager       torch.inference_mode, channels_last, batch 1 and 32
  eager_bf16  autocast bfloat16, channels_last, batch 32
  ort_fp32    the exported ONNX model on ONNX Runtime (landrec's session settings), batch 1, 32
  ort_int8    the same, int8 static-calibrated on real train images
Then int8 vs fp32 top-1 agreement on real val images through landrec's predict path.

    python benchmarks/bench_inference.py            # full (the lead's quiet machine)
    python benchmarks/bench_inference.py --quick    # seconds: mobilenet_v2 only, tiny timings
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common

BENCHMARK = "bench_inference"
MODELS = ("mobilenet_v2", "efficientnet_lite0", "resnet18")
RANDOM_INIT = ("resnet18",)  # no real weights on this machine: timed with random init
PATHS: dict[str, tuple[int, ...]] = {
    "report": (1,),
    "eager": (1, 32),
    "eager_bf16": (32,),
    "ort_fp32": (1, 32),
    "ort_int8": (1, 32),
}
TARGET = ("mobilenet_v2", 4.0)  # ORT >= 4x the report's way
INPUTS = 32  # preprocessed real images kept for timing (the largest batch)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--paths", nargs="+", default=list(PATHS), choices=tuple(PATHS))
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per round")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds; the median counts")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per measurement")
    p.add_argument("--calibration", type=int, default=64, help="int8 calibration train images")
    p.add_argument("--agreement", type=int, default=256, help="val images for int8 agreement")
    p.add_argument("--threads", type=int, default=None, help="torch and ORT threads")
    p.add_argument("--image-size", type=int, default=None, help="default: each model's own")
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="MODEL=PATH",
        help="use a trained checkpoint for MODEL instead of an untrained head",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=None, help="default: docs/benchmarks")
    p.add_argument("--quick", action="store_true", help="mobilenet_v2, 64 px, tiny timings")
    # internal: the per-process workers
    p.add_argument("--worker", choices=("prepare", "time", "agree"), help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--path", choices=tuple(PATHS), help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.models = ["mobilenet_v2"]
        args.seconds, args.repeats, args.warmup = 0.05, 1, 0.05
        args.calibration, args.agreement = 8, 16
        args.image_size = args.image_size or 64
        args.threads = args.threads or 1
    return args


# ---- workers (each in its own process) -----------------------------------------------------


def _set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """A checkpoint per model, its fp32 and int8 ONNX exports, and preprocessed inputs."""
    import numpy as np
    import torch

    from landrec.data.dataset import ImageDataset
    from landrec.data.transforms import Preprocessing, eval_transform
    from landrec.engine.checkpoint import CheckpointMeta, read_meta, save_checkpoint
    from landrec.engine.inference.export import export_onnx
    from landrec.models.factory import ModelConfig, create_model
    from landrec.models.registry import get_spec
    from landrec.models.weights import WeightsUnavailableError

    _set_threads(args.threads)
    classes = sorted(p.name for p in (args.data / "train").iterdir() if p.is_dir())
    calibration = common.sample_files(args.data / "train", args.calibration, args.seed)
    given = dict(item.split("=", 1) for item in args.checkpoint)
    out: dict[str, Any] = {"machine": common.machine_info(), "models": {}}
    for name in args.models:
        spec = get_spec(name)
        ckpt = args.work / f"{name}.safetensors"
        if name in given:
            ckpt = Path(given[name])
            meta = read_meta(ckpt)
            head = f"trained checkpoint {ckpt}"
        else:
            config = ModelConfig(name, len(classes))
            torch.manual_seed(args.seed)  # the untrained head is the same on every run
            try:
                model, weights = create_model(config, "none" if name in RANDOM_INIT else "auto")
            except WeightsUnavailableError:
                model, weights = create_model(config, "none")
            size = args.image_size or spec.input_size
            pre = Preprocessing(size, spec.mean, spec.std)
            meta = CheckpointMeta(
                classes,
                config,
                pre,
                weights.source,
                not weights.pretrained,
                {},
                {"head": "untrained"},
            )
            save_checkpoint(ckpt, model, meta)
            head = "untrained (random init)"
        t0 = time.perf_counter()
        export_onnx(ckpt, args.work / f"{name}_fp32.onnx")
        t1 = time.perf_counter()
        int8 = export_onnx(
            ckpt, args.work / f"{name}_int8.onnx", int8=True, calibration=calibration
        )
        t2 = time.perf_counter()
        files = common.sample_files(args.data / "val", INPUTS, args.seed + 1)
        dataset = ImageDataset(
            files, eval_transform(meta.preprocessing), meta.preprocessing.short_side
        )
        images = torch.stack([dataset[i][1] for i in range(len(files))]).numpy()
        np.save(args.work / f"{name}_inputs.npy", images)
        (args.work / f"{name}.ckpt").write_text(str(ckpt))
        out["models"][name] = {
            "weights": meta.weights_source,
            "head": head,
            "input_size": meta.preprocessing.input_size,
            "export_fp32_s": t1 - t0,
            "export_int8_s": t2 - t1,
            "calibration_images": int8.calibration_images,
            "onnx_fp32_mib": (args.work / f"{name}_fp32.onnx").stat().st_size / 2**20,
            "onnx_int8_mib": int8.bytes / 2**20,
        }
    return out


def _torch_fn(name: str, path: str, work: Path) -> Callable[[Any], Callable[[], object]]:
    """For a batch (numpy), a call that runs the model the way `path` does."""
    import torch

    from landrec.engine.checkpoint import load_checkpoint

    model, _ = load_checkpoint((work / f"{name}.ckpt").read_text())
    model.eval()
    if path == "report":

        def report(batch: Any) -> Callable[[], object]:
            x = torch.from_numpy(batch).contiguous()

            def run() -> object:
                with torch.no_grad():
                    return model(x)

            return run

        return report
    model = model.to(memory_format=torch.channels_last)
    bf16 = path == "eager_bf16"

    def eager(batch: Any) -> Callable[[], object]:
        x = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)

        def run() -> object:
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                return model(x)

        return run

    return eager


def _ort_fn(
    name: str, path: str, work: Path, threads: int | None
) -> Callable[[Any], Callable[[], object]]:
    from landrec.engine.inference.classifier import onnx_classifier

    suffix = "int8" if path == "ort_int8" else "fp32"
    classifier = onnx_classifier(work / f"{name}_{suffix}.onnx", threads)
    return lambda batch: lambda: classifier.logits(batch)


def time_path(args: argparse.Namespace) -> dict[str, Any]:
    """Images/s of one (model, path) at each of its batch sizes, and this process's peak RSS."""
    import os

    import numpy as np
    import torch

    import landrec.engine.inference.export  # noqa: F401  (every path pays the same imports)

    _set_threads(args.threads)
    name, path = args.models[0], args.path
    after_imports = common.memory_mib()
    inputs = np.load(args.work / f"{name}_inputs.npy")
    if path.startswith("ort"):
        make = _ort_fn(name, path, args.work, args.threads)
    else:
        make = _torch_fn(name, path, args.work)
    batches = {
        str(b): common.measure(make(inputs[:b]), b, args.seconds, args.repeats, args.warmup)
        for b in PATHS[path]
    }
    return {
        "batches": batches,
        "memory": common.memory_mib(),
        "rss_after_imports_mib": after_imports["vm_rss_mib"],
        "torch_threads": torch.get_num_threads(),
        "ort_threads": (args.threads or os.cpu_count()) if path.startswith("ort") else None,
    }


def _top1(source: Path, backend: Any, files: list[Path]) -> list[str | None]:
    """Top-1 classes through landrec's predict path (even where `label` would be "unknown")."""
    from landrec.engine.inference.classifier import load_classifier
    from landrec.engine.inference.predict import predict_files

    predictions = predict_files(load_classifier(source, backend), files, 1, progress=False)
    return [p.top_k[0][0] if p.top_k else None for p in predictions]


def _rate(a: list, b: list) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / max(len(a), 1)


def agree(args: argparse.Namespace) -> dict[str, Any]:
    """int8 vs fp32 (and ORT fp32 vs PyTorch) top-1 agreement through predict_files."""
    from landrec.engine.config import Backend

    _set_threads(args.threads)
    files = common.sample_files(args.data / "val", args.agreement, args.seed)
    truth = [f.parent.name for f in files]
    out = {}
    for name in args.models:
        sources = {
            "torch": (Path((args.work / f"{name}.ckpt").read_text()), Backend.TORCH),
            "ort_fp32": (args.work / f"{name}_fp32.onnx", Backend.ONNX),
            "ort_int8": (args.work / f"{name}_int8.onnx", Backend.ONNX),
        }
        top1 = {key: _top1(src, backend, files) for key, (src, backend) in sources.items()}
        out[name] = {
            "images": len(files),
            "int8_vs_fp32": _rate(top1["ort_int8"], top1["ort_fp32"]),
            "ort_fp32_vs_torch": _rate(top1["ort_fp32"], top1["torch"]),
            "accuracy": {key: _rate(v, truth) for key, v in top1.items()},
        }
    return out


WORKERS = {"prepare": prepare, "time": time_path, "agree": agree}


# ---- the orchestrator (imports no torch, so its memory never leaks into a worker's) --------


def run_worker(args: argparse.Namespace, kind: str, **extra: str) -> dict[str, Any]:
    result = args.work / f"{kind}-{'-'.join(extra.values()) or 'all'}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    cmd += ["--work", str(args.work), "--result", str(result), "--data", str(args.data)]
    cmd += ["--seconds", str(args.seconds), "--repeats", str(args.repeats)]
    cmd += ["--warmup", str(args.warmup), "--seed", str(args.seed)]
    cmd += ["--calibration", str(args.calibration), "--agreement", str(args.agreement)]
    cmd += ["--threads", str(args.threads)] if args.threads else []
    cmd += ["--image-size", str(args.image_size)] if args.image_size else []
    for item in args.checkpoint:
        cmd += ["--checkpoint", item]
    cmd += ["--models", extra.get("model", "")] if "model" in extra else ["--models", *args.models]
    cmd += ["--path", extra["path"]] if "path" in extra else []
    print(f"[bench_inference] {kind} {' '.join(extra.values())}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        return {"error": f"worker exited with status {done.returncode}"}
    return json.loads(result.read_text())


def speedups(timings: dict[str, Any]) -> dict[str, Any]:
    """Each path's images/s over the report's (batch 1, eager fp32 NCHW, no_grad)."""
    base = timings.get("report", {}).get("batches", {}).get("1", {}).get("images_per_s")
    out: dict[str, dict[str, float]] = {}
    for path, timing in timings.items():
        for batch, m in timing.get("batches", {}).items():
            if base:
                out.setdefault(path, {})[batch] = m["images_per_s"] / base
    return out


def target_check(models: dict[str, Any]) -> dict[str, Any]:
    name, factor = TARGET
    if name not in models:
        return {"target": f"ORT >= {factor}x report for {name}", "met": None}
    ratios = models[name]["speedup_vs_report"]
    ort = {f"{p} b{b}": r for p in ("ort_fp32", "ort_int8") for b, r in ratios.get(p, {}).items()}
    best = max(ort, key=ort.__getitem__) if ort else None
    return {
        "target": f"ORT >= {factor}x the report's way for {name}",
        "ort_speedups": ort,
        "best": best,
        "met": bool(best) and ort[best] >= factor,
        "met_at_batch_1": any(r >= factor for k, r in ort.items() if k.endswith(" b1")),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args)
        args.result.write_text(json.dumps(result, default=str))
        return 0
    with tempfile.TemporaryDirectory(prefix="landrec-bench-infer-") as name:
        args.work = Path(name)
        prepared = run_worker(args, "prepare")
        if "error" in prepared:
            raise SystemExit(f"preparation failed: {prepared['error']}")
        models: dict[str, Any] = {}
        for model in args.models:
            timings = {p: run_worker(args, "time", model=model, path=p) for p in args.paths}
            models[model] = {
                **prepared["models"][model],
                "paths": timings,
                "speedup_vs_report": speedups(timings),
            }
        agreement = run_worker(args, "agree")
    for model, entry in models.items():
        entry["agreement"] = agreement.get(model, agreement)
    results = {"models": models, "target": target_check(models)}
    settings = {
        k: v for k, v in vars(args).items() if k not in ("worker", "work", "path", "result")
    }
    settings["batches"] = PATHS
    notes = [
        "model-only timing on preprocessed real val images (decode/resize excluded)",
        "peak memory: each (model, path) in a fresh process; it includes the Python, torch, "
        "onnx and onnxruntime imports (rss_after_imports_mib) that every path pays",
        "ORT sessions use landrec's settings: ORT_ENABLE_ALL, intra_op_num_threads = "
        "--threads or os.cpu_count()",
        "int8: static QDQ, per-channel, calibrated on --calibration stratified train images",
    ]
    notes += [f"{m}: random init (no real weights here)" for m in models if m in RANDOM_INIT]
    if not args.checkpoint:
        notes.append(
            "heads are untrained (random init): top-1 agreement between backends is measured on "
            "near-uniform logits, so it is a pessimistic figure; pass --checkpoint MODEL=RUN/"
            "best.safetensors for a trained head"
        )
    machine = prepared["machine"]
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
