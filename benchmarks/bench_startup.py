"""How fast the `landrec` command answers: --help, `landrec models`, an option error, a config
error, and one image classified end to end (time to first result, peak RSS), each a fresh process.

    python benchmarks/bench_startup.py --run runs/mobilenet_v2      # a trained run folder

Each figure is the median of --repeats runs of the installed `landrec` program (wall time,
process start included; peak RSS from the kernel's accounting of the child).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common

BENCHMARK = "bench_startup"
TARGET_SECONDS = 0.5  # --help, models and option errors (the target)


def run_once(argv: list[str]) -> tuple[float, int, float]:
    """Wall seconds, exit code and peak RSS (MB) of one fresh process (os.wait4: its own)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, proc.returncode, usage.ru_maxrss / 1024


def timed(argv: list[str], repeats: int) -> dict:
    """Medians over `repeats` fresh processes of `argv`."""
    runs = [run_once(argv) for _ in range(repeats)]
    return {
        "argv": argv,
        "seconds": statistics.median(r[0] for r in runs),
        "exit": runs[-1][1],
        "peak_rss_mb": statistics.median(r[2] for r in runs),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True, help="a trained run folder")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out-dir", type=Path, default=common.RESULTS_DIR)
    args = p.parse_args()
    exe = shutil.which("landrec") or str(Path(sys.executable).parent / "landrec")
    image = next((args.data / "test").rglob("*.jpg"))
    predict_one = [exe, "predict", str(args.run), str(image)]
    cases = {
        "landrec --help": [exe, "--help"],
        "landrec models": [exe, "models"],
        "config error (--batch-size 0)": [exe, "train", str(args.data), "--batch-size", "0"],
        "option error (--top-k 0)": [*predict_one, "--top-k", "0"],
        "one image, ONNX Runtime": [*predict_one, "--backend", "onnx"],
        "one image, PyTorch": [*predict_one, "--backend", "torch"],
    }
    load = list(os.getloadavg())
    rows = {name: timed(argv, args.repeats) for name, argv in cases.items()}
    # After the runs: machine_info imports torch, and a child forked from a large parent starts
    # with the parent's RSS in its ru_maxrss.
    machine = common.machine_info() | {"load_average_at_start": load}
    record = {
        "benchmark": BENCHMARK,
        "command": common.command_line(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "target_seconds": TARGET_SECONDS,
        "rows": rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{BENCHMARK}.json"
    out.write_text(json.dumps(record, indent=2))
    print("| command | median wall s | exit | median peak RSS MB |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['seconds']:.3f} | {r['exit']} | {r['peak_rss_mb']:.0f} |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
