"""Regenerate docs/benchmarks.md from docs/benchmarks/*.json: absolute figures, ratios within
each run, and the command and machine behind every table.

    python benchmarks/report.py [--dir docs/benchmarks] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PATH_NAMES = {
    "report": "report's way (eager fp32 NCHW, no_grad, one image at a time)",
    "eager": "eager (inference_mode, channels_last)",
    "eager_bf16": "eager bf16 autocast, channels_last",
    "ort_fp32": "ONNX Runtime fp32",
    "ort_int8": "ONNX Runtime int8 (static)",
}


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}x"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def provenance(record: dict[str, Any]) -> list[str]:
    """The command, machine and date of one benchmark record (and warnings about them)."""
    m = record["machine"]
    flags = ", ".join(m.get("cpu_flags", [])) or "none listed"
    lines = [
        f"Command: `{record['command']}`  ",
        f"Machine: {m['cpu_model']}, {m['cpu_count']} logical CPUs "
        f"({m.get('cpus_usable')} usable), "
        f"flags: {flags}; torch {m['torch']} ({m['torch_threads']} threads), onnxruntime "
        f"{m.get('onnxruntime')}; landrec {m.get('landrec_commit')}  ",
        f"Date: {record['date']}",
    ]
    if record.get("quick"):
        lines.append("\n> **--quick run: checks the script only; these figures measure nothing.**")
    load = m.get("load_average_at_start")
    if load and m.get("cpu_count") and load[0] > 0.5 * m["cpu_count"]:
        lines.append(
            f"\n> Warning: 1-minute load average was {load[0]:.2f} on {m['cpu_count']} CPUs "
            "when this run started: the machine was busy."
        )
    return ["", *lines, ""]


# ---- training --------------------------------------------------------------------------------


def training_section(record: dict[str, Any]) -> list[str]:
    r, s = record["results"], record["settings"]
    head, ft = r["head"], r["finetune"]
    runs = head["runs"]
    base = runs["uncached"]["wall_s"]
    labels = {
        "uncached": "report's loop (no cache, fresh augmentation every epoch)",
        "cached_cold": "cached, cold (cache build included)",
        "cached_warm": "cached, warm cache (only lr changed)",
    }
    rows = [
        [
            labels[name],
            num(run["wall_s"]),
            f"{base / run['wall_s']:.2f}x",
            pct(run["best_val_accuracy"]),
            pct(run["val_accuracy_at_best_val_loss"]),
            num(run["sum_epoch_s"]),
            num(run["outside_epochs_s"]),
            num(run["cache_bytes"] / 2**20),
        ]
        for name, run in runs.items()
    ]
    size = s.get("image_size") or 224
    lines = [
        "## Training: the report's loop vs cached features",
        *provenance(record),
        f"(a) Head training, {s['model']} (weights: {runs['uncached']['weights']}), MLP head, Adam "
        f"lr {s['lr']}, {s['head_epochs']} epochs, augment `report`, {size} px; "
        f"{s['train_per_class']} train + {s['val_per_class']} val images per class.",
        "",
        *table(
            [
                "run",
                "wall s",
                "speed-up",
                "best val acc",
                "val acc at best loss",
                "epochs s",
                "outside epochs s",
                "cache MiB",
            ],
            rows,
        ),
        "",
        f"Cached (cold) vs the report's loop: **{head['speedup_cold_vs_uncached']:.2f}x** faster, "
        f"best validation accuracy {head['best_val_accuracy_diff_points']:+.1f} points; warm "
        f"cache: {head['speedup_warm_vs_uncached']:.2f}x.",
        "",
        f"(b) Stage-2 fine-tuning ({s['finetune_epochs']} epochs after 1 head epoch, augment "
        "`none`, default fine-tune groups): seconds per fine-tune epoch (history.csv).",
        "",
    ]
    rows = [
        [
            name,
            num(e["mean_s"], 2),
            ", ".join(num(x, 2) for x in e["finetune_epoch_s"]),
            num(ft["runs"][name]["wall_s"]),
        ]
        for name, e in ft["per_epoch"].items()
    ]
    lines += table(["run", "s / fine-tune epoch", "each epoch", "wall s"], rows)
    speedup = ft["finetune_epoch_speedup"]
    lines += ["", f"Fine-tune epoch speed-up from the cache: **{speedup:.1f}x**."]
    return [*lines, "", *[f"- {n}" for n in record["notes"]], ""]


# ---- inference and ceiling -----------------------------------------------------------------


def peak_for(path: str, ceiling: dict[str, Any] | None) -> tuple[float | None, str]:
    """The matching measured peak: bf16 for the bf16 path, fp32 for the rest."""
    if ceiling is None:
        return None, ""
    kind = "bf16" if path == "eager_bf16" else "fp32"
    return ceiling["results"]["matmul"][kind]["gflops_peak"], kind


def flops_for(model: str, size: int, ceiling: dict[str, Any] | None) -> float | None:
    entry = (ceiling or {}).get("results", {}).get("models", {}).get(model)
    if entry is None or entry["input_size"] != size:
        return None
    return entry["flops_per_image"]


def inference_rows(model: str, entry: dict[str, Any], ceiling: dict | None) -> list[list[Any]]:
    flops = flops_for(model, entry["input_size"], ceiling)
    rows = []
    for path, timing in entry["paths"].items():
        if "error" in timing:
            rows.append([PATH_NAMES[path], "–", timing["error"], *["–"] * 6])
            continue
        mem = timing["memory"]
        peak_rss = mem.get("vm_hwm_mib") or mem["ru_maxrss_mib"]
        peak, kind = peak_for(path, ceiling)
        for batch, m in timing["batches"].items():
            gflops = m["images_per_s"] * flops / 1e9 if flops else None
            fraction = gflops / peak if gflops and peak else None
            rows.append(
                [
                    PATH_NAMES[path],
                    batch,
                    num(m["images_per_s"]),
                    num(m["ms_per_batch"], 2),
                    ratio(entry["speedup_vs_report"].get(path, {}).get(batch)),
                    num(peak_rss, 0),
                    num(peak_rss - timing["rss_after_imports_mib"], 0),
                    num(gflops),
                    f"{pct(fraction)} {kind}" if fraction else "–",
                ]
            )
    return rows


def inference_section(record: dict[str, Any], ceiling: dict[str, Any] | None) -> list[str]:
    models = record["results"]["models"]
    lines = ["## Inference: backends vs the report's way", *provenance(record)]
    if ceiling is None:
        lines += ["No bench_ceiling.json: fractions of peak are left out.", ""]
    elif _machine_key(ceiling) != _machine_key(record):
        lines += ["> Warning: bench_ceiling.json comes from a different machine or setting.", ""]
    header = [
        "path",
        "batch",
        "images/s",
        "ms / batch",
        "vs report",
        "peak RSS MiB",
        "above imports MiB",
        "GFLOP/s",
        "of peak",
    ]
    for model, entry in models.items():
        lines += [
            f"### {model} ({entry['weights']}; head {entry['head']}; {entry['input_size']} px)",
            "",
            f"ONNX fp32 {num(entry['onnx_fp32_mib'])} MiB (export {num(entry['export_fp32_s'])} s),"
            f" int8 {num(entry['onnx_int8_mib'])} MiB (export + calibration on "
            f"{entry['calibration_images']} train images {num(entry['export_int8_s'])} s).",
            "",
            *table(header, inference_rows(model, entry, ceiling)),
            "",
        ]
    lines += agreement_table(models)
    target = record["results"]["target"]
    if target.get("met") is not None:
        verdict = "met" if target["met"] else "NOT met"
        lines += [
            f"Target — {target['target']}: **{verdict}** (best: {target['best']}, "
            f"{target['ort_speedups'][target['best']]:.1f}x; at batch 1: "
            f"{'met' if target['met_at_batch_1'] else 'not met'}).",
            "",
        ]
    notes = [
        *record["notes"],
        "of peak: images/s x FLOPs/image / the measured matmul peak of "
        "the same precision (int8 against the fp32 peak: no int8 peak is measured)",
    ]
    return lines + [f"- {n}" for n in notes] + [""]


def agreement_table(models: dict[str, Any]) -> list[str]:
    rows = []
    for model, entry in models.items():
        a = entry.get("agreement", {})
        if "int8_vs_fp32" not in a:
            rows.append([model, "–", a.get("error", "missing"), "–", "–"])
            continue
        acc = a["accuracy"]
        rows.append(
            [
                model,
                a["images"],
                pct(a["int8_vs_fp32"]),
                pct(a["ort_fp32_vs_torch"]),
                " / ".join(pct(acc[k]) for k in ("torch", "ort_fp32", "ort_int8")),
            ]
        )
    header = ["model", "val images", "int8 = fp32 top-1", "ORT fp32 = torch", "acc torch/fp32/int8"]
    return ["Top-1 agreement through `predict_files`:", "", *table(header, rows), ""]


def ceiling_section(record: dict[str, Any]) -> list[str]:
    r = record["results"]
    rows = [
        [k, f"{v['size']}x{v['size']}", num(v["gflops_peak"]), num(v["gflops_median"])]
        for k, v in r["matmul"].items()
    ]
    models = [
        [k, v["input_size"], num(v["gflops_per_image"], 3), f"{v['parameters']:,}"]
        for k, v in r["models"].items()
    ]
    return [
        "## This CPU's ceiling",
        *provenance(record),
        *table(["dtype", "matmul", "peak GFLOP/s", "median GFLOP/s"], rows),
        "",
        *table(["model", "input px", "GFLOPs / image", "parameters"], models),
        "",
        *[f"- {n}" for n in record["notes"]],
        "",
    ]


def malloc_section(record: dict[str, Any]) -> list[str]:
    r, settings = record["results"], record["settings"]
    rows = [
        [
            model,
            name,
            num(v["images_per_s"]),
            num(v["minor_faults_per_batch"], 0),
            pct(v["system_s_share"]),
            ", ".join(num(x["images_per_s"]) for x in v["rounds"]),
        ]
        for model, entry in r["models"].items()
        for name, v in entry["settings"].items()
    ]
    speedups = ", ".join(f"{m} **{ratio(e['speedup'])}**" for m, e in r["models"].items())
    return [
        "## Memory allocator: glibc's default vs landrec's tuning",
        *provenance(record),
        f"Frozen prefix in bf16 autocast, batch {settings['batch']}, "
        f"{settings['image_size']} px; {settings['rounds']} alternating rounds per setting.",
        "",
        *table(
            [
                "model",
                "allocator",
                "images/s (median)",
                "minor faults / batch",
                "system time share",
                "rounds",
            ],
            rows,
        ),
        "",
        f"Tuned vs default, same process: {speedups}.",
        "",
        *[f"- {n}" for n in record["notes"]],
        "",
    ]


def _machine_key(record: dict[str, Any]) -> tuple:
    m = record["machine"]
    return (m["cpu_model"], m["cpu_count"], m["torch_threads"], m["torch"])


def render(records: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/report.py` from `docs/benchmarks/*.json`; every ratio "
        "compares figures measured within one run of one command.",
        "",
    ]
    if "bench_training" in records:
        lines += training_section(records["bench_training"])
    if "bench_inference" in records:
        lines += inference_section(records["bench_inference"], records.get("bench_ceiling"))
    if "bench_ceiling" in records:
        lines += ceiling_section(records["bench_ceiling"])
    if "bench_malloc" in records:
        lines += malloc_section(records["bench_malloc"])
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", type=Path, default=REPO / "docs/benchmarks")
    p.add_argument("--out", type=Path, default=REPO / "docs/benchmarks.md")
    args = p.parse_args(argv)
    records = {f.stem: json.loads(f.read_text()) for f in sorted(args.dir.glob("*.json"))}
    if not records:
        print(f"no benchmark results in {args.dir}", file=sys.stderr)
        return 1
    args.out.write_text(render(records))
    print(f"wrote {args.out} from {', '.join(records)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
