"""String seams: where two parts of landrec meet through a string that no type checker sees.

Four kinds are counted in the source tree (`python lint/seams.py [SRC]`, default src/landrec):

- import-by-string: `"landrec.x.y:Name"` (a table of names imported on first use);
- enum-by-value: an enum's `.value` compared with a string, or passed on to build another enum
  (`Kind(found.kind.value)`): the two enums are then tied by their spelling alone;
- display-text keys: a dict keyed by a format's name for people (`"JPEG image": ...`);
- run-file names: a file name of a run folder spelled outside `engine/runs.py`;
- rule strings: a bound written as text for code to parse (`">= 1"`, `"[0, 1)"`).

tests/test_layers.py holds the count at zero.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

IMPORT_STRING = re.compile(r"^(landrec(\.\w+)+|builtins):\w+$")
RULE_STRING = re.compile(r"^(([<>]=?|==) -?[\d.]+|[\[(]-?[\d.]+, ?-?[\d.inf]+[\])])$")
NOT_ENUMS = frozenset({"Path"})  # constructors that take a column's text, not an enum's
DISPLAY_TEXT = re.compile(r"^[\w/ -]+ (image|video)$")
RUN_FILES = re.compile(
    r"^(config\.yaml|best\.safetensors|last\.safetensors|state\.pt|history\.csv|curves\.png"
    r"|skipped\.csv|tracking\.json|\.fp32\.onnx|test_(metrics\.json|report\.md|confusion\.png))$"
)
LAYOUT_MODULE = Path("engine") / "runs.py"  # the one place that names a run's files


def _strings(node: ast.AST) -> list[str]:
    """The string constants of `node`: itself, or the items of a literal tuple/list/set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for item in node.elts for s in _strings(item)]
    return []


def _is_value(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "value"


def _enum_by_value(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        return any(map(_is_value, sides)) and any(_strings(s) for s in sides)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        is_enum_call = node.func.id[:1].isupper() and node.func.id not in NOT_ENUMS
        return is_enum_call and len(node.args) == 1 and _is_value(node.args[0])
    return False


def seams_in(path: Path, relative: Path) -> Iterator[tuple[str, int, str]]:
    """(kind, line, text) for each string seam in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if IMPORT_STRING.match(node.value):
                yield "import-by-string", line, node.value
            if relative != LAYOUT_MODULE and RUN_FILES.match(node.value):
                yield "run-file name", line, node.value
            if RULE_STRING.match(node.value):
                yield "rule string", line, node.value
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                for text in _strings(key) if key is not None else []:
                    if DISPLAY_TEXT.match(text):
                        yield "display-text key", line, text
        elif _enum_by_value(node):
            yield "enum-by-value", line, ast.unparse(node)


def find_seams(src: Path) -> list[tuple[str, str, int, str]]:
    """(kind, module path, line, text) for every string seam under `src`."""
    return [
        (kind, str(path.relative_to(src)), line, text)
        for path in sorted(src.rglob("*.py"))
        for kind, line, text in seams_in(path, path.relative_to(src))
    ]


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "src" / "landrec"
    found = find_seams(src)
    for kind, module, line, text in found:
        print(f"{module}:{line}: {kind}: {text}")
    kinds = sorted({k for k, *_ in found})
    counts = ", ".join(f"{k} {sum(1 for f in found if f[0] == k)}" for k in kinds)
    print(f"string seams: {len(found)}" + (f" ({counts})" if counts else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
