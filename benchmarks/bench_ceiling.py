"""This CPU's ceiling: measured peak matmul GFLOP/s (fp32 and bf16, all torch threads) and each
model's FLOPs per image, so the report can say what fraction of peak an inference path reaches.

    python benchmarks/bench_ceiling.py            # full (the lead's quiet machine)
    python benchmarks/bench_ceiling.py --quick    # seconds: small matrices, mobilenet_v2 only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

import common
from landrec.models.factory import ModelConfig, build_architecture, count_parameters
from landrec.models.registry import get_spec

BENCHMARK = "bench_ceiling"
MODELS = ("mobilenet_v2", "efficientnet_lite0", "resnet18")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=4096, help="square matmul size")
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per round")
    p.add_argument("--repeats", type=int, default=3, help="rounds; the best is the peak")
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--image-size", type=int, default=None, help="default: each model's own")
    p.add_argument("--threads", type=int, default=None, help="default: torch's")
    p.add_argument("--out-dir", type=Path, default=None, help="default: docs/benchmarks")
    p.add_argument("--quick", action="store_true", help="512x512, 0.1 s, mobilenet_v2")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.seconds, args.repeats = 512, 0.1, 1
        args.models = ["mobilenet_v2"]
        args.threads = args.threads or 1
    return args


@torch.inference_mode()
def matmul_peak(size: int, dtype: torch.dtype, seconds: float, repeats: int) -> dict[str, Any]:
    """GFLOP/s of an (n x n) @ (n x n) product: 2 n^3 FLOPs per call."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(dtype)
    b = torch.randn(size, size, generator=g).to(dtype)
    out = torch.empty(size, size, dtype=dtype)
    timing = common.measure(lambda: torch.mm(a, b, out=out), 1, seconds, repeats, seconds / 3)
    per_s = [r * 2 * size**3 / 1e9 for r in timing["images_per_s_rounds"]]
    return {
        "size": size,
        "calls": timing["iterations"],
        "gflops_rounds": per_s,
        "gflops_peak": max(per_s),
        "gflops_median": timing["images_per_s"] * 2 * size**3 / 1e9,
    }


def model_flops(name: str, image_size: int | None) -> dict[str, Any]:
    """FLOPs of one forward pass of one image (a multiply-add counts 2, as FlopCounterMode does)."""
    spec = get_spec(name)
    model = build_architecture(ModelConfig(name, num_classes=5)).eval()
    size = image_size or spec.input_size
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.randn(1, 3, size, size))
    return {
        "input_size": size,
        "flops_per_image": counter.get_total_flops(),
        "gflops_per_image": counter.get_total_flops() / 1e9,
        "parameters": count_parameters(model),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = common.machine_info()
    peaks = {k: matmul_peak(args.size, t, args.seconds, args.repeats) for k, t in DTYPES.items()}
    results = {
        "matmul": peaks,
        "models": {name: model_flops(name, args.image_size) for name in args.models},
    }
    notes = [
        "peak: best round of repeated torch.mm on square matrices with all torch threads; a "
        "convolution network reaches only a fraction of it",
        "FLOPs: torch.utils.flop_counter.FlopCounterMode, batch 1, 5-class MLP head; counts "
        "convolutions and matmuls (2 per multiply-add), not BatchNorm/activations/pooling",
        f"CPU has AMX-bf16: {'amx_bf16' in machine['cpu_flags']}",
    ]
    settings = vars(args)
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
