"""What a study reports: one row per experiment (`ExperimentResult`, saved as
runs/<name>/result.json) and the comparison of the rows, report.md (images linked) and a
self-contained report.html (images embedded as base64 data URIs; plain HTML and CSS)."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from landrec.engine.runs import RunFolder
from landrec.models.weights import RANDOM_INIT


@dataclass
class ExperimentResult:
    """One row of the study's table (saved as runs/<name>/result.json)."""

    name: str
    kind: str
    model: str
    weights: str = ""  # where the backbone's weights came from, for people
    random_init: bool = False  # the backbone started without pretrained weights
    stages: str = ""
    optimizer: str = ""
    head: str = ""
    augment: str = ""
    weight_decay: float | None = None
    scheduler: str = ""
    epochs: int = 0
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    macro_f1: float | None = None  # on test
    train_seconds: float | None = None
    wall_seconds: float | None = None  # the whole experiment: features, training, evaluations
    images_per_second: float | None = None  # decode + preprocess + eager model, sampled images
    parameters: int | None = None
    finalist: bool = False
    init_from: str | None = None
    error: str | None = None
    fingerprint: str = ""  # what was run (kind, resolved config, init_from's fingerprint)
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the resolved TrainConfig

    @property
    def ok(self) -> bool:
        return self.error is None

    def metrics(self) -> dict[str, float | None]:
        keys = ("best_val_accuracy", "test_accuracy", "macro_f1", "train_seconds", "wall_seconds")
        return {k: getattr(self, k) for k in (*keys, "images_per_second")}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str))

    @classmethod
    def load(cls, path: Path) -> ExperimentResult:
        known = {f.name for f in fields(cls)}
        saved = json.loads(path.read_text())
        # rows written before the key existed said so in `weights` alone
        saved.setdefault("random_init", saved.get("weights") == RANDOM_INIT)
        return cls(**{k: v for k, v in saved.items() if k in known})


BEST_CONFIG = "best_config.yaml"  # in the study's folder: the best trained experiment's config
FLAG = "⚠ RANDOM INIT"
COLUMNS = (
    "experiment",
    "kind",
    "model",
    "weights",
    "stages",
    "optimizer",
    "head",
    "augment",
    "weight decay",
    "scheduler",
    "epochs",
    "best val acc",
    "test acc",
    "test macro F1",
    "train s",
    "wall s",
    "images/s",
    "parameters",
    "notes",
)
CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef}tr.random td{background:#fff1cc}tr.failed td{background:#fde0e0}
.flag{color:#a00;font-weight:bold}.best{font-weight:bold}
img{max-width:100%;border:1px solid #ddd}pre{background:#f6f6f6;padding:1em}"""


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table_row(r: ExperimentResult) -> list[str]:
    """The table's cells for one experiment; a random-init row says so in two cells."""
    flag = f"{FLAG} " if r.random_init else ""
    notes = f"FAILED: {r.error}" if r.error else "; ".join(r.notes)
    return [
        f"{flag}{r.name}" + (" (finalist)" if r.finalist else ""),
        r.kind,
        r.model,
        FLAG if r.random_init else r.weights,
        r.stages + (f" (from {r.init_from})" if r.init_from else ""),
        r.optimizer,
        r.head,
        r.augment,
        "–" if r.weight_decay is None else f"{r.weight_decay:g}",
        r.scheduler,
        str(r.epochs),
        _num(r.best_val_accuracy),
        _num(r.test_accuracy),
        _num(r.macro_f1),
        _num(r.train_seconds, 1),
        _num(r.wall_seconds, 1),
        _num(r.images_per_second, 1),
        "–" if r.parameters is None else f"{r.parameters:,}",
        notes,
    ]


def _per_class(run_dir: Path) -> dict[str, dict] | None:
    path = RunFolder(run_dir).test_report.metrics
    return json.loads(path.read_text())["per_class"] if path.is_file() else None


def _per_class_rows(per_class: dict[str, dict]) -> list[list[str]]:
    return [
        [c, _num(m["precision"]), _num(m["recall"]), _num(m["f1"]), str(m["support"])]
        for c, m in per_class.items()
    ]


PER_CLASS_HEADER = ["class", "precision", "recall", "F1", "support"]


def wall_time_text(results: list[ExperimentResult]) -> str:
    timed = [r.wall_seconds for r in results if r.wall_seconds is not None]
    if not timed:
        return "Wall time: not recorded."
    total = sum(timed)
    return (
        f"Wall time of the {len(timed)} timed experiment(s): {total:.0f} s "
        f"({total / 60:.1f} min), summed over the calls that ran them."
    )


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]


def _best_text(best: ExperimentResult | None, out: Path) -> tuple[str, str]:
    config = out / BEST_CONFIG
    if best is None or not config.is_file():
        return "No trained experiment finished: no best configuration.", ""
    summary = (
        f"Best by validation accuracy: **{best.name}** ({_num(best.best_val_accuracy)}), "
        f"written to `{BEST_CONFIG}`"
        + (" — **random init**: no pretrained weights" if best.random_init else "")
        + "."
    )
    return summary, config.read_text()


def to_markdown(
    title: str, results: list[ExperimentResult], best: ExperimentResult | None, out: Path
) -> str:
    lines = [f"# Study: {title}", "", f"Folder: `{out}`. {FLAG}: no pretrained weights.", ""]
    lines += _md_table(list(COLUMNS), [table_row(r) for r in results])
    lines += ["", wall_time_text(results)]
    summary, config = _best_text(best, out)
    lines += ["", "## Best configuration", "", summary, ""]
    if config:
        lines += ["```yaml", config.rstrip(), "```", ""]
    lines += ["## Finalists on test", ""]
    for r in (r for r in results if r.finalist):
        run = RunFolder(Path("runs") / r.name)  # relative: the report links its images
        per_class = _per_class(out / run.root)
        lines += [f"### {r.name}" + (f" ({FLAG})" if r.random_init else ""), ""]
        if per_class is None:
            lines += ["No test evaluation.", ""]
            continue
        lines += [f"![confusion matrix of {r.name}]({run.test_report.confusion})", ""]
        lines += [*_md_table(PER_CLASS_HEADER, _per_class_rows(per_class)), ""]
    lines += ["## Learning curves", ""]
    for r in results:
        curves = RunFolder(Path("runs") / r.name).curves
        if (out / curves).is_file():
            lines += [f"### {r.name}", "", f"![curves of {r.name}]({curves.as_posix()})", ""]
    return "\n".join(lines) + "\n"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _html_table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in row)
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _row_class(r: ExperimentResult) -> str:
    return "failed" if r.error else "random" if r.random_init else ""


def to_html(
    title: str, results: list[ExperimentResult], best: ExperimentResult | None, out: Path
) -> str:
    rows = [table_row(r) for r in results]
    parts = [
        f"<h1>Study: {html.escape(title)}</h1>",
        f"<p>Folder: <code>{html.escape(str(out))}</code>. Rows marked "
        f'<span class="flag">{FLAG}</span> (yellow) ran without pretrained weights; '
        "red rows failed.</p>",
        _html_table(list(COLUMNS), rows, [_row_class(r) for r in results]),
        f"<p>{html.escape(wall_time_text(results))}</p>",
    ]
    summary, config = _best_text(best, out)
    summary = html.escape(summary).replace("**", "")
    parts += ["<h2>Best configuration</h2>", f"<p>{summary}</p>"]
    if config:
        parts.append(f"<pre>{html.escape(config)}</pre>")
    parts.append("<h2>Finalists on test</h2>")
    for r in (r for r in results if r.finalist):
        run_dir = out / "runs" / r.name
        flag = f' <span class="flag">{FLAG}</span>' if r.random_init else ""
        parts.append(f"<h3>{html.escape(r.name)}{flag}</h3>")
        per_class = _per_class(run_dir)
        if per_class is None:
            parts.append("<p>No test evaluation.</p>")
            continue
        confusion = RunFolder(run_dir).test_report.confusion
        if confusion.is_file():
            parts.append(_img(confusion, f"confusion matrix of {r.name}"))
        parts.append(_html_table(PER_CLASS_HEADER, _per_class_rows(per_class)))
    parts.append("<h2>Learning curves</h2>")
    for r in results:
        curves = RunFolder(out / "runs" / r.name).curves
        if curves.is_file():
            parts += [f"<h3>{html.escape(r.name)}</h3>", _img(curves, f"curves of {r.name}")]
    body = "\n".join(parts)
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report(
    title: str, results: list[ExperimentResult], best: ExperimentResult | None, out: Path
) -> dict[str, str]:
    md, page = out / "report.md", out / "report.html"
    md.write_text(to_markdown(title, results, best, out))
    page.write_text(to_html(title, results, best, out))
    return {"report_md": str(md), "report_html": str(page)}
