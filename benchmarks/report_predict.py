"""docs/benchmarks.md sections for bench_predict (`landrec predict` end to end against the model
alone) and bench_startup (how fast the command answers)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from report_common import num, pct2, provenance, table

E2E_TARGET = 0.9  # fp32 end to end over fp32 model-only (issue 17)
INT8_TARGET = 150.0  # int8 end to end, images/s (issue 17: "roughly")
VARIANT_NAMES = {
    "torch": "PyTorch (`--backend torch`, run folder)",
    "onnx": "ONNX Runtime fp32 (`--backend onnx`, run folder's cached export)",
    "int8": "ONNX Runtime int8 (`landrec export --int8` file)",
}
MODEL_ONLY = {"onnx": "model_only_ort_batch32", "int8": "model_only_ort_int8_batch32"}
RATIOS = {"onnx": "onnx_e2e_over_model_only", "int8": "int8_e2e_over_int8_model_only"}


def spread(values: list[float] | None, fmt=num) -> str:
    return ", ".join(fmt(v) for v in values) if values else "–"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def best(entry: dict[str, Any]) -> float | None:
    """The least disturbed round's images/s (a shared machine only ever slows a round down)."""
    return max(entry.get("images_per_s_rounds") or [entry.get("images_per_s") or 0]) or None


def best_ratio(r: dict[str, Any], variant: str) -> float | None:
    alone = r.get(MODEL_ONLY.get(variant, ""))
    return best(r["backends"][variant]) / best(alone) if alone else None


def predict_rows(r: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for variant, e2e in r["backends"].items():
        alone = r.get(MODEL_ONLY.get(variant, ""), {})
        rounds = r.get(RATIOS[variant] + "_rounds") if variant in RATIOS else None
        rows.append(
            [
                VARIANT_NAMES.get(variant, variant),
                f"**{num(best(e2e))}**",
                spread(e2e.get("images_per_s_rounds")),
                num(best(alone)) if alone else "–",
                spread(alone.get("images_per_s_rounds")),
                f"**{num(best_ratio(r, variant), 2)}**" if alone else "–",
                spread(rounds, ratio2),
                num(e2e["one_image_wall_s"], 2),
                pct2(r.get("accuracy", {}).get(variant)),
            ]
        )
    return rows


def ratio2(x: float) -> str:
    return f"{x:.2f}"


def breakdown_rows(b: dict[str, Any]) -> list[list[Any]]:
    stages = [
        ("decode (summed over workers)", "decode_s_summed"),
        ("preprocess (summed over workers)", "preprocess_s_summed"),
        ("model waiting for a batch", "model_wait_s"),
        ("inference (softmax included)", "infer_s"),
        ("CSV output", "output_csv_s"),
        ("whole prediction (wall)", "predict_wall_s"),
    ]
    n = b["images"]
    return [[name, num(b[key], 2), num(1000 * b[key] / n, 2)] for name, key in stages]


def predict_verdicts(r: dict[str, Any]) -> list[str]:
    lines = []
    fp32 = best_ratio(r, "onnx")
    rounds = r.get("onnx_e2e_over_model_only_rounds") or []
    lines.append(
        f"End to end fp32 over model-only fp32, best round over best round: **{num(fp32, 2)}**; "
        f"target >= {E2E_TARGET}: **{met(fp32 >= E2E_TARGET)}**. Round by round (each e2e over "
        f"the model-only timed right after it): {spread(rounds, ratio2)}."
    )
    int8 = r["backends"].get("int8")
    if int8:
        rate = best(int8)
        lines.append(
            f"int8 end to end: **{num(rate)} images/s** (rounds "
            f"{spread(int8.get('images_per_s_rounds'))}); target roughly >= {INT8_TARGET:.0f}: "
            f"**{met(rate >= INT8_TARGET)}**."
        )
    a = r["agreement"]
    same = a["rows"] - a["top1_differences"]
    agree = [f"torch = onnx fp32 on {same:,} of {a['rows']:,} images"]
    if "int8_vs_fp32" in a:
        acc = r["accuracy"]
        points = 100 * (acc["int8"] - acc["onnx"])
        agree.append(f"int8 = fp32 {pct2(a['int8_vs_fp32'])}, int8 accuracy {points:+.2f} points")
    lines.append("Top-1 agreement: " + "; ".join(agree) + ".")
    return [x for line in lines for x in (line, "")]


def predict_section(record: dict[str, Any]) -> list[str]:
    r = record["results"]
    header = [
        "variant",
        "e2e images/s (best round)",
        "e2e each round",
        "model-only b32 images/s (best round)",
        "model-only each round",
        "e2e / model-only (best / best)",
        "same, round by round",
        "one image wall s",
        "top-1 acc",
    ]
    lines = [
        "## Prediction end to end: `landrec predict` vs the model alone",
        *provenance(record),
        f"`landrec predict MODEL {record['settings']['data']} --format csv` on {r['images']:,} "
        f"photos, a fresh process per variant, variants in turn in each of "
        f"{record['settings']['repeats']} rounds; model-only timed in the same rounds. Other jobs "
        "share the CPUs, so rounds spread widely; the best round is the least disturbed.",
        "",
        *table(header, predict_rows(r)),
        "",
        *predict_verdicts(r),
    ]
    if "int8" in r:
        e, first = r["int8"], r["onnx_first_run_with_export_s"]
        command = re.sub(r"/tmp/bench-predict-[^/ ]+", "TMP", e["command"])
        lines += [
            f"int8 file: `{command}` ({num(e['mib'])} MiB, {num(e['export_s'])} s); the first "
            f"fp32 run, which builds the export cache: {num(first)} s.",
            "",
        ]
    b = r["breakdown"]
    lines += [*cpu_ceiling(record), ""]
    lines += [
        f"Where an in-process fp32 prediction's time goes ({b['images']:,} images, "
        f"{num(b['images_per_s'])} images/s):",
        "",
        *table(["stage", "seconds", "ms / image"], breakdown_rows(b)),
        "",
        "Decoding pool (decode + fp32 model, in process): "
        + ", ".join(f"{k} {num(v)} images/s" for k, v in r["pools_images_per_s"].items())
        + ".",
        "",
    ]
    return lines + [f"- {n}" for n in record["notes"]] + [""]


def cpu_ceiling(record: dict[str, Any]) -> list[str]:
    """The ratio at which the cores are full: the model's CPU time per image (all cores busy at
    the best model-only rate) against that plus decode and preprocess per image."""
    r, cpus = record["results"], record["machine"].get("cpus_usable") or 1
    alone, b = r.get("model_only_ort_batch32"), r["breakdown"]
    if not alone:
        return []
    model_ms = 1000 * cpus / best(alone)
    other_ms = 1000 * (b["decode_s_summed"] + b["preprocess_s_summed"]) / b["images"]
    return [
        f"CPU bound: the model alone takes {num(model_ms, 2)} CPU-ms per image ({cpus} cores at "
        f"the best model-only rate), decode + preprocess up to {num(other_ms, 2)} ms more on the "
        f"same cores (the workers' wall time, which overstates their CPU when they wait), so end "
        f"to end can reach about **{num(model_ms / (model_ms + other_ms), 2)}** of model-only "
        "here, however well the two overlap."
    ]


def _argv(argv: list[str]) -> str:
    return (
        shlex.join(["landrec", *argv[1:]]) if Path(argv[0]).name == "landrec" else shlex.join(argv)
    )


def startup_section(record: dict[str, Any]) -> list[str]:
    target = record["target_seconds"]
    rows, first = [], []
    for name, row in record["rows"].items():
        one_image = name.startswith("one image")
        verdict = "–" if one_image else met(row["seconds"] <= target)
        cells = [name, f"`{_argv(row['argv'])}`", num(row["seconds"], 3), verdict, row["exit"]]
        rows.append([*cells, num(row["peak_rss_mb"], 0)])
        if one_image:
            first.append(f"{name} {num(row['seconds'], 2)} s")
    header = ["case", "command", "median wall s", f"<= {target} s", "exit", "peak RSS MB"]
    return [
        "## Startup: how fast `landrec` answers",
        *provenance(record),
        "Each figure: the median of fresh processes of the installed `landrec` (process start "
        "included); peak RSS: the child's, from the kernel (`wait4`).",
        "",
        *table(header, rows),
        "",
        f"Time to the first result (one image, model load included): {'; '.join(first)}.",
        "",
    ]
