"""Sizes of the code, for information: the longest modules and the most crowded folders.

`python lint/sizes.py [SRC] [--top N]` (default src/landrec, 10 of each). Length is a hint,
never a cap (STYLE.md: split by meaning, not by line count), so this prints and always exits 0;
a module past HINT_LINES or a folder past HINT_MODULES is marked for a reader to look at, not
to split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HINT_LINES = 300  # nanoGPT's train.py and model.py: about this long, each read top to bottom
HINT_MODULES = 10  # modules in one folder, __init__ not counted


def module_lines(src: Path) -> list[tuple[str, int]]:
    """(module path under `src`, lines) for every module, longest first."""
    sizes = [
        (p.relative_to(src).as_posix(), len(p.read_text(encoding="utf-8").splitlines()))
        for p in src.rglob("*.py")
    ]
    return sorted(sizes, key=lambda item: (-item[1], item[0]))


def folder_modules(src: Path) -> list[tuple[str, int]]:
    """(folder path under `src`, modules other than __init__) for every package, most first."""
    folders = [src, *(p for p in src.rglob("*") if p.is_dir() and p.name != "__pycache__")]
    counts = [
        (d.relative_to(src).as_posix() or ".", sum(f.name != "__init__.py" for f in d.glob("*.py")))
        for d in folders
    ]
    return sorted(counts, key=lambda item: (-item[1], item[0]))


def report(src: Path, top: int) -> list[str]:
    """The lines to print: the `top` longest modules and most crowded folders, hints marked."""
    lines = [f"longest modules (hint: {HINT_LINES} lines)"]
    for name, n in module_lines(src)[:top]:
        lines.append(f"  {n:6d}  {name}" + ("  *" if n > HINT_LINES else ""))
    lines.append(f"most modules per folder (hint: {HINT_MODULES})")
    for name, n in folder_modules(src)[:top]:
        lines.append(f"  {n:6d}  {name}/" + ("  *" if n > HINT_MODULES else ""))
    lines.append("* past the hint: read it whole; split only where the meaning splits")
    return lines


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[1] / "src" / "landrec"
    parser = argparse.ArgumentParser(description="Print the longest modules and fullest folders.")
    parser.add_argument("src", type=Path, nargs="?", default=default)
    parser.add_argument("--top", type=int, default=10, help="rows of each list [10]")
    args = parser.parse_args(argv)
    print("\n".join(report(args.src, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
