"""The shape of the code: layers point one way (import-linter's contracts in pyproject.toml),
no import cycle anywhere, and the contract types of our own can fail. Sizes are reported, not
tested (lint/sizes.py, run by scripts/check.sh): length is a hint, never a cap."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), lazy imports included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v) & modules:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return cycles


def test_import_contracts_are_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lint = pytest.importorskip("importlinter.cli", reason="import-linter is a dev dependency")
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    code = lint.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    for name in ("Layers depend one way", "Engine rooms", "goes through the API", "private names"):
        assert name in out
    assert code == 0, out
    assert " kept, 0 broken" in out


def test_no_import_cycle_in_landrec() -> None:
    graph = grimp.build_graph("landrec")
    assert import_cycles(graph, set(graph.modules)) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert import_cycles(graph, set(graph.modules)) == [["p.a", "p.b", "p.c"]]


def test_private_names_contract_flags_a_cross_package_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from lint.private_names import private_name_imports

    pkg = tmp_path / "demo"
    for folder in (pkg, pkg / "one", pkg / "two"):
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    (pkg / "one" / "a.py").write_text("def _helper(): ...\ndef public(): ...\n")
    (pkg / "one" / "b.py").write_text("from demo.one.a import _helper\nfrom .a import public\n")
    (pkg / "two" / "c.py").write_text("from demo.one.a import _helper, public\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert private_name_imports("demo.one.b", {"demo"}) == []  # same package: allowed
        assert private_name_imports("demo.two.c", {"demo"}) == [("demo.one.a", "_helper", 1)]
    finally:
        for name in [m for m in sys.modules if m == "demo" or m.startswith("demo.")]:
            del sys.modules[name]


def test_the_size_report_marks_what_is_past_a_hint_and_never_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from lint import sizes

    (tmp_path / "short.py").write_text("x = 1\n")
    (tmp_path / "long.py").write_text("x = 1\n" * (sizes.HINT_LINES + 1))
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    for i in range(sizes.HINT_MODULES + 1):
        (crowded / f"m{i}.py").write_text("")
    assert sizes.main([str(tmp_path), "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"  {sizes.HINT_LINES + 1:6d}  long.py  *" in out
    assert f"  {1:6d}  short.py" in out
    assert f"  {sizes.HINT_MODULES + 1:6d}  crowded/  *" in out
