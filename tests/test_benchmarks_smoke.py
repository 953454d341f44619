"""Each benchmark script runs end to end in --quick mode and report.py renders its JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from landrec.models.registry import get_spec
from landrec.models.weights import offline_file

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, *args: str | Path) -> None:
    subprocess.run([sys.executable, str(BENCHMARKS / script), *map(str, args)], check=True)


@pytest.mark.slow
@pytest.mark.real_data
def test_quick_benchmarks_write_json_and_report(real_data: Path, tmp_path: Path) -> None:
    if offline_file(get_spec("mobilenet_v2")) is None:
        pytest.skip("mobilenet_v2 offline weights are not installed (pip extra 'weights')")
    out = ["--quick", "--data", real_data, "--out-dir", tmp_path]
    run("bench_training.py", *out)
    run("bench_inference.py", *out, "--paths", "report", "ort_int8")  # one process per path
    run("bench_ceiling.py", "--quick", "--out-dir", tmp_path)
    run("bench_malloc.py", "--quick", "--out-dir", tmp_path)
    records = {f.stem: json.loads(f.read_text()) for f in tmp_path.glob("*.json")}
    assert set(records) == {"bench_training", "bench_inference", "bench_ceiling", "bench_malloc"}
    for record in records.values():
        assert record["quick"] and record["command"].startswith("python ")
        assert record["machine"]["cpu_count"] >= 1 and record["machine"]["torch"]

    head = records["bench_training"]["results"]["head"]["runs"]
    assert head["cached_cold"]["cache_bytes"] > 0 and head["uncached"]["cache_bytes"] == 0
    assert all(r["wall_s"] > 0 and r["epochs"] == 2 for r in head.values())

    model = records["bench_inference"]["results"]["models"]["mobilenet_v2"]
    assert set(model["paths"]) == {"report", "ort_int8"}
    assert model["speedup_vs_report"]["report"]["1"] == 1.0
    assert model["paths"]["ort_int8"]["batches"]["32"]["images_per_s"] > 0
    assert model["agreement"]["images"] == 16 and 0 <= model["agreement"]["int8_vs_fp32"] <= 1

    malloc = records["bench_malloc"]["results"]["models"]["resnet18"]
    assert set(malloc["settings"]) == {"glibc default", "landrec tuned"} and malloc["speedup"] > 0

    ceiling = records["bench_ceiling"]["results"]
    assert ceiling["matmul"]["fp32"]["gflops_peak"] > 0
    # MobileNetV2 at 224 px: 300 M multiply-adds = 0.60 GFLOPs (torchvision's documented figure)
    assert ceiling["models"]["mobilenet_v2"]["gflops_per_image"] == pytest.approx(0.60, abs=0.02)

    md = tmp_path / "benchmarks.md"
    run("report.py", "--dir", tmp_path, "--out", md)
    text = md.read_text()
    assert "## Training" in text and "## Inference" in text and "## This CPU's ceiling" in text
    assert "--quick run" in text and "bench_inference.py --quick" in text


@pytest.mark.slow
@pytest.mark.real_data
def test_quick_predict_and_startup_report(
    real_data: Path, red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    calibration = ["--calibration", real_data / "train"]
    run("bench_predict.py", "--run", red_blue_checkpoint, "--data", real_data / "test", "--quick",
        *calibration, "--out-dir", tmp_path)  # fmt: skip
    run("bench_startup.py", "--run", red_blue_checkpoint, "--data", real_data, "--repeats", "1",
        "--out-dir", tmp_path)  # fmt: skip
    predict = json.loads((tmp_path / "bench_predict.json").read_text())["results"]
    assert predict["images"] == 96 and set(predict["backends"]) == {"torch", "onnx", "int8"}
    assert predict["int8"]["mib"] > 0 and predict["model_only_ort_int8_batch32"]["images_per_s"] > 0
    assert predict["agreement"]["top1_differences"] == 0  # torch and ONNX fp32 agree
    assert 0 <= predict["accuracy"]["int8"] <= 1 and 0 <= predict["agreement"]["int8_vs_fp32"] <= 1
    startup = json.loads((tmp_path / "bench_startup.json").read_text())
    assert startup["rows"]["landrec --help"]["exit"] == 0 and startup["date"]

    md = tmp_path / "benchmarks.md"
    run("report.py", "--dir", tmp_path, "--out", md)
    text = md.read_text()
    assert "## Prediction end to end" in text and "## Startup" in text
    assert "int8 end to end:" in text and "bench_predict.py --run" in text


@pytest.mark.slow
@pytest.mark.real_data
def test_bench_revisions_runs_one_benchmark_on_two_trees(
    real_data: Path, red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    """HEAD against the work tree: both sides run, each figure gets both medians and a ratio."""
    figures = ["rows.landrec --help.seconds", "rows.landrec --help.exit"]
    run("bench_revisions.py", "--base", "HEAD", "--rounds", "1", "--out-dir", tmp_path,
        *(a for f in figures for a in ("--figure", f)), "--", "bench_startup.py", "--run",
        red_blue_checkpoint, "--data", real_data, "--repeats", "1")  # fmt: skip
    record = json.loads((tmp_path / "bench_revisions_bench_startup.json").read_text())
    seconds = record["results"][figures[0]]
    assert seconds["base"] > 0 and seconds["work"] > 0
    assert seconds["work_over_base"] == pytest.approx(seconds["work"] / seconds["base"])
    assert record["results"][figures[1]]["runs"] == {"base": [0.0], "work": [0.0]}


@pytest.mark.slow
@pytest.mark.real_data
def test_predict_trees_times_each_tree_and_compares_their_outputs(
    real_data: Path, red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for photo in sorted((real_data / "test").rglob("*.jpg"))[:12]:
        (photos / photo.name).symlink_to(photo)
    repo, copy = BENCHMARKS.parent, tmp_path / "copy"
    shutil.copytree(repo / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    run("bench_predict_trees.py", "--run", red_blue_checkpoint, "--trees", f"{repo},{copy}",
        "--data", photos, "--quick", "--out-dir", tmp_path)  # fmt: skip
    results = json.loads((tmp_path / "bench_predict_trees.json").read_text())["results"]
    assert results["images"] == 12 and results["same_rows_labels_confidences"]
    assert set(results["trees"]) == {str(repo), str(copy)}
    for tree in results["trees"].values():
        assert len(tree["images_per_s_rounds"]) == 1 and tree["over_model_only_median"] > 0


@pytest.mark.real_data
def test_bench_decode_finds_the_fast_paths_identical(real_data: Path, tmp_path: Path) -> None:
    run("bench_decode.py", "--quick", "--data", real_data, "--out-dir", tmp_path)
    results = json.loads((tmp_path / "bench_decode.json").read_text())["results"]
    assert results["equality"] == {
        "photos": 200,
        "format_differs": 0,
        "pixels_differ": 0,
        "input_differs": 0,
    }
    assert all(ms > 0 for ms in results["ms_per_photo"].values())


@pytest.mark.slow
@pytest.mark.real_data
def test_the_ceilings_bound_what_predict_and_the_scan_reached(
    real_data: Path, red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    run("bench_predict_ceiling.py", "--run", red_blue_checkpoint, "--data", real_data / "test",
        "--quick", "--out-dir", tmp_path)  # fmt: skip
    predict = json.loads((tmp_path / "bench_predict_ceiling.json").read_text())["results"]
    assert predict["photos"] == 96 and predict["decode_preprocess_cpu_ms_per_photo"] > 0
    assert predict["model_alone"]["cpu_ms_per_image"] > 0 and predict["start_up_s"] > 0
    ceiling, reached = predict["ceiling"], predict["reached"]
    assert 0 < ceiling["process_over_model_only"] < ceiling["in_process_over_model_only"] <= 1
    assert reached["process_over_model_only"] > 0 and reached["in_process_over_model_only"] > 0

    run("bench_archive.py", "--run", red_blue_checkpoint, "--data", real_data, "--parts",
        "ingest", "--quick", "--seconds", "0.5", "--out-dir", tmp_path)  # fmt: skip
    scan = json.loads((tmp_path / "bench_archive.json").read_text())["results"]["ingest"]
    assert scan["photos"] == 200 and scan["scan_over_model_only"] > 0
    assert 0 < scan["ceiling"]["scan_over_model_only"] <= 1
    assert scan["ceiling"]["other_steps_cpu_ms_per_photo"] > 0
