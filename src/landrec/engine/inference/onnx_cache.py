"""A checkpoint's fp32 ONNX export, cached beside it (where: `runs.onnx_cache_path`), so
`predict --backend onnx` takes a run folder; rebuilt when the checkpoint changes.

The export's metadata holds the checkpoint's name, size and mtime_ns when it was exported:
checkpoints are replaced by rename (`data.atomic`), so any new checkpoint changes them.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from landrec.data.atomic import write_atomic
from landrec.engine.onnx import set_props
from landrec.engine.runs import onnx_cache_path

log = logging.getLogger(__name__)

SOURCE_KEY = "landrec_source"  # metadata_props key: the checkpoint the file was exported from


def stamp(checkpoint: Path) -> str:
    """What identifies this version of the checkpoint file."""
    info = checkpoint.stat()
    return json.dumps({"name": checkpoint.name, "size": info.st_size, "mtime_ns": info.st_mtime_ns})


def is_current(props: Mapping[str, str], checkpoint: Path) -> bool:
    """Whether an export whose metadata is `props` was made from this version of `checkpoint`."""
    return props.get(SOURCE_KEY) == stamp(checkpoint)


def build(checkpoint: Path) -> Path | bytes:
    """Export `checkpoint` (PyTorch, a few seconds) into its cache file and return the path; the
    model itself, as bytes, where the folder cannot be written."""
    from landrec.engine.inference.export import export_onnx  # torch: only when (re)building

    version = stamp(checkpoint)

    def write(tmp: Path) -> None:
        export_onnx(checkpoint, tmp)
        set_props(tmp, {SOURCE_KEY: version})

    target = onnx_cache_path(checkpoint)
    try:
        write_atomic(target, write)
    except PermissionError as exc:  # a read-only run folder: export, use, do not keep
        log.warning("cannot cache the ONNX export beside %s (%s); not cached", checkpoint, exc)
        with tempfile.TemporaryDirectory(prefix="landrec-onnx-") as tmp:
            model = Path(tmp) / target.name
            write(model)
            return model.read_bytes()
    return target
