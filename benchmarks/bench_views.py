"""One model for ground photos and overhead views (issue 29): accuracy per domain, the view, and
what the calibrated "unknown" does, for one or more runs side by side.

ground_test     ../shared/data/landscapes/test: top-1 (the model's "unknown" off), per class
overhead_test   ../shared/data/aerial/test: the same
view            on both tests: the share whose predicted view is the folder's (ground / overhead);
                None for a model without a view output
unknown         at the run's calibrated threshold: coverage and accuracy of the accepted images
                on each test; the rate said unknown of each out-of-class folder (whole, and
                the check half that calibration did not see: `calibrate.halves`), and of 60
                generated non-photos (colour bars, charts, gradients, screenshots, cartoons)
out_of_source   folders laid out as FOLDER/<class>/ (other sources than the training sets, see
                docs/robustness.md): top-1 per class
sensor_shifts   the overhead test under changes another sensor brings (a proxy, not another
                sensor): resolution halved (and back), doubled and sharpened, colour (saturation,
                hue, white balance), haze, blur, noise, JPEG; top-1 each

  python benchmarks/bench_views.py --run runs/default [--run runs/other ...] \\
      [--out-of-source /work/outofsource] [--out-of-source-aerial /work/outofsource_aerial]
  python benchmarks/bench_views.py --run RUN --quick        # 20 images a class, no shifts
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

import common

BENCHMARK = "bench_views"
SHARED = common.DEFAULT_DATA.parent
GROUND, OVERHEAD = SHARED / "landscapes", SHARED / "aerial"
OUT_OF_CLASS = (SHARED / "out-of-class", SHARED / "aerial-out-of-class")
NOTES = [
    "top-1 accuracies are with the model's unknown rule off (every image counts)",
    "unknown: the run's calibrated threshold (checkpoint), temperature applied",
    "sensor shifts are made here from the overhead test photos, seeded per photo: a proxy for "
    "other sensors, not a measurement on one",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, action="append", required=True, help="run folder")
    p.add_argument("--out-of-source", type=Path, default=None, help="ground: FOLDER/<class>/")
    p.add_argument("--out-of-source-aerial", type=Path, default=None, help="overhead: same")
    p.add_argument(
        "--out-of-source-ooc",
        type=Path,
        default=None,
        help="overhead, none of the classes: DIR/<name>/",
    )
    p.add_argument("--no-shifts", action="store_true", help="skip the sensor shifts")
    p.add_argument("--quick", action="store_true", help="20 images a class, no shifts")
    p.add_argument("--name", default=BENCHMARK, help="the record's file name (no .json)")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def labelled(folder: Path, per_class: int | None) -> list[tuple[Path, str]]:
    """(image, class folder name) of FOLDER/<class>/, `per_class` of each (evenly spaced)."""
    out = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(f for f in class_dir.rglob("*") if f.suffix.lower() in common.IMAGE_SUFFIXES)
        if per_class is not None and len(files) > per_class:
            files = [files[i * len(files) // per_class] for i in range(per_class)]
        out.extend((f, class_dir.name.lower()) for f in files)
    return out


def _shift_ops() -> dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]]:
    def half_res(im: Image.Image, _: np.random.Generator) -> Image.Image:
        w, h = im.size
        return im.resize((w // 2, h // 2), Image.Resampling.BOX).resize((w, h))

    def sharper_2x(im: Image.Image, _: np.random.Generator) -> Image.Image:
        big = im.resize((im.width * 2, im.height * 2), Image.Resampling.LANCZOS)
        return big.filter(ImageFilter.UnsharpMask(radius=2, percent=120, threshold=2))

    def desaturated(im: Image.Image, _: np.random.Generator) -> Image.Image:
        return ImageEnhance.Color(im).enhance(0.5)

    def saturated(im: Image.Image, _: np.random.Generator) -> Image.Image:
        return ImageEnhance.Color(im).enhance(1.6)

    def warm_balance(im: Image.Image, _: np.random.Generator) -> Image.Image:
        a = np.asarray(im, dtype=np.float32) * np.array([1.12, 1.0, 0.85], dtype=np.float32)
        return Image.fromarray(a.clip(0, 255).astype(np.uint8))

    def haze(im: Image.Image, _: np.random.Generator) -> Image.Image:
        a = np.asarray(im, dtype=np.float32)
        return Image.fromarray((0.7 * a + 0.3 * 200.0).clip(0, 255).astype(np.uint8))

    def blur(im: Image.Image, _: np.random.Generator) -> Image.Image:
        return im.filter(ImageFilter.GaussianBlur(1.5))

    def noise(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        a = np.asarray(im, dtype=np.float32) + rng.normal(0, 12.0, (im.height, im.width, 3))
        return Image.fromarray(a.clip(0, 255).astype(np.uint8))

    return {
        "half resolution": half_res,
        "2x, sharpened": sharper_2x,
        "saturation 0.5": desaturated,
        "saturation 1.6": saturated,
        "warm white balance": warm_balance,
        "haze 30%": haze,
        "blur sigma 1.5": blur,
        "noise sigma 12": noise,
    }


def non_photos(root: Path, each: int = 12) -> list[Path]:
    """Generated pictures of no landscape, as an archive holds them beside its photos: SMPTE-like
    colour bars, test-chart checkerboards, gradients, "screenshots" (text lines on a light
    background) and "cartoons" (flat shapes on a flat colour); `each` of every kind, seeded."""
    from PIL import ImageDraw

    out = []
    for k in range(each):
        rng = np.random.default_rng(k)
        size = (int(rng.integers(200, 400)), int(rng.integers(150, 300)))
        bars = Image.new("RGB", size)
        colours = [
            (192, 192, 192),
            (192, 192, 0),
            (0, 192, 192),
            (0, 192, 0),
            (192, 0, 192),
            (192, 0, 0),
            (0, 0, 192),
        ]
        d = ImageDraw.Draw(bars)
        for i, c in enumerate(colours):
            d.rectangle([i * size[0] // 7, 0, (i + 1) * size[0] // 7, size[1]], fill=c)
        cell = int(rng.integers(8, 40))
        y, x = np.mgrid[: size[1], : size[0]]
        board = Image.fromarray((((y // cell + x // cell) % 2) * 255).astype(np.uint8)).convert(
            "RGB"
        )
        a, b = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
        t = (x / size[0])[..., None]
        gradient = Image.fromarray((a * (1 - t) + b * t).astype(np.uint8))
        screen = Image.new("RGB", size, (245, 245, 245))
        d = ImageDraw.Draw(screen)
        for line in range(2, size[1] // 14):
            width = int(rng.integers(size[0] // 4, size[0] - 10))
            d.text((8, line * 14), "x" * (width // 7), fill=(20, 20, 20))
        cartoon = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
        d = ImageDraw.Draw(cartoon)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, size[0] - 20)), int(rng.integers(0, size[1] - 20))
            box = [x0, y0, x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))]
            d.ellipse(box, fill=tuple(int(v) for v in rng.integers(0, 255, 3)), outline=(0, 0, 0))
        for name, picture in (
            ("bars", bars),
            ("chart", board),
            ("gradient", gradient),
            ("screenshot", screen),
            ("cartoon", cartoon),
        ):
            path = root / "non_photos" / f"{name}_{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            picture.save(path)
            out.append(path)
    return out


def shifted(items: list[tuple[Path, str]], root: Path) -> dict[str, list[tuple[Path, str]]]:
    """Each shift of each image written as PNG under root/<shift>/, seeded per photo."""
    out: dict[str, list[tuple[Path, str]]] = {}
    for k, (name, op) in enumerate(_shift_ops().items()):
        rows = []
        for i, (path, cls) in enumerate(items):
            rng = np.random.default_rng(zlib.crc32(f"{name}:{path.name}".encode()))
            with Image.open(path) as im:
                target = root / str(k) / cls / f"{i}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                op(im.convert("RGB"), rng).save(target)
            rows.append((target, cls))
        out[name] = rows
    return out


class Scorer:
    """One run's predictions (ONNX Runtime, unknown off) and its calibrated threshold."""

    def __init__(self, run: Path) -> None:
        from landrec import api
        from landrec.engine.checkpoint import read_meta, resolve_checkpoint

        self.run = run
        meta = read_meta(resolve_checkpoint(run))
        self.threshold, self.classes, self.views = meta.threshold, meta.classes, meta.model.views
        self.model = api.Predictor(run)  # loaded once: every set below runs on it
        self.seen: dict[Path, Any] = {}  # each image predicted once (sets overlap: halves)
        self.seconds = 0.0

    def predict(self, paths: list[Path]) -> list[Any]:
        """Each path's Prediction (top-1 and its probability; `best_guess` is read, so the
        unknown rule does not matter), computing only those not seen yet."""
        todo = [p for p in dict.fromkeys(paths) if p not in self.seen]
        started = time.perf_counter()
        self.seen.update(zip(todo, self.model.images(todo, top_k=1), strict=True))
        self.seconds += time.perf_counter() - started
        return [self.seen[p] for p in paths]

    def accuracy(self, items: list[tuple[Path, str]], view: str | None = None) -> dict:
        preds = self.predict([p for p, _ in items])
        ok = [p.best_guess == cls for p, (_, cls) in zip(preds, items, strict=True)]
        per_class: dict[str, list[bool]] = defaultdict(list)
        for good, (_, cls) in zip(ok, items, strict=True):
            per_class[cls].append(good)
        row: dict[str, Any] = {
            "n": len(items),
            "accuracy": float(np.mean(ok)) if ok else None,
            "per_class": {c: float(np.mean(v)) for c, v in sorted(per_class.items())},
            "confusions": dict(
                Counter(
                    f"{cls}->{p.best_guess}"
                    for p, (_, cls) in zip(preds, items, strict=True)
                    if p.best_guess != cls
                ).most_common(5)
            ),
        }
        if view is not None and self.views:
            row["view_accuracy"] = float(np.mean([p.view == view for p in preds]))
        if self.threshold is not None:
            accepted = [p.confidence >= self.threshold for p in preds]
            kept = [g for g, a in zip(ok, accepted, strict=True) if a]
            row["coverage"] = float(np.mean(accepted)) if accepted else None
            row["accuracy_accepted"] = float(np.mean(kept)) if kept else None
        return row

    def rejection(self, paths: list[Path]) -> dict:
        if self.threshold is None or not paths:
            return {"n": len(paths), "rejection_rate": None}
        preds = self.predict(paths)
        rejected = [p.confidence < self.threshold for p in preds]
        taken = Counter(p.best_guess for p, r in zip(preds, rejected, strict=True) if not r)
        return {
            "n": len(paths),
            "rejection_rate": float(np.mean(rejected)),
            "accepted_as": dict(taken.most_common()),
        }


def score_run(
    run: Path, args: argparse.Namespace, shifts: dict | None, generated: list[Path]
) -> dict:
    from landrec.engine.evaluation.calibrate import halves

    per_class = 20 if args.quick else None
    s = Scorer(run)
    out: dict[str, Any] = {
        "run": str(run),
        "views": list(s.views),
        "threshold": s.threshold,
        "ground_test": s.accuracy(labelled(GROUND / "test", per_class), "ground"),
        "overhead_test": s.accuracy(labelled(OVERHEAD / "test", per_class), "overhead"),
    }
    out["unknown"] = {}
    for folder in OUT_OF_CLASS:
        whole = [p for p, _ in labelled(folder, per_class)]
        _, check = halves(folder)
        out["unknown"][folder.name] = {
            "whole": s.rejection(whole),
            "check_half": s.rejection(check if not args.quick else check[: len(whole) // 2]),
        }
    for key, folder in (("ground", args.out_of_source), ("overhead", args.out_of_source_aerial)):
        if folder is not None and folder.is_dir():
            out[f"out_of_source_{key}"] = s.accuracy(labelled(folder, per_class), key)
    out["unknown"]["generated_non_photos"] = s.rejection(generated)
    if args.out_of_source_ooc is not None and args.out_of_source_ooc.is_dir():
        folder = args.out_of_source_ooc
        rows = labelled(folder, per_class)
        whole = s.rejection([p for p, _ in rows])
        by_name = {
            name: s.rejection([p for p, n in rows if n == name])
            for name in sorted({n for _, n in rows})
        }
        out["unknown"]["out_of_source_overhead"] = {"whole": whole, "per_folder": by_name}
    if shifts:
        out["sensor_shifts"] = {name: s.accuracy(rows, "overhead") for name, rows in shifts.items()}
        accs = [r["accuracy"] for r in out["sensor_shifts"].values()]
        out["sensor_shifts_mean"] = float(np.mean(accs))
    out["predict_seconds"] = round(s.seconds, 1)
    return out


def table(results: list[dict]) -> str:
    """A Markdown table of the headline figures, one column per run."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.2f}%"

    rows = [
        ("ground test top-1", lambda r: pct(r["ground_test"]["accuracy"])),
        ("overhead test top-1", lambda r: pct(r["overhead_test"]["accuracy"])),
        ("view right, ground test", lambda r: pct(r["ground_test"].get("view_accuracy"))),
        ("view right, overhead test", lambda r: pct(r["overhead_test"].get("view_accuracy"))),
        ("ground test accepted (coverage)", lambda r: pct(r["ground_test"].get("coverage"))),
        ("overhead test accepted", lambda r: pct(r["overhead_test"].get("coverage"))),
    ]
    for name in ("out-of-class", "aerial-out-of-class"):
        rows.append(
            (
                f"{name} said unknown (check half)",
                lambda r, n=name: pct(r["unknown"][n]["check_half"]["rejection_rate"]),
            )
        )
    rows += [
        (
            "generated non-photos (bars, charts, screenshots, cartoons) said unknown",
            lambda r: pct(r["unknown"].get("generated_non_photos", {}).get("rejection_rate")),
        ),
        (
            "out-of-source overhead, none of the classes, said unknown",
            lambda r: pct(
                r["unknown"]
                .get("out_of_source_overhead", {})
                .get("whole", {})
                .get("rejection_rate")
            ),
        ),
        (
            "out-of-source ground top-1",
            lambda r: pct(r.get("out_of_source_ground", {}).get("accuracy")),
        ),
        (
            "out-of-source overhead top-1",
            lambda r: pct(r.get("out_of_source_overhead", {}).get("accuracy")),
        ),
        ("overhead sensor shifts, mean top-1", lambda r: pct(r.get("sensor_shifts_mean"))),
    ]
    head = "| | " + " | ".join(Path(r["run"]).name for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    lines += ["| " + label + " | " + " | ".join(f(r) for r in results) + " |" for label, f in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-views-") as tmp:
        shifts = None
        if not (args.quick or args.no_shifts):
            shifts = shifted(labelled(OVERHEAD / "test", 60), Path(tmp))
        generated = non_photos(Path(tmp))
        results = [score_run(run, args, shifts, generated) for run in args.run]
    settings = {
        "runs": [str(r) for r in args.run],
        "quick": args.quick,
        "out_of_source": str(args.out_of_source) if args.out_of_source else None,
        "out_of_source_aerial": str(args.out_of_source_aerial)
        if args.out_of_source_aerial
        else None,
        "shifts_per_class": None if args.quick or args.no_shifts else 60,
    }
    out_dir = common.out_dir_for(args)
    common.write_results(args.name, out_dir, machine, settings, {"runs": results}, NOTES)
    print(table(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
