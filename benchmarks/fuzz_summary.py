"""Run the CLI fuzz suite (tests/cli/test_fuzz.py) and count what it tried, for
docs/reliability.md:

    python benchmarks/fuzz_summary.py

Every case the suite runs is logged (argv, exit code, stderr); this prints per command how many
inputs were tried, their exit codes, how many printed a traceback, and the suite's result.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import common


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "fuzz.jsonl"
        env = {**os.environ, "LANDREC_FUZZ_LOG": str(log)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        proc = subprocess.run(
            [*cmd, "tests/cli/test_fuzz.py"],
            cwd=common.REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        records = (
            [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        )
    by_command: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in records:
        name = " ".join(r["argv"][:2]) if r["argv"][0] == "data" else r["argv"][0]
        by_command[name][f"exit {r['code']}"] += 1
        by_command[name]["tracebacks"] += "Traceback" in r["stderr"]
    print("| command | inputs | exit 1 | exit 2 | other exit | tracebacks |")
    print("|---|---|---|---|---|---|")
    for name, c in sorted(by_command.items()):
        total = sum(v for k, v in c.items() if k.startswith("exit"))
        other = total - c["exit 1"] - c["exit 2"]
        print(f"| {name} | {total} | {c['exit 1']} | {c['exit 2']} | {other} | {c['tracebacks']} |")
    tracebacks = sum(c["tracebacks"] for c in by_command.values())
    print(
        f"\n{len(records)} inputs, {tracebacks} tracebacks; pytest: {proc.stdout.splitlines()[-1]}"
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
