"""The command line starts without torch: --help, `landrec models` and option errors import none
of the engine (benchmarks/bench_startup.py times them), and the API's lazily re-exported names
all resolve."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_image
from landrec import api

PROBE = """
import sys
from landrec.cli.main import main
for argv in {argvs!r}:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    print("exit", code, file=sys.stderr)
heavy = sorted(m for m in ("torch", "torchvision", "onnxruntime", "timm", "sklearn", "scipy")
               if m in sys.modules)
print("HEAVY", ",".join(heavy))
"""


def _heavy_modules_after(argvs: list[list[str]]) -> tuple[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argvs=argvs)], capture_output=True, text=True
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("HEAVY"))
    return line.removeprefix("HEAVY").strip(), proc.stderr


@pytest.mark.parametrize(
    "argvs",
    [
        [["--help"]],
        [["models", "--json"]],
        [["train", "--help"], ["predict", "--help"]],
        [["predict", "x", "y", "--top-k", "0"]],
        [["train", "/nonexistent-data", "--out", "/nonexistent-out"]],
        [["train", "/nonexistent-data", "--batch-size", "0"]],
        [["train", "/nonexistent-data", "--model", "nonet"]],
    ],
)
def test_these_commands_import_no_heavy_library(argvs: list[list[str]]) -> None:
    heavy, stderr = _heavy_modules_after(argvs)
    assert heavy == "", stderr
    assert "Traceback" not in stderr


def test_predict_on_onnx_runtime_imports_no_torch(
    red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    """`landrec predict RUN IMAGE` with the run's ONNX export cached: the CLI, the API and the
    options it builds (VideoOptions) stay off torch, which would cost seconds and ~1 GB."""
    image = write_image(tmp_path / "red.png", (200, 30, 30), seed=0)
    api.predict(red_blue_checkpoint, [image], backend="onnx")  # exports once (with torch)
    heavy, stderr = _heavy_modules_after([["predict", str(red_blue_checkpoint), str(image)]])
    assert "exit 0" in stderr and "torch" not in heavy.split(","), stderr


def test_the_probe_sees_torch_when_a_command_needs_it(tmp_path: Path) -> None:
    """The same probe reports torch after a command that builds a model (it can fail)."""
    out = tmp_path / "m.onnx"
    heavy, stderr = _heavy_modules_after(
        [["export", str(tmp_path / "none.safetensors"), "--out", str(out)]]
    )
    assert "torch" in heavy.split(","), stderr


def test_the_public_surface_resolves() -> None:
    """Every name the API lists exists; so does every type of landrec.api.types."""
    from landrec.api import types

    for module in (api, types):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


@pytest.mark.parametrize(
    "error",
    [
        "landrec.engine.checkpoint:CheckpointError",
        "landrec.engine.checkpoint:UnknownClassError",
        "landrec.engine.config:ConfigError",
        "landrec.data.layout:DataLayoutError",
        "landrec.data.decode:ImageDecodeError",
        "landrec.engine.experiments.tune:MissingDependencyError",
        "landrec.models.registry:UnknownModelError",
        "landrec.models.weights:WeightsUnavailableError",
        "landrec.archive.settings:ArchiveError",
    ],
)
def test_every_error_a_user_can_cause_is_a_user_error(error: str) -> None:
    """The CLI prints these as one line with exit code 2 (tests/cli/test_cli.py): they match
    by their base, so renaming one cannot turn its message into a traceback."""
    module, name = error.split(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, api.UserError) and cls.exit_code == 2
