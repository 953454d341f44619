"""glibc's default allocator vs landrec's tuning (landrec.engine.runtime) on the work the feature
cache does: the frozen prefix of a network in PyTorch bf16 autocast, channels_last, batch after
batch. The two settings alternate round by round inside one process, so the ratio is measured
within one run; minor page faults per batch show where the time goes.

    python benchmarks/bench_malloc.py            # resnet18 and vgg16 at 224 px, batch 32
    python benchmarks/bench_malloc.py --quick    # seconds: resnet18 at 64 px, one round
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import common
from landrec.engine.runtime import default_allocator, tune_allocator
from landrec.models.choices import HeadKind
from landrec.models.factory import ModelConfig, create_model

BENCHMARK = "bench_malloc"
SETTINGS = {"glibc default": default_allocator, "landrec tuned": tune_allocator}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet18", "vgg16"])
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--images", type=int, default=256, help="images per timed round")
    p.add_argument("--rounds", type=int, default=3, help="rounds per setting, alternating")
    p.add_argument("--out-dir", type=Path, default=None, help="default: docs/benchmarks")
    p.add_argument("--quick", action="store_true", help="resnet18, 64 px, 32 images, 1 round")
    args = p.parse_args(argv)
    if args.quick:
        args.models, args.image_size, args.images, args.rounds = ["resnet18"], 64, 32, 1
    return args


@torch.inference_mode()
def one_round(model: torch.nn.Module, x: torch.Tensor, batches: int) -> dict[str, float]:
    """Images/s and minor page faults per batch of `batches` prefix passes."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(batches):
            model(x)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "images_per_s": batches * len(x) / seconds,
        "minor_faults_per_batch": (after.ru_minflt - before.ru_minflt) / batches,
        "system_s_share": (after.ru_stime - before.ru_stime) / max(seconds, 1e-9),
    }


def bench_model(name: str, args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(0)
    model, _ = create_model(ModelConfig(name, 5, HeadKind.LINEAR), "none")  # speed only
    prefix = torch.nn.Sequential(*model.blocks).eval().to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, args.image_size, args.image_size)
    x = x.contiguous(memory_format=torch.channels_last)
    batches = max(1, args.images // args.batch)
    rounds: dict[str, list[dict[str, float]]] = {k: [] for k in SETTINGS}
    for _ in range(args.rounds):
        for setting, apply in SETTINGS.items():
            apply()
            one_round(prefix, x, 1)  # warm-up under this setting
            rounds[setting].append(one_round(prefix, x, batches))
    summary: dict[str, dict[str, Any]] = {
        k: {
            "images_per_s": statistics.median(r["images_per_s"] for r in v),
            "minor_faults_per_batch": statistics.median(r["minor_faults_per_batch"] for r in v),
            "system_s_share": statistics.median(r["system_s_share"] for r in v),
            "rounds": v,
        }
        for k, v in rounds.items()
    }
    base = summary["glibc default"]["images_per_s"]
    return {"settings": summary, "speedup": summary["landrec tuned"]["images_per_s"] / base}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    results = {"models": {name: bench_model(name, args) for name in args.models}}
    tuned = tune_allocator()  # leave the process as the CLI runs
    notes = [
        "random-init weights (speed does not depend on them); the whole feature prefix "
        "(up to pooled features) in bf16 autocast, channels_last, as the torch feature backend",
        "glibc default: M_MMAP_MAX 65536, M_TRIM_THRESHOLD 128 KiB (blocks above the dynamic "
        "mmap threshold are mapped and unmapped per allocation); landrec tuned: M_MMAP_MAX 0, "
        "M_TRIM_THRESHOLD 1 GiB (freed blocks stay in the heap for the next batch)",
        f"mallopt available here: {tuned}",
    ]
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, vars(args), results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
