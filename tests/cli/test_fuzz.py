"""The CLI fuzzed as a hostile but fair user would: generated bad values for every training
option (CLI flag and YAML key) and for the other commands' options, and a table of bad files and
folders. Every case must end in one line on stderr (no traceback), exit code 1 or 2, the
offending option or file named, and nothing written or changed in the output folder.

docs/reliability.md counts the cases; `pytest tests/cli/test_fuzz.py` runs them."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import typing
from enum import Enum
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landrec.cli.main import main
from landrec.engine.config import TrainConfig, bounds

HINTS = {name: info.annotation for name, info in TrainConfig.model_fields.items()}
FIELDS = list(TrainConfig.model_fields)
EXAMPLES = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TEXT = st.text(alphabet="abcxyz-_.%/", min_size=1, max_size=8)


def run_cli(argv: list[str | Path]) -> tuple[int, str]:
    """`landrec ARGV` in this process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    if log := os.environ.get("LANDREC_FUZZ_LOG"):  # benchmarks/fuzz_summary.py counts the cases
        with open(log, "a") as f:
            record = {"argv": [str(a) for a in argv], "code": code, "stderr": err.getvalue()}
            f.write(json.dumps(record) + "\n")
    return code, err.getvalue()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and mtime (nothing changed = equal snapshots)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_clean_failure(code: int, err: str, names: list[str]) -> None:
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err, err
    lowered = err.lower()
    assert any(n.lower() in lowered for n in names), (names, err)
    assert any(line.startswith(("landrec: error:", "usage:")) for line in err.splitlines()), err


def _base(kind: object) -> object:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args else kind


def out_of_bounds(ends: dict[str, float], integer: bool) -> st.SearchStrategy:
    """Numbers that break `ends` (a field's bounds: ge/gt, maybe le/lt), plus NaN and infinity."""
    opts = {} if integer else {"allow_nan": False, "allow_infinity": False}
    low, high = ends.get("ge", ends.get("gt")), ends.get("le", ends.get("lt"))
    parts = []
    if low is not None:
        below = low - 1 if "ge" in ends else low  # an integer bound: the first value outside
        parts.append(
            st.integers(max_value=math.ceil(below))
            if integer
            else st.floats(max_value=low, exclude_max="ge" in ends, **opts)
        )
    if high is not None:
        above = high + 1 if "le" in ends else high
        parts.append(
            st.integers(min_value=math.floor(above))
            if integer
            else st.floats(min_value=high, exclude_min="le" in ends, **opts)
        )
    specials = [] if integer else [st.sampled_from(["nan", "inf", "-inf"])]
    return st.one_of(*parts, *specials).map(str)


def bad_values(name: str) -> st.SearchStrategy:
    """Generated values that option `name` must refuse."""
    base = _base(HINTS[name])
    if bounds(name):
        numbers = out_of_bounds(bounds(name), base is int)
        junk = st.sampled_from(["abc", "1e", "--", "1,5", "0x"])
        return st.one_of(numbers, junk, *([st.just("1.5")] if base is int else []))
    if isinstance(base, type) and issubclass(base, Enum):
        return TEXT.filter(lambda v: v.lower() not in {m.value for m in base})
    if base is bool:
        return TEXT.filter(lambda v: v.lower() not in {"true", "false", "1", "0", "yes", "no"})
    if name == "device":
        return TEXT.filter(lambda v: not re.fullmatch(r"auto|cpu|cuda(:\d+)?", v))
    if name == "model":
        return TEXT.map(lambda v: f"no-such-model-{v}")
    # weights, init_checkpoint: a file that is not there
    return TEXT.map(lambda v: f"/nonexistent/{v}.pth")


CLI_FIELDS = [n for n in FIELDS if _base(HINTS[n]) is not bool and n != "cache_dir"]


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths a bad value might name land in tmp_path, never in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, dataset_writer) -> Path:
    return dataset_writer(tmp_path_factory.mktemp("fuzz") / "data", per_class=2)


@pytest.mark.parametrize("name", CLI_FIELDS)
def test_bad_training_option_on_the_command_line(name: str, data: Path) -> None:
    flag = "--" + name.replace("_", "-")

    @EXAMPLES
    @given(value=bad_values(name))
    def check(value: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            code, err = run_cli(["train", data, "--out", out, f"{flag}={value}"])
            assert_clean_failure(code, err, [name, flag, value])
            assert not out.exists(), f"{flag}={value} wrote {snapshot(out)}"

    check()


@pytest.mark.parametrize("name", FIELDS)
def test_bad_training_option_in_a_yaml_config(name: str, data: Path) -> None:
    strategy = bad_values(name) if name != "cache_dir" else st.just(["not", "a", "path"])

    @EXAMPLES
    @given(value=strategy)
    def check(value: object) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            config, out = Path(tmp) / "config.yaml", Path(tmp) / "run"
            config.write_text(yaml.safe_dump({name: value}))
            code, err = run_cli(["train", data, "--out", out, "--config", config])
            assert_clean_failure(code, err, [name])
            assert not out.exists()

    check()


@EXAMPLES
@given(key=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True).filter(lambda k: k not in FIELDS))
def test_unknown_yaml_keys_are_named(key: str, data: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config, out = Path(tmp) / "c.yaml", Path(tmp) / "run"
        config.write_text(yaml.safe_dump({key: 1}))
        code, err = run_cli(["train", data, "--out", out, "--config", config])
        if key in ("lr", "finetune_lr"):  # the old names are aliases
            return
        assert_clean_failure(code, err, [key])
        assert not out.exists()


# Options of the other commands: (command line before the option, option, bad values).
OTHER_OPTIONS = [
    (["predict", "{ckpt}", "{img}"], "--top-k", ["0", "-3", "x", "1.5"]),
    (["predict", "{ckpt}", "{img}"], "--batch-size", ["0", "-1", "many"]),
    (["predict", "{ckpt}", "{img}"], "--every", ["0", "-1", "nan", "inf", "soon"]),
    (["predict", "{ckpt}", "{img}"], "--scene-change", ["0", "1.5", "-0.1", "x"]),
    (["predict", "{ckpt}", "{img}"], "--threshold", ["-0.1", "1.01", "x"]),
    (["predict", "{ckpt}", "{img}"], "--format", ["xml", ""]),
    (["predict", "{ckpt}", "{img}"], "--backend", ["tensorflow"]),
    (["evaluate", "{ckpt}", "{data}"], "--batch-size", ["0", "x"]),
    (["evaluate", "{ckpt}", "{data}"], "--split", ["training"]),
    (["calibrate", "{ckpt}", "{data}"], "--target-accuracy", ["1.5", "-1", "x"]),
    (["export", "{ckpt}", "--out", "{tmp}/m.onnx"], "--calibration-images", ["0", "x"]),
    (["data", "stats", "{data}"], "--size", ["0", "8", "x"]),
    (["tune", "{data}", "--out", "{tmp}/tune"], "--trials", ["0", "-2", "x"]),
]


@pytest.mark.parametrize(("prefix", "option", "values"), OTHER_OPTIONS)
def test_bad_option_of_other_commands(
    prefix: list[str],
    option: str,
    values: list[str],
    data: Path,
    red_blue_checkpoint: Path,
    tmp_path: Path,
) -> None:
    image = next((data / "test").rglob("*.jpg"))
    slots = {"ckpt": red_blue_checkpoint, "img": image, "data": data, "tmp": tmp_path}
    argv = [part.format(**slots) for part in prefix]
    before = snapshot(data), snapshot(red_blue_checkpoint.parent)
    for value in values:
        code, err = run_cli([*argv, f"{option}={value}"])
        assert_clean_failure(code, err, [option])
        assert (snapshot(data), snapshot(red_blue_checkpoint.parent)) == before
        assert list(tmp_path.iterdir()) == []


def _bad_inputs(tmp: Path, data: Path, ckpt: Path) -> dict[str, tuple[list, list[str]]]:
    """Name -> (argv, words of which one must appear in the error)."""
    junk = tmp / "junk.safetensors"
    junk.write_bytes(b"\x00not a checkpoint" * 10)
    text_yaml = tmp / "list.yaml"
    text_yaml.write_text("- a\n- b\n")
    broken_yaml = tmp / "broken.yaml"
    broken_yaml.write_text("batch_size: [1,\nmodel: x\n")
    binary_yaml = tmp / "binary.yaml"
    binary_yaml.write_bytes(bytes(range(256)))
    onnx = tmp / "model.onnx"
    onnx.write_bytes(b"garbage" * 50)
    empty = tmp / "empty"
    empty.mkdir()
    no_images = tmp / "no-images" / "train" / "coast"
    no_images.mkdir(parents=True)
    (no_images / "notes.txt").write_text("hello")
    weights = tmp / "weights.pth"
    weights.write_text("not torch")
    file_not_dir = tmp / "file.txt"
    file_not_dir.write_text("x")
    out = tmp / "run"
    image = next((data / "test").rglob("*.jpg"))
    return {
        "train: data folder missing": (["train", tmp / "nope", "--out", out], ["nope"]),
        "train: empty data folder": (["train", empty, "--out", out], ["empty"]),
        "train: data is a file": (["train", file_not_dir, "--out", out], ["file.txt"]),
        "train: no images in train": (["train", tmp / "no-images", "--out", out], ["no-images"]),
        "train: YAML not a mapping": (
            ["train", data, "--out", out, "--config", text_yaml],
            ["list.yaml"],
        ),
        "train: YAML malformed": (
            ["train", data, "--out", out, "--config", broken_yaml],
            ["broken.yaml"],
        ),
        "train: YAML binary": (
            ["train", data, "--out", out, "--config", binary_yaml],
            ["binary.yaml"],
        ),
        "train: YAML missing": (
            ["train", data, "--out", out, "--config", tmp / "no.yaml"],
            ["no.yaml"],
        ),
        "train: weights not torch": (
            ["train", data, "--out", out, "--weights", weights],
            ["weights.pth"],
        ),
        "train: init checkpoint junk": (
            ["train", data, "--out", out, "--init-checkpoint", junk],
            ["junk.safetensors"],
        ),
        "train: resume of nothing": (["train", data, "--out", out, "--resume"], ["run"]),
        "predict: checkpoint missing": (
            ["predict", tmp / "none.safetensors", image],
            ["none.safetensors"],
        ),
        "predict: checkpoint junk": (["predict", junk, image], ["junk.safetensors"]),
        "predict: ONNX junk": (["predict", onnx, image, "--backend", "onnx"], ["model.onnx"]),
        "predict: every input missing": (
            ["predict", ckpt, tmp / "a.jpg", tmp / "b.png"],
            ["a.jpg"],
        ),
        "evaluate: checkpoint junk": (["evaluate", junk, data], ["junk.safetensors"]),
        "evaluate: data missing": (["evaluate", ckpt, tmp / "nope"], ["nope"]),
        "evaluate: untrained unknown model": (
            ["evaluate", "--untrained", "nonet", data],
            ["nonet"],
        ),
        "calibrate: checkpoint junk": (["calibrate", junk, data], ["junk.safetensors"]),
        "export: checkpoint junk": (
            ["export", junk, "--out", tmp / "m.onnx"],
            ["junk.safetensors"],
        ),
        "export: output is a folder": (["export", ckpt, "--out", empty], ["empty"]),
        "explain: image missing": (
            ["explain", ckpt, tmp / "x.jpg", "--out", tmp / "h.png"],
            ["x.jpg"],
        ),
        "explain: image not an image": (
            ["explain", ckpt, file_not_dir, "--out", tmp / "h.png"],
            ["file.txt"],
        ),
        "data inspect: missing": (["data", "inspect", tmp / "nope"], ["nope"]),
        "data stats: missing": (["data", "stats", tmp / "nope"], ["nope"]),
        "study: study file missing": (["study", tmp / "s.yaml", "--data", data], ["s.yaml"]),
        "study: study file malformed": (["study", broken_yaml, "--data", data], ["broken.yaml"]),
    }


CASES = [
    "train: data folder missing",
    "train: empty data folder",
    "train: data is a file",
    "train: no images in train",
    "train: YAML not a mapping",
    "train: YAML malformed",
    "train: YAML binary",
    "train: YAML missing",
    "train: weights not torch",
    "train: init checkpoint junk",
    "train: resume of nothing",
    "predict: checkpoint missing",
    "predict: checkpoint junk",
    "predict: ONNX junk",
    "predict: every input missing",
    "evaluate: checkpoint junk",
    "evaluate: data missing",
    "evaluate: untrained unknown model",
    "calibrate: checkpoint junk",
    "export: checkpoint junk",
    "export: output is a folder",
    "explain: image missing",
    "explain: image not an image",
    "data inspect: missing",
    "data stats: missing",
    "study: study file missing",
    "study: study file malformed",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_files_and_folders(
    case: str, data: Path, red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cases = _bad_inputs(work, data, red_blue_checkpoint)
    assert sorted(cases) == sorted(CASES)
    argv, names = cases[case]
    before = snapshot(work), snapshot(data), snapshot(red_blue_checkpoint.parent)
    code, err = run_cli(argv)
    assert_clean_failure(code, err, names)
    assert (snapshot(work), snapshot(data), snapshot(red_blue_checkpoint.parent)) == before
    shutil.rmtree(work)


@pytest.mark.parametrize(
    "extra", [["--model", "nonet"], ["--weights", "none", "--init-checkpoint", "/x.safetensors"]]
)
def test_refused_runs_write_nothing_with_tracking_on(
    extra: list[str], data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's store lives in the run folder: a refused run must not create it."""
    pytest.importorskip("mlflow")
    monkeypatch.setenv("LANDREC_TRACKING", "1")
    out = tmp_path / "run"
    code, err = run_cli(["train", data, "--out", out, *extra])
    assert_clean_failure(code, err, [extra[1], "init_checkpoint"])
    assert not out.exists()
