"""A still's display-size preview: upright (EXIF orientation applied), its long side at most
1600 px (never enlarged), WebP. Decoded by landrec's one image path (`landrec.api.load_image`),
so every format it reads (RAW, JPEG XL, PSD, odd TIFFs as it learns them) gets a preview."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from landrec.api import UserError, load_image
from landrec.archive.renditions.plan import DISPLAY_SIZE, RenditionError

WEBP_QUALITY = 82
WEBP_METHOD = 4  # 0 (fastest) .. 6: one preview per file, made once, looked at often


def make_still(source: Path, target: Path, size: int = DISPLAY_SIZE) -> None:
    """Write the preview of `source` to `target` (a .webp path); `RenditionError` when the
    image cannot be decoded."""
    try:
        picture = load_image(source, draft_size=size)
    except UserError as exc:  # ImageDecodeError: truncated, a bomb, an unknown format
        raise RenditionError(str(exc)) from None
    if max(picture.size) > size:
        picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    picture.save(target, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
