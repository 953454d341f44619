"""The command line starts without torch: --help, `landrec models` and option errors import none
of the engine (benchmarks/bench_startup.py times them), and the API's lazily re-exported names
all resolve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_the_probe_sees_torch_when_a_command_needs_it(tmp_path: Path) -> None:
    """The same probe reports torch after a command that builds a model (it can fail)."""
    out = tmp_path / "m.onnx"
    heavy, stderr = _heavy_modules_after(
        [["export", str(tmp_path / "none.safetensors"), "--out", str(out)]]
    )
    assert "torch" in heavy.split(","), stderr


def test_every_lazily_exported_name_resolves() -> None:
    for name in api._LAZY:  # the table of names landrec.api imports on first use
        assert getattr(api, name) is not None, name
    assert all(isinstance(e, type) and issubclass(e, BaseException) for e in api.USER_ERRORS)
    assert api.is_user_error(api.USER_ERRORS[0]("x"))
    assert not api.is_user_error(RuntimeError("x"))
