"""`landrec predict` end to end, per backend, against the model alone on ONNX Runtime.

e2e         `landrec predict MODEL FOLDER --format csv > file`: wall time of a fresh process
            (start, imports, model load, decode, infer, output) for torch, onnx (fp32, the run's
            cached export, built and timed once before) and int8 (`landrec export --int8`,
            built once before), in turn within each round
model_only  the fp32 and int8 ONNX models on ONNX Runtime, batch 32 on preprocessed arrays,
            timed in the same rounds (after the processes), so each round has its own ratio
breakdown   in-process onnx prediction with the pipeline's counters: decode and preprocess
            (summed over the workers), the model's wait for batches, inference, CSV output
pools       the decoding pool: threads (the default) against 1 thread and 1 process
accuracy    top-1 of each CSV against the parent folder's name; agreement of the top-1s

  python benchmarks/bench_predict.py --run RUN --repeats 3     # all test photos (1,470)
  python benchmarks/bench_predict.py --run RUN --quick         # 96 photos, one round
"""

from __future__ import annotations

import argparse
import csv
import io
import shlex
import shutil
import statistics
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
VARIANTS = ("torch", "onnx", "int8")  # int8: the exported int8 file, on ONNX Runtime
LANDREC = Path(sys.executable).with_name("landrec")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder (or checkpoint)")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA / "test")
    p.add_argument("--calibration", type=Path, default=common.DEFAULT_DATA / "train")
    p.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    p.add_argument("--seconds", type=float, default=3.0, help="model-only timed seconds")
    p.add_argument("--quick", action="store_true", help="96 photos, one round")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def stage(run: Path, data: Path, root: Path, quick: bool) -> tuple[Path, Path]:
    """The checkpoint copied into `root` (the ONNX cache is written beside it, never beside the
    original) and the folder to classify (with --quick, 96 photos linked in class folders)."""
    from landrec.engine.checkpoint import resolve_checkpoint
    from landrec.engine.runs import RunFolder

    checkpoint = RunFolder(root / "run").best
    checkpoint.parent.mkdir()
    shutil.copy(resolve_checkpoint(run), checkpoint)
    if not quick:
        return checkpoint.parent, data
    subset = root / "images"
    for photo in common.sample_files(data, 96):
        (subset / photo.parent.name).mkdir(parents=True, exist_ok=True)
        (subset / photo.parent.name / photo.name).symlink_to(photo)
    return checkpoint.parent, subset


def timed(argv: list[str], out: Path | None = None) -> float:
    """Wall seconds of one `landrec` process, its stdout into `out`."""
    started = time.perf_counter()
    with open(out or "/dev/null", "w") as f:
        subprocess.run(argv, stdout=f, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def export_int8(run: Path, calibration: Path, out: Path, quick: bool) -> dict[str, Any]:
    """`landrec export RUN --int8` (the command's own recipe for this CPU), timed."""
    argv = [str(LANDREC), "export", str(run), "--format", "onnx", "--int8"]
    argv += ["--calibration", str(calibration), "--out", str(out)]
    argv += ["--calibration-images", "16"] if quick else []
    seconds = timed(argv)
    if not out.is_file():
        raise SystemExit(f"{shlex.join(['landrec', *argv[1:]])} wrote no {out}")
    return {
        "command": shlex.join(["landrec", *argv[1:]]),
        "export_s": seconds,
        "mib": out.stat().st_size / 2**20,
    }


def predict_argv(model: Path, data: Path, variant: str) -> list[str]:
    backend = "torch" if variant == "torch" else "onnx"
    return [str(LANDREC), "predict", str(model), str(data), "--format", "csv", "--backend", backend]


def top1(csv_file: Path) -> dict[str, str]:
    """path -> top-1 class of a predict CSV (the first top_k entry; '' for error rows)."""
    with csv_file.open() as f:
        return {row["path"]: row["top_k"].split(":")[0] for row in csv.DictReader(f)}


def model_only_fns(run: Path, int8: Path, data: Path) -> dict[str, Any]:
    """Batch-32 logits functions of the fp32 and int8 ONNX models on one preprocessed batch."""
    from landrec.data.sniff import detect_all
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import load_classifier, onnx_classifier
    from landrec.engine.pipeline import image_batches

    fp32 = load_classifier(run, Backend.ONNX)
    quantized = onnx_classifier(int8)
    items = [(d.path, 0) for d in detect_all([data])][:32]
    batch = next(image_batches(items, fp32.preprocessing, 32)).images
    fp32.logits(batch)  # builds the cache if a previous run did not
    return {"fp32": lambda: fp32.logits(batch), "int8": lambda: quantized.logits(batch)}


def rounds(run: Path, int8: Path, data: Path, repeats: int, seconds: float, root: Path) -> dict:
    """Every variant's process, then both models alone, in turn, `repeats` times."""
    models = {"torch": run, "onnx": run, "int8": int8}
    first_onnx = timed(predict_argv(run, data, "onnx"), root / "first.csv")  # builds the cache
    fns = model_only_fns(run, int8, data)
    walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
    alone: dict[str, list[dict]] = {k: [] for k in fns}
    for _ in range(repeats):  # in turn, so a noisy stretch hits every variant
        for v in VARIANTS:
            walls[v].append(timed(predict_argv(models[v], data, v), root / f"{v}.csv"))
        for k, fn in fns.items():
            alone[k].append(common.measure(fn, 32, seconds, repeats=1, warmup_s=0.5))
    n_images = len(top1(root / "onnx.csv"))
    one = next(p for p in sorted(data.rglob("*")) if p.is_file())
    single = {v: timed(predict_argv(models[v], one, v)) for v in VARIANTS}
    return {
        "images": n_images,
        "onnx_first_run_with_export_s": first_onnx,
        "backends": {
            v: {
                "wall_s_rounds": walls[v],
                "wall_s": min(walls[v]),
                "images_per_s": n_images / min(walls[v]),
                "images_per_s_rounds": [n_images / w for w in walls[v]],
                "one_image_wall_s": single[v],
            }
            for v in VARIANTS
        },
        "model_only_ort_batch32": summary(alone["fp32"]),
        "model_only_ort_int8_batch32": summary(alone["int8"]),
    }


def summary(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """One model's rounds: the median is the figure (common.measure's shape)."""
    rates = [m["images_per_s"] for m in measured]
    median = statistics.median(rates)
    return {
        "batch": 32,
        "iterations": measured[0]["iterations"],
        "repeats": len(rates),
        "images_per_s": median,
        "images_per_s_rounds": rates,
        "ms_per_batch": 32_000 / median,
    }


def accuracy(root: Path) -> dict[str, Any]:
    """Top-1 accuracy of each variant's CSV (true class: the parent folder) and agreement."""
    rows = {v: top1(root / f"{v}.csv") for v in VARIANTS}
    paths = sorted(rows["onnx"])
    truth = {p: Path(p).parent.name for p in paths}

    def agree(a: str, b: str) -> float:
        return sum(rows[a][p] == rows[b].get(p) for p in paths) / len(paths)

    differ = sorted(p for p in rows["torch"] if rows["torch"][p] != rows["onnx"].get(p))
    return {
        "agreement": {
            "rows": len(rows["torch"]),
            "top1_differences": len(differ),
            "int8_vs_fp32": agree("int8", "onnx"),
            "onnx_vs_torch": agree("onnx", "torch"),
        },
        "differing_paths": differ[:20],
        "accuracy": {
            v: sum(rows[v].get(p) == truth[p] for p in paths) / len(paths) for v in VARIANTS
        },
    }


def in_process(run: Path, data: Path) -> dict[str, Any]:
    """The pipeline's breakdown of one in-process onnx prediction, and processes vs threads."""
    from landrec.cli.output import print_predictions
    from landrec.data.sniff import detect_all
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import load_classifier
    from landrec.engine.inference.predict import predict_inputs
    from landrec.engine.pipeline import Timings, image_batches

    classifier = load_classifier(run, Backend.ONNX)
    inputs = detect_all([data])
    items = [(d.path, 0) for d in inputs]
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


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """End to end over model-only, round by round (both measured within the same round)."""
    e2e = results["backends"]
    out = {}
    for variant, key in (
        ("onnx", "model_only_ort_batch32"),
        ("int8", "model_only_ort_int8_batch32"),
    ):
        alone = results[key]["images_per_s_rounds"]
        out[variant] = [
            a / b for a, b in zip(e2e[variant]["images_per_s_rounds"], alone, strict=True)
        ]
    return {
        "onnx_e2e_over_model_only": statistics.median(out["onnx"]),
        "onnx_e2e_over_model_only_rounds": out["onnx"],
        "int8_e2e_over_int8_model_only": statistics.median(out["int8"]),
        "int8_e2e_over_int8_model_only_rounds": out["int8"],
    }


NOTES = [
    "e2e: a fresh `landrec predict` process per variant and round, variants in turn; "
    "images_per_s: the fastest round; the onnx export was built by an earlier run "
    "(onnx_first_run_with_export_s), as it is on a run folder's first use",
    "model-only: batch 32 of preprocessed test photos, timed in each round after the processes; "
    "ratios: each round's e2e images/s over the same round's model-only, median of the rounds",
    "int8: `landrec export --int8` with its default recipe for this CPU (int8.command)",
    "accuracy: top-1 of each CSV against the photo's parent folder",
    "decode/preprocess are summed over the decoding workers and overlap the model",
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    repeats = 1 if args.quick else args.repeats
    seconds = 1.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        root = Path(tmp)
        run, data = stage(args.run, args.data, root, args.quick)
        common.read_all(data)
        int8_file = root / "model.int8.onnx"
        export = export_int8(run, args.calibration, int8_file, args.quick)
        results = rounds(run, int8_file, data, repeats, seconds, root)
        results |= {"int8": export} | accuracy(root) | in_process(run, data)
    results |= ratios(results)
    settings = {"run": str(args.run), "data": str(args.data), "quick": args.quick}
    settings |= {"repeats": repeats, "calibration": str(args.calibration)}
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, NOTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
