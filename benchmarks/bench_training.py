"""Training time: the report's loop (every image through the whole network every epoch) vs
training from cached frozen-prefix features, on a fixed stratified subset of the real photos.

(a) head training, mobilenet_v2 (real weights), 20 epochs, report augmentation: uncached,
    cached with a cold cache (building it is part of the wall time), cached with the warm cache.
(b) stage-2 fine-tuning: seconds per fine-tune epoch, cached vs uncached.

    python benchmarks/bench_training.py            # full (the lead's quiet machine)
    python benchmarks/bench_training.py --quick    # seconds: checks the script, measures nothing
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import common
from landrec import api
from landrec.engine.config import Backend, TrainConfig

BENCHMARK = "bench_training"
MODEL = "mobilenet_v2"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--train-per-class", type=int, default=120)
    p.add_argument("--val-per-class", type=int, default=60)
    p.add_argument("--head-epochs", type=int, default=20, help="part (a)")
    p.add_argument("--finetune-epochs", type=int, default=2, help="part (b)")
    p.add_argument("--image-size", type=int, default=None, help="default: the model's (224)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warm-lr", type=float, default=5e-4, help="the warm-cache rerun's lr")
    p.add_argument("--workers", type=int, default=None, help="decode processes; default: auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads; default: torch's")
    p.add_argument("--seed", type=int, default=0, help="subset and training seed")
    p.add_argument("--out-dir", type=Path, default=None, help="default: docs/benchmarks")
    p.add_argument("--quick", action="store_true", help="4 per class, 2 epochs, 64 px, 1 thread")
    args = p.parse_args(argv)
    if args.quick:
        args.train_per_class = args.val_per_class = 4
        args.head_epochs = args.finetune_epochs = 2
        args.image_size = args.image_size or 64
        args.workers = 0 if args.workers is None else args.workers
        args.threads = args.threads or 1
    return args


def timed_train(data: Path, run: Path, **overrides: Any) -> dict[str, Any]:
    """One `landrec.api.train` call (no test split), its wall time and its history."""
    t0 = time.perf_counter()
    result = api.train(data, run, test=False, **overrides).train
    wall = time.perf_counter() - t0
    history = result.history
    best_loss = min(history, key=lambda r: r["val_loss"])
    epoch_seconds = [r["seconds"] for r in history]
    return {
        "wall_s": wall,
        "best_val_accuracy": max(r["val_accuracy"] for r in history),
        "val_accuracy_at_best_val_loss": best_loss["val_accuracy"],
        "final_val_accuracy": history[-1]["val_accuracy"],
        "epochs": len(history),
        "sum_epoch_s": sum(epoch_seconds),
        "outside_epochs_s": wall - sum(epoch_seconds),  # model build, cache extraction, saving
        "cache_bytes": result.cache_bytes,
        "weights": result.weights_source,
        "history": history,
        "overrides": overrides,
    }


def head_training(args: argparse.Namespace, data: Path, tmp: Path) -> dict[str, Any]:
    """(a) the report's loop vs cached features, cold cache then warm."""
    common_cfg = {
        "model": MODEL,
        "weights": "auto",
        "head": "mlp",
        "optimizer": "adam",
        "lr": args.lr,
        "head_epochs": args.head_epochs,
        "finetune_epochs": 0,
        "augment": "report",
        "image_size": args.image_size,
        "workers": args.workers,
        "seed": args.seed,
    }
    cache = str(tmp / "cache_a")
    runs = {
        "uncached": timed_train(data, tmp / "a_uncached", **common_cfg, cache=False),
        "cached_cold": timed_train(
            data, tmp / "a_cold", **common_cfg, cache=True, aug_views=2, cache_dir=cache
        ),
    }
    warm_cfg = {**common_cfg, "lr": args.warm_lr}
    runs["cached_warm"] = timed_train(
        data, tmp / "a_warm", **warm_cfg, cache=True, aug_views=2, cache_dir=cache
    )
    un, cold, warm = runs["uncached"], runs["cached_cold"], runs["cached_warm"]
    return {
        "runs": runs,
        "speedup_cold_vs_uncached": un["wall_s"] / cold["wall_s"],
        "speedup_warm_vs_uncached": un["wall_s"] / warm["wall_s"],
        "best_val_accuracy_diff_points": 100
        * (cold["best_val_accuracy"] - un["best_val_accuracy"]),
        "val_accuracy_at_best_loss_diff_points": 100
        * (cold["val_accuracy_at_best_val_loss"] - un["val_accuracy_at_best_val_loss"]),
    }


def finetune_epochs(args: argparse.Namespace, data: Path, tmp: Path) -> dict[str, Any]:
    """(b) seconds per stage-2 epoch (history.csv's `seconds`), cached vs uncached."""
    cfg = {
        "model": MODEL,
        "weights": "auto",
        "head_epochs": 1,
        "finetune_epochs": args.finetune_epochs,
        "augment": "none",
        "image_size": args.image_size,
        "workers": args.workers,
        "seed": args.seed,
    }
    runs = {
        "uncached": timed_train(data, tmp / "b_uncached", **cfg, cache=False),
        "cached": timed_train(
            data, tmp / "b_cached", **cfg, cache=True, cache_dir=str(tmp / "cache_b")
        ),
    }
    per_epoch = {}
    for name, run in runs.items():
        seconds = [r["seconds"] for r in run["history"] if r["stage"] == "finetune"]
        per_epoch[name] = {"finetune_epoch_s": seconds, "mean_s": statistics.mean(seconds)}
    return {
        "runs": runs,
        "per_epoch": per_epoch,
        "finetune_epoch_speedup": per_epoch["uncached"]["mean_s"] / per_epoch["cached"]["mean_s"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = common.machine_info()
    per_class = {"train": args.train_per_class, "val": args.val_per_class}
    with tempfile.TemporaryDirectory(prefix="landrec-bench-train-") as name:
        tmp = Path(name)
        data = common.link_subset(args.data, tmp / "data", per_class, args.seed)
        common.read_all(data)  # the first run must not pay for a cold page cache alone
        results = {
            "head": head_training(args, data, tmp),
            "finetune": finetune_epochs(args, data, tmp),
        }
    settings = {**vars(args), "model": MODEL, "subset_per_class": per_class}
    defaults = TrainConfig()
    extractor = (
        "ONNX Runtime, float32"
        if defaults.feature_backend is Backend.ONNX
        else f"PyTorch (bf16 autocast: {defaults.bf16})"
    )
    notes = [
        f"cached runs compute their features with {extractor} (TrainConfig's default); "
        "uncached runs compute in PyTorch float32 throughout",
        "cached_cold's wall time includes building its cache (fresh cache_dir); cached_warm "
        "reuses it with only lr changed",
        "cached runs draw one of aug_views=2 precomputed augmented views per image per epoch; "
        "uncached runs augment afresh every epoch",
        "best_val_accuracy: highest over epochs; val_accuracy_at_best_val_loss: the saved best "
        "checkpoint's",
    ]
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
