"""An import-linter contract type: no module imports a private name (`_x`) from a module of
another package. Within one package, modules may share private helpers; across packages, a
private name is an implementation detail that must not leak (grimp sees modules, not names,
so the built-in contract types cannot check this)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _package(module: str) -> str:
    return module.rsplit(".", 1)[0]


def _source(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _absolute(importer: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def private_name_imports(module: str, roots: set[str]) -> list[tuple[str, str, int]]:
    """(imported module, private name, line) for each `from M import _x` in `module` where M is
    under one of `roots` and in another package than `module`."""
    path = _source(module)
    if path is None:
        return []
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _absolute(module, node, path.name == "__init__.py")
        if source.split(".")[0] not in roots or _package(source) == _package(module):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append((source, alias.name, node.lineno))
    return found


class PrivateNamesContract(Contract):
    """Configuration: `packages` (the root packages whose modules are checked)."""

    type_name = "private_names"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots = set(self.packages)  # type: ignore[call-overload]  # a list once populated
        broken = [
            {"importer": module, "imported": source, "name": name, "line": line}
            for module in sorted(graph.modules)
            if module.split(".")[0] in roots
            for source, name, line in private_name_imports(module, roots)
        ]
        return ContractCheck(kept=not broken, warnings=[], metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for b in check.metadata["broken"]:
            output.print_error(
                f"{b['importer']} (l.{b['line']}) imports the private name {b['name']} "
                f"from {b['imported']}, a module of another package",
                bold=False,
            )
            output.new_line()
