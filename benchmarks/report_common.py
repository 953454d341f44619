"""What every section of docs/benchmarks.md shares: tables, number formats, and the command,
machine and date behind each benchmark record."""

from __future__ import annotations

from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}x"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def pct2(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def provenance(record: dict[str, Any]) -> list[str]:
    """The command, machine and date of one benchmark record (and warnings about them)."""
    m = record["machine"]
    flags = ", ".join(m.get("cpu_flags", [])) or "none listed"
    lines = [
        f"Command: `{record['command']}`  ",
        f"Machine: {m['cpu_model']}, {m['cpu_count']} logical CPUs "
        f"({m.get('cpus_usable')} usable), "
        f"flags: {flags}; torch {m['torch']} ({m['torch_threads']} threads), onnxruntime "
        f"{m.get('onnxruntime')}; landrec {m.get('landrec_commit')}  ",
        f"Date: {record.get('date', 'not recorded')}",
    ]
    if record.get("quick"):
        lines.append("\n> **--quick run: checks the script only; these figures measure nothing.**")
    load = m.get("load_average_at_start")
    if load and m.get("cpu_count") and load[0] > 0.5 * m["cpu_count"]:
        lines.append(
            f"\n> Warning: 1-minute load average was {load[0]:.2f} on {m['cpu_count']} CPUs "
            "when this run started: the machine was busy."
        )
    return ["", *lines, ""]


def machine_key(record: dict[str, Any]) -> tuple:
    m = record["machine"]
    return (m["cpu_model"], m["cpu_count"], m["torch_threads"], m["torch"])
