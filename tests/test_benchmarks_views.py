"""benchmarks/bench_views.py's own parts: the generated non-photos, the sensor shifts, the table."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from conftest import write_image

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_views

    return bench_views


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def test_non_photos_are_five_kinds_and_seeded(bench, tmp_path: Path) -> None:
    first = bench.non_photos(tmp_path / "a", each=2)
    again = bench.non_photos(tmp_path / "b", each=2)
    kinds = sorted({p.name.rsplit("_", 1)[0] for p in first})
    assert kinds == ["bars", "cartoon", "chart", "gradient", "screenshot"] and len(first) == 10
    assert _digest(first) == _digest(again)
    with Image.open(first[0]) as im:
        assert im.mode == "RGB" and min(im.size) >= 150


def test_shifts_write_one_image_per_shift_and_photo(bench, tmp_path: Path) -> None:
    items = [
        (write_image(tmp_path / "in" / "coast" / f"{i}.jpg", (30, 90, 220), i, 32), "coast")
        for i in range(3)
    ]
    out = bench.shifted(items, tmp_path / "out")
    assert list(out) == list(bench._shift_ops())
    for name, rows in out.items():
        assert [cls for _, cls in rows] == ["coast"] * 3
        with Image.open(rows[0][0]) as im:
            expected = (64, 64) if name == "2x, sharpened" else (32, 32)
            assert im.size == expected
    again = bench.shifted(items, tmp_path / "again")
    assert _digest([p for rows in out.values() for p, _ in rows]) == _digest(
        [p for rows in again.values() for p, _ in rows]
    )


def test_table_lists_each_run_and_dashes_what_was_not_measured(bench) -> None:
    def run(name: str, acc: float) -> dict:
        empty = {"check_half": {"rejection_rate": None}}
        return {
            "run": f"/runs/{name}",
            "ground_test": {"accuracy": acc, "view_accuracy": 1.0, "coverage": 0.8},
            "overhead_test": {"accuracy": 0.99},
            "unknown": {
                "out-of-class": {"check_half": {"rejection_rate": 0.9}},
                "aerial-out-of-class": empty,
                "generated_non_photos": {"rejection_rate": 0.5},
            },
        }

    text = bench.table([run("a", 0.9333), run("b", 0.5)])
    lines = text.splitlines()
    assert lines[0] == "| | a | b |"
    assert "| ground test top-1 | 93.33% | 50.00% |" in lines
    assert "| view right, overhead test | - | - |" in lines
    assert any(line.startswith("| generated non-photos") and "50.00%" in line for line in lines)
