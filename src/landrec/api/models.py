"""Models through the API: the registry, ONNX export and Grad-CAM explanations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from landrec.models.catalog import model_table

if TYPE_CHECKING:
    from landrec.engine.inference.explain import ExplainResult
    from landrec.engine.inference.export import ExportResult


def models() -> list[dict]:
    """The registry: one row per architecture (parameters, input size, weights available here)."""
    return model_table()


def export(
    model: str | Path,
    out: str | Path,
    int8: bool = False,
    calibration: str | Path | None = None,
    calibration_images: int = 200,
) -> ExportResult:
    """A run folder or checkpoint as ONNX; `int8` with a `calibration` folder: static int8
    calibrated on `calibration_images` of its images spread over every subfolder, else dynamic."""
    from landrec.data.layout import expand_paths
    from landrec.engine.checkpoint import resolve_checkpoint
    from landrec.engine.inference.export import export_onnx

    images = expand_paths([calibration]) if calibration else None
    return export_onnx(
        resolve_checkpoint(model), out, int8, images, calibration_images=calibration_images
    )


def explain(
    checkpoint: str | Path, image: str | Path, out_png: str | Path, class_name: str | None = None
) -> ExplainResult:
    """Grad-CAM heatmap of `class_name` (default: the predicted class) over one image, as PNG."""
    from landrec.engine.inference.explain import explain as _explain

    return _explain(checkpoint, image, out_png, class_name)
