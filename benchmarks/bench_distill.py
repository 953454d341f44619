"""Knowledge distillation: what the teachers tell a student, and what the students score.

Teacher sets: each run's full class distribution of every photo of the train and test splits
comes from the public API (`landrec.api.predict(run, [split], top_k=<classes>, unknown=False)`);
the set's mean distribution (what `landrec train --teacher A,B` mixes into the targets: per
photo, the teachers trained without it where there are any, else all of them) is scored on
each split at each temperature given: accuracy, mean top-1 probability, mean probability of
the folder's class, the share of photos where that probability is below 0.5, and mean entropy
(nats). On the train split, teachers trained on it say little more than the labels;
out-of-fold teachers and the test split show what they say about photos they have not seen.

Students (any run, the baseline included): accuracy and macro F1 on the test split, raw and
with the reviewed labels (docs/audit_test_relabels.csv), images/s end to end through
api.predict, training seconds, and the distillation options of the run's config.yaml.

Out-of-fold teachers: `--write-folds DIR --folds K` writes K exclusion lists of the train split
(stratified by class, seeded), DIR/fold<i>.txt with paths relative to the data root; a teacher
trained with `--exclude DIR/fold<i>.txt` speaks for fold i alone in `landrec train --teacher`.

  python benchmarks/bench_distill.py --write-folds /work/runs/folds --folds 2
  python benchmarks/bench_distill.py --teachers in_fold=runs/mobilenet_v2,/work/runs/lite1 \
      --temperature 1 --temperature 3 \
      --student default=runs/mobilenet_v2 --student kd=/work/runs/kd \
      --train-json kd=/work/runs/kd.json --wall kd=592
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import common
from bench_ensemble import (
    RELABELS,
    class_names,
    named_paths,
    predict_run,
    reviewed_labels,
    scores,
    train_seconds,
)
from landrec.engine.runs import RunFolder
from landrec.engine.training.distill import held_out

BENCHMARK = "bench_distill"
NOTES = [
    "teachers: each teacher's probabilities softened as softmax(log p / T) for temperature T (the "
    "same as softmax(logits / T) for an uncalibrated run), then averaged per photo over the "
    "teachers that held it out, else all.",
    "true_prob_below_half: the share of photos whose folder class gets less than 0.5.",
    "students: raw labels are the folder names; reviewed: docs/audit_test_relabels.csv applied.",
    "images_per_s: test photos over the wall seconds of one api.predict call (ONNX Runtime, "
    "batch 32, after a one-photo warm-up call).",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--teachers",
        action="append",
        default=[],
        help="SET=RUN[,RUN...], a teacher set, repeatable",
    )
    p.add_argument("--temperature", action="append", type=float, default=[], help="repeatable")
    p.add_argument("--student", action="append", default=[], help="NAME=RUN_FOLDER, repeatable")
    p.add_argument("--train-json", action="append", default=[], help="NAME=train --json output")
    p.add_argument("--wall", action="append", default=[], help="NAME=SECONDS of the train command")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--relabels", type=Path, default=RELABELS)
    p.add_argument("--quick", action="store_true", help="test split only, no train split")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--write-folds", type=Path, metavar="DIR", help="write fold lists and stop")
    p.add_argument("--folds", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def write_folds(data: Path, out: Path, folds: int, seed: int) -> list[Path]:
    """`folds` lists that split each class of data/train evenly at random; their paths."""
    rng = np.random.default_rng(seed)
    lists: list[list[str]] = [[] for _ in range(folds)]
    for folder in sorted(p for p in (data / "train").iterdir() if p.is_dir()):
        files = sorted(str(f.relative_to(data)) for f in folder.iterdir() if f.is_file())
        for i, index in enumerate(rng.permutation(len(files))):
            lists[i % folds].append(files[index])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, names in enumerate(lists):
        path = out / f"fold{i}.txt"
        path.write_text("\n".join(sorted(names)) + "\n")
        written.append(path)
    return written


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T), row by row."""
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def teacher_stats(probs: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """What a (mean) teacher distribution says about photos of known class `truth`."""
    true_p = probs[np.arange(len(truth)), truth]
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    return {
        "images": len(truth),
        "accuracy": float((probs.argmax(axis=1) == truth).mean()),
        "mean_top1_prob": float(probs.max(axis=1).mean()),
        "mean_true_prob": float(true_p.mean()),
        "true_prob_below_half": float((true_p < 0.5).mean()),
        "mean_entropy_nats": float(entropy.mean()),
    }


def mean_teacher(probs: np.ndarray, held: np.ndarray, temperature: float) -> np.ndarray:
    """`probs` (teachers, photos, classes), `held` (teachers, photos): each teacher softened to
    `temperature`, then per photo the mean over the teachers that held it out, or over all when
    none did: what `landrec train --teacher` mixes into the targets."""
    soft = soften(probs.reshape(-1, probs.shape[-1]), temperature).reshape(probs.shape)
    uses = np.where(held.any(axis=0), held, True)
    return (soft * uses[..., None]).sum(axis=0) / uses.sum(axis=0)[:, None]


def distill_options(run: Path) -> dict[str, Any]:
    config = RunFolder(run).config
    saved = yaml.safe_load(config.read_text()) if config.is_file() else {}
    keys = ("model", "augment", "exclude", "teacher", "distill_alpha", "distill_temperature")
    return {k: saved.get(k) for k in keys}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.write_folds is not None:
        for path in write_folds(args.data, args.write_folds, args.folds, args.seed):
            print(path)
        return
    teachers = {
        name: [Path(r) for r in str(runs).split(",")]
        for name, runs in named_paths(args.teachers).items()
    }
    students = named_paths(args.student)
    train_jsons = named_paths(args.train_json)
    walls = {k: float(str(v)) for k, v in named_paths(args.wall).items()}
    temperatures = args.temperature or [1.0]
    machine = common.machine_info()
    classes = class_names(args.data / "test")
    splits = ["test"] if args.quick else ["train", "test"]

    teacher_results: dict[str, Any] = {}
    for set_name, runs in teachers.items():
        root = os.path.abspath(args.data)
        held = [{os.path.relpath(p, root) for p in held_out(run, args.data)} for run in runs]
        teacher_results[set_name] = {"runs": [str(r) for r in runs]}
        for split in splits:
            per_run = [predict_run(run, args.data / split, classes, 1)["probs"] for run in runs]
            keys = sorted(set.intersection(*(set(p) for p in per_run)))
            probs = np.stack([np.stack([p[k] for k in keys]) for p in per_run])
            mask = np.array([[k in h for k in keys] for h in held])
            truth = np.array([classes.index(Path(k).parent.name) for k in keys])
            teacher_results[set_name][split] = {
                f"T={t:g}": teacher_stats(mean_teacher(probs, mask, t), truth) for t in temperatures
            }

    relabelled, dropped = reviewed_labels(args.relabels)
    student_results: dict[str, Any] = {}
    for name, run in students.items():
        print(f"predicting with {name} ({run}) ...", flush=True)
        p = predict_run(run, args.data / "test", classes, 1)
        keys = sorted(p["probs"])
        raw = {k: Path(k).parent.name for k in keys}
        reviewed = {k: relabelled.get(k, v) for k, v in raw.items() if k not in dropped}
        matrix = np.stack([p["probs"][k] for k in keys])
        student_results[name] = {
            "run": str(run),
            **distill_options(run),
            **scores(matrix, keys, classes, {"raw": raw, "reviewed": reviewed}),
            **train_seconds(run, train_jsons.get(name), walls.get(name)),
            "images_per_s": len(keys) / p["wall_s"],
            "prediction_errors": p["errors"],
        }

    settings = {
        "teachers": {k: [str(r) for r in v] for k, v in teachers.items()},
        "temperatures": temperatures,
        "data": str(args.data),
        "quick": args.quick,
    }
    results = {"classes": classes, "teachers": teacher_results, "students": student_results}
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, NOTES)


if __name__ == "__main__":
    main()
