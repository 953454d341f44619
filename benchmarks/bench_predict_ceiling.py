"""How close `landrec predict` can come to the model alone on this machine: the ceiling that
the measured CPU costs leave, beside the ratio reached, all in one run.

model      the run's model alone on ONNX Runtime (batch 32 of preprocessed photos): images/s,
           and the process's CPU seconds per image while it runs (its threads' work)
decode     decoding and preprocessing each photo on one thread (`preprocess.load_array`, the
           predict pipeline's work per photo): thread CPU ms per photo
start_up   the fastest of five `landrec predict RUN ONE_PHOTO` processes (interpreter, imports,
           model load, one photo): what a folder's run pays once
ceiling    every core busy with nothing but this work (work conservation): a folder's photos
           take at least (model + decode CPU per photo) x photos / cores, and never less than
           the model alone; the process adds its start-up. The in-process bound leaves the
           start-up out.
reached    `predict_refs` in process and `landrec predict RUN FOLDER` as a process, medians of
           three rounds, over the model alone timed in the same rounds

  python benchmarks/bench_predict_ceiling.py --run RUN            # the 1,470 test photos
  python benchmarks/bench_predict_ceiling.py --run RUN --quick    # one round on 96 photos
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

BENCHMARK = "bench_predict_ceiling"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder with its ONNX export")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA / "test")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0, help="model-only timed seconds")
    p.add_argument("--quick", action="store_true", help="one round on 96 photos, 1 s model-only")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def decode_cpu_ms(paths: list[Path], pre: Any) -> float:
    """Thread CPU ms per photo of `load_array` on one thread, the faster of two passes."""
    from landrec.data.preprocess import load_array

    best = float("inf")
    for _ in range(2):
        started = time.thread_time()
        for path in paths:
            load_array(path, pre)
        best = min(best, time.thread_time() - started)
    return 1000 * best / len(paths)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from landrec.data.sniff import detect_all
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import load_classifier
    from landrec.engine.inference.predict import ImageRef, predict_refs
    from landrec.engine.pipeline import image_batches

    rounds, seconds = (1, 1.0) if args.quick else (args.rounds, args.seconds)
    paths = [d.path for d in detect_all([args.data])][: 96 if args.quick else None]
    common.read_all(args.data)
    classifier = load_classifier(args.run, Backend.ONNX)
    batch = next(image_batches([(p, 0) for p in paths[:32]], classifier.preprocessing, 32)).images
    classifier.logits(batch)  # builds the run's cached export if no run did before
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-predict-ceiling-") as tmp:
        folder = Path(tmp) / "photos"  # the photos taken, linked (all of them but in --quick)
        folder.mkdir()
        for i, path in enumerate(paths):
            (folder / f"{i:05d}{path.suffix}").symlink_to(path.resolve())
        decode_ms = decode_cpu_ms(paths, classifier.preprocessing)
        start_up = min(common.predict_wall(args.run, paths[0]) for _ in range(5))
        refs = [ImageRef(p) for p in paths]
        alone, in_process, process = [], [], []
        for _ in range(rounds):
            started = time.perf_counter()
            predict_refs(classifier, refs, progress=False)
            in_process.append(len(paths) / (time.perf_counter() - started))
            process.append(len(paths) / common.predict_wall(args.run, folder))
            alone.append(common.measure(lambda: classifier.logits(batch), 32, seconds, repeats=1))
    rate = statistics.median(a["images_per_s"] for a in alone)
    model_ms = statistics.median(a["cpu_ms_per_image"] for a in alone)
    bound = min(1.0, cores / (rate * (model_ms + decode_ms) / 1000))
    model_s = len(paths) / rate
    results = {
        "photos": len(paths),
        "cores": cores,
        "model_alone": {"images_per_s": rate, "cpu_ms_per_image": model_ms, "rounds": alone},
        "decode_preprocess_cpu_ms_per_photo": decode_ms,
        "start_up_s": start_up,
        "ceiling": {
            "in_process_over_model_only": bound,
            "process_over_model_only": model_s / (model_s / bound + start_up),
        },
        "reached": {
            "in_process_over_model_only": statistics.median(
                r / a["images_per_s"] for r, a in zip(in_process, alone, strict=True)
            ),
            "process_over_model_only": statistics.median(
                r / a["images_per_s"] for r, a in zip(process, alone, strict=True)
            ),
            "in_process_images_per_s_rounds": in_process,
            "process_images_per_s_rounds": process,
        },
    }
    settings = {"run": str(args.run), "data": str(args.data), "rounds": rounds}
    settings |= {"seconds": seconds, "quick": args.quick}
    notes = [
        "ceiling: min(1, cores / (model-only images/s x (model CPU + decode CPU) per photo)), "
        "the process's: photos / rate over (photos / (rate x ceiling) + start_up_s)",
        "model CPU: the whole process's CPU time over the timed calls of the model alone, per "
        "image; decode CPU: one thread's, with nothing else running",
        "reached: each round's rate over the same round's model-only; medians of the rounds",
    ]
    common.write_results(
        BENCHMARK, common.out_dir_for(args), common.machine_info(), settings, results, notes
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
