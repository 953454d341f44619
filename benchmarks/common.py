"""What every benchmark shares: the machine's description, fixed subsets of the real photos,
a timing loop and the JSON record (command, machine, date, results) written per benchmark."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/landscapes"
RESULTS_DIR = REPO / "docs/benchmarks"
QUICK_DIR = RESULTS_DIR / "quick"  # --quick results never overwrite real measurements
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def command_line() -> str:
    return "python " + shlex.join(sys.argv)


def _cpuinfo() -> dict[str, Any]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu_model": platform.processor() or platform.machine(), "cpu_flags": []}
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in text.splitlines()) if v
    )
    flags = set(fields.get("flags", "").split())
    return {
        "cpu_model": fields.get("model name", platform.machine()),
        "cpu_flags": [f for f in CPU_FLAGS if f in flags],
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    command = ["git", "-C", str(REPO), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _git_commit() -> str | None:
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine_info() -> dict[str, Any]:
    """CPU, core counts, library versions and thread counts; load average flags a busy machine."""
    import torch

    return {
        **_cpuinfo(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnxruntime": _version("onnxruntime"),
        "torchvision": _version("torchvision"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "landrec_commit": _git_commit(),
    }


def sample_files(split_dir: Path, total: int, seed: int = 0) -> list[Path]:
    """`total` images of a split, class by class in turn (stratified), each class shuffled
    with a fixed seed: the same files on every machine."""
    per_class = []
    for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        files = sorted(f for f in class_dir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        random.Random(f"{seed}:{class_dir.name}").shuffle(files)
        per_class.append(files)
    out: list[Path] = []
    for i in range(max((len(f) for f in per_class), default=0)):
        out.extend(files[i] for files in per_class if i < len(files))
    return out[:total]


def link_subset(data: Path, root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    """A data-set root of symlinks to `per_class[split]` images per class of each split."""
    for split, n in per_class.items():
        n_classes = sum(1 for p in (data / split).iterdir() if p.is_dir())
        for photo in sample_files(data / split, n * n_classes, seed):
            target = root / split / photo.parent.name / photo.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(photo)
    return root


def read_all(root: Path) -> int:
    """Read every file under `root` once, so no timed run pays for a cold page cache."""
    return sum(len(p.read_bytes()) for p in root.rglob("*") if p.is_file())


def measure(
    fn: Callable[[], object], batch: int, seconds: float, repeats: int = 3, warmup_s: float = 1.0
) -> dict[str, Any]:
    """Images/s of `fn` (one batch per call): warm up, pick an iteration count that lasts
    `seconds`, time that many calls `repeats` times; the median round is the figure. Also the
    process's CPU ms per image over the timed calls (every thread's, ONNX Runtime's too)."""
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < warmup_s:
        fn()
        n += 1
    t1 = time.perf_counter()
    fn()
    per_call = time.perf_counter() - t1
    iterations = max(3, math.ceil(seconds / max(per_call, 1e-9)))
    rates = []
    cpu = time.process_time()
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iterations):
            fn()
        rates.append(batch * iterations / (time.perf_counter() - t))
    cpu = time.process_time() - cpu
    return {
        "batch": batch,
        "iterations": iterations,
        "repeats": repeats,
        "images_per_s": statistics.median(rates),
        "images_per_s_rounds": rates,
        "ms_per_batch": 1000 * batch / statistics.median(rates),
        "cpu_ms_per_image": 1000 * cpu / (batch * iterations * repeats),
    }


def memory_mib() -> dict[str, float | None]:
    """This process's current and peak resident memory (MiB)."""
    import resource

    status: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                status[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return {
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mib": status.get("VmHWM"),
        "vm_rss_mib": status.get("VmRSS"),
    }


def write_results(
    name: str, out_dir: Path, machine: dict, settings: dict, results: dict, notes: list[str]
) -> Path:
    """Print the record and write it to `out_dir/<name>.json`."""
    record = {
        "benchmark": name,
        "command": command_line(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": bool(settings.get("quick")),
        "machine": machine,
        "settings": settings,
        "results": results,
        "notes": notes,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    text = json.dumps(record, indent=2, default=str)
    path.write_text(text + "\n")
    print(text)
    print(f"wrote {path}", file=sys.stderr)
    return path


def out_dir_for(args: Any) -> Path:
    if args.out_dir is not None:
        return Path(args.out_dir)
    return QUICK_DIR if args.quick else RESULTS_DIR


def predict_wall(
    run: Path, target: Path, out: Path | None = None, src: Path | None = None
) -> float:
    """Wall seconds of one `landrec predict RUN TARGET --format csv --backend onnx` process,
    its CSV into `out` (else dropped); with `src`, the landrec of that source tree."""
    env = dict(os.environ, PYTHONPATH=str(src)) if src is not None else None
    argv = [sys.executable, "-m", "landrec.cli.main", "predict", str(run), str(target)]
    argv += ["--format", "csv", "--backend", "onnx"]
    started = time.perf_counter()
    with open(out or os.devnull, "w") as f:
        subprocess.run(argv, stdout=f, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - started
