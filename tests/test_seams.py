"""No string seams: where two parts of landrec meet, the contract is a type, not a spelling
(lint/seams.py says what counts)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def find_seams(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from lint.seams import find_seams

    return find_seams


def test_landrec_has_no_string_seam(find_seams) -> None:
    assert find_seams(ROOT / "src" / "landrec") == []


def test_the_finder_sees_each_kind_of_seam(find_seams, tmp_path: Path) -> None:
    (tmp_path / "engine").mkdir()
    (tmp_path / "seams.py").write_text(
        "LAZY = {'EvalResult': 'landrec.engine.evaluation.evaluate:EvalResult'}\n"
        "TYPES = {'JPEG image': 'image/jpeg'}\n"
        "BOUNDS = {'dropout': '[0, 1)', 'hidden': '>= 1'}\n"
        "def f(found, Kind):\n"
        "    if found.kind.value == 'unsupported':\n"
        "        return Kind(found.kind.value)\n"
        "    return 'best.safetensors'\n"
    )
    (tmp_path / "engine" / "runs.py").write_text("BEST = 'best.safetensors'\n")  # its place
    kinds = sorted(kind for kind, *_ in find_seams(tmp_path))
    assert kinds == [
        "display-text key",
        "enum-by-value",
        "enum-by-value",
        "import-by-string",
        "rule string",
        "rule string",
        "run-file name",
    ]
