"""docs/benchmarks.md sections for bench_inference, bench_ceiling and bench_malloc."""

from __future__ import annotations

from typing import Any

from report_common import machine_key, num, pct, provenance, ratio, table

PATH_NAMES = {
    "report": "report's way (eager fp32 NCHW, no_grad, one image at a time)",
    "eager": "eager (inference_mode, channels_last)",
    "eager_bf16": "eager bf16 autocast, channels_last",
    "ort_fp32": "ONNX Runtime fp32",
    "ort_int8": "ONNX Runtime int8 (static)",
}


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
    elif machine_key(ceiling) != machine_key(record):
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
