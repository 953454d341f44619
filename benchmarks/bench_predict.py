"""`landrec predict` end to end, per backend, against the model alone on ONNX Runtime.

e2e         `landrec predict RUN FOLDER --format csv --backend B > file`: wall time of a fresh
            process (start, imports, model load, decode, infer, output), torch and onnx in
            turn; the onnx export is built (and timed) once before, as a first run caches it
model_only  the same model's fp32 export on ONNX Runtime, batch 32 on preprocessed arrays
breakdown   in-process onnx prediction with the pipeline's counters: decode and preprocess
            (summed over the workers), the model's wait for batches, inference, CSV output
pools       the decoding pool: threads (the default) against 1 thread and 1 process
agreement   top-1 of the torch and onnx CSV rows, over every image

  python benchmarks/bench_predict.py --run RUN                 # all test photos (1,470)
  python benchmarks/bench_predict.py --run RUN --quick         # 96 photos, one round
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import common

BENCHMARK = "bench_predict"
BACKENDS = ("torch", "onnx")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder (or checkpoint)")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA / "test")
    p.add_argument("--repeats", type=int, default=2, help="end-to-end rounds per backend")
    p.add_argument("--seconds", type=float, default=3.0, help="model-only timed seconds")
    p.add_argument("--quick", action="store_true", help="96 photos, one round")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def stage(run: Path, data: Path, root: Path, quick: bool) -> tuple[Path, Path]:
    """The checkpoint copied into `root` (the ONNX cache is written beside it, never beside the
    original) and the folder to classify (with --quick, 96 linked photos)."""
    from landrec.engine.checkpoint import resolve_checkpoint

    checkpoint = root / "run" / "best.safetensors"
    checkpoint.parent.mkdir()
    shutil.copy(resolve_checkpoint(run), checkpoint)
    if not quick:
        return checkpoint.parent, data
    subset = root / "images"
    subset.mkdir()
    for photo in common.sample_files(data, 96):
        (subset / f"{photo.parent.name}_{photo.name}").symlink_to(photo)
    return checkpoint.parent, subset


def cli_run(run: Path, data: Path, backend: str, out: Path) -> float:
    """Seconds of one `landrec predict ... --format csv` process, its output into `out`."""
    landrec = Path(sys.executable).with_name("landrec")
    argv = [str(landrec), "predict", str(run), str(data), "--format", "csv", "--backend", backend]
    started = time.perf_counter()
    with out.open("w") as f:
        subprocess.run(argv, stdout=f, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def top1(csv_file: Path) -> dict[str, str]:
    """path -> top-1 class of a predict CSV (the first top_k entry; '' for error rows)."""
    with csv_file.open() as f:
        return {row["path"]: row["top_k"].split(":")[0] for row in csv.DictReader(f)}


def end_to_end(run: Path, data: Path, repeats: int, root: Path) -> dict[str, Any]:
    n_images = sum(1 for p in data.rglob("*") if p.is_file() or p.is_symlink())
    first_onnx = cli_run(run, data, "onnx", root / "first.csv")  # builds best.fp32.onnx
    walls: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(repeats):
        for backend in BACKENDS:  # in turn, so a noisy stretch hits both
            walls[backend].append(cli_run(run, data, backend, root / f"{backend}.csv"))
    one = next(p for p in sorted(data.rglob("*")) if p.is_file())
    single = {b: cli_run(run, one, b, root / "one.csv") for b in BACKENDS}
    rows = {b: top1(root / f"{b}.csv") for b in BACKENDS}
    differ = sorted(p for p in rows["torch"] if rows["torch"][p] != rows["onnx"].get(p))
    return {
        "images": n_images,
        "onnx_first_run_with_export_s": first_onnx,
        "backends": {
            b: {
                "wall_s_rounds": walls[b],
                "wall_s": min(walls[b]),
                "images_per_s": n_images / min(walls[b]),
                "one_image_wall_s": single[b],
            }
            for b in BACKENDS
        },
        "agreement": {"rows": len(rows["torch"]), "top1_differences": len(differ)},
        "differing_paths": differ[:20],
    }


def in_process(run: Path, data: Path, seconds: float) -> dict[str, Any]:
    """Model-only ORT speed, the pipeline's breakdown, and processes against threads."""
    from landrec.cli.output import print_predictions
    from landrec.data.sniff import detect_all
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import load_classifier
    from landrec.engine.inference.pipeline import Timings, image_batches
    from landrec.engine.inference.predict import predict_inputs

    classifier = load_classifier(run, Backend.ONNX)
    inputs = detect_all([data])
    items = [(d.path, 0) for d in inputs]
    first = next(image_batches(items[:32], classifier.preprocessing, 32))
    model_only = common.measure(lambda: classifier.logits(first.images), 32, seconds)

    timings = Timings()
    started = time.perf_counter()
    preds = predict_inputs(classifier, inputs, progress=False, timings=timings)
    predicted = time.perf_counter() - started
    started = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        print_predictions(preds, "csv")
    output_s = time.perf_counter() - started

    def pool_rate(pool: Executor | None) -> float:
        begun = time.perf_counter()
        for batch in image_batches(items, classifier.preprocessing, 32, pool=pool):
            classifier.logits(batch.images)
        return len(items) / (time.perf_counter() - begun)

    pools: dict[str, list[float]] = {"default (threads)": [], "1 thread": [], "1 process": []}
    for _ in range(2):  # in turn
        pools["default (threads)"].append(pool_rate(None))
        with ThreadPoolExecutor(1) as threads:
            pools["1 thread"].append(pool_rate(threads))
        with ProcessPoolExecutor(1) as processes:
            pools["1 process"].append(pool_rate(processes))
    return {
        "model_only_ort_batch32": model_only,
        "breakdown": {
            "images": timings.images,
            "predict_wall_s": predicted,
            "decode_s_summed": timings.decode_s,
            "preprocess_s_summed": timings.preprocess_s,
            "model_wait_s": timings.wait_s,
            "infer_s": timings.infer_s,
            "output_csv_s": output_s,
            "images_per_s": timings.images / predicted,
        },
        "pools_images_per_s": {k: max(v) for k, v in pools.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        root = Path(tmp)
        run, data = stage(args.run, args.data, root, args.quick)
        common.read_all(data)
        repeats = 1 if args.quick else args.repeats
        results = end_to_end(run, data, repeats, root)
        results |= in_process(run, data, 1.0 if args.quick else args.seconds)
    e2e = results["backends"]["onnx"]["images_per_s"]
    model = results["model_only_ort_batch32"]["images_per_s"]
    results["onnx_e2e_over_model_only"] = e2e / model
    notes = [
        "e2e: the fastest round of a fresh `landrec predict` process; the onnx export was built "
        "by an earlier run (onnx_first_run_with_export_s), as it is on a run folder's first use",
        "decode/preprocess are summed over the decoding workers and overlap the model",
    ]
    settings = {"run": str(args.run), "data": str(args.data), "quick": args.quick}
    settings |= {"repeats": repeats}
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
