"""A checkpoint's fp32 ONNX export, cached beside it (where: `runs.onnx_cache_path`), so
`predict --backend onnx` takes a run folder; rebuilt when the checkpoint changes. Beside it,
its form reading uint8 pixels (`onnx.with_pixel_input`), which prediction runs.

The export's metadata holds the checkpoint's name, size and mtime_ns when it was exported:
checkpoints are replaced by rename (`data.atomic`), so any new checkpoint changes them.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from landrec.data.atomic import write_atomic
from landrec.engine.checkpoint import read_meta
from landrec.engine.onnx import set_props, with_pixel_input
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


def build(checkpoint: Path, pixels: bool = False) -> Path | bytes:
    """Export `checkpoint` (PyTorch, a few seconds) into its cache file, unless that is current,
    and return the path; with `pixels`, then its pixel form into that one's. The model itself,
    as bytes, where the folder cannot be written."""
    version = stamp(checkpoint)

    def export(tmp: Path) -> None:
        from landrec.engine.inference.export import export_onnx  # torch: only to (re)build

        export_onnx(checkpoint, tmp)
        set_props(tmp, {SOURCE_KEY: version})

    cached = onnx_cache_path(checkpoint)
    floats = cached if _stamp_of(cached) == version else _kept(cached, export)
    if not pixels:
        return floats
    pre = read_meta(checkpoint).preprocessing
    return _kept(  # the float model's metadata, stamp included, comes along
        onnx_cache_path(checkpoint, pixels=True),
        lambda tmp: tmp.write_bytes(with_pixel_input(floats, pre.mean, pre.std)),
    )


def _stamp_of(path: Path) -> str | None:
    """The stamp in a cached export's metadata; None where it is missing or unreadable."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # missing, or damaged: protobuf and onnx raise several types
        return None
    return {p.key: p.value for p in model.metadata_props}.get(SOURCE_KEY)


def _kept(target: Path, write: Callable[[Path], object]) -> Path | bytes:
    """`write` into `target` atomically, and its path; the bytes written where the folder is
    read-only."""
    try:
        write_atomic(target, write)
    except PermissionError as exc:  # a read-only run folder: make, use, do not keep
        log.warning("cannot cache %s (%s); not cached", target, exc)
        with tempfile.TemporaryDirectory(prefix="landrec-onnx-") as tmp:
            model = Path(tmp) / target.name
            write(model)
            return model.read_bytes()
    return target
