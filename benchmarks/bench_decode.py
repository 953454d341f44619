"""A photo's way to the model on one thread: sniffing, decoding and preprocessing, each with
landrec's fast path and without it, per photo; and whether the fast paths give the same answer
on every file (the same format name, the same pixels, the same model input bit for bit).

fast paths   sniff: a plain JPEG's header read from its bytes, not by Pillow's plugin
             decode: a plain upright JPEG by libjpeg-turbo directly (simplejpeg)
             resize: only the pixels the centre crop keeps, where that is exact
without      Pillow opens every file; Pillow decodes (simplejpeg hidden); the whole resize, then
             the crop (as `preprocess.to_array` did before)

  python benchmarks/bench_decode.py --data ../shared/data/landscapes --data ../shared/data/aerial
  python benchmarks/bench_decode.py --quick      # 200 photos
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import common

BENCHMARK = "bench_decode"
TIMED = 1470  # photos timed per step (the first of the sorted list); equality: every photo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, action="append", help="folders of photos (repeatable)")
    p.add_argument("--short-side", type=int, default=256, help="resize before the crop")
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--quick", action="store_true", help="200 photos")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def photos(roots: Iterable[Path], limit: int | None) -> list[Path]:
    files = sorted(
        p for root in roots for p in root.rglob("*") if p.suffix.lower() in common.IMAGE_SUFFIXES
    )
    return files[:limit] if limit else files


def per_photo_ms(fn: Callable[[Path], object], files: list[Path], repeats: int = 3) -> float:
    """The fastest of `repeats` passes over `files`, in ms per photo."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for f in files:
            fn(f)
        best = min(best, time.perf_counter() - started)
    return 1000 * best / len(files)


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from PIL import Image

    from landrec.data import decode
    from landrec.data.preprocess import (
        Preprocessing,
        centre_crop,
        normalise,
        resized_size,
        to_array,
    )
    from landrec.data.sniff import detect

    args = parse_args(argv)
    roots = args.data or [common.DEFAULT_DATA]
    files = photos(roots, 200 if args.quick else None)
    common.read_all(roots[0])
    pre = Preprocessing(args.crop, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), args.short_side)
    fast_decode = decode._simplejpeg

    def pillow_decode(path: Path) -> Image.Image:
        decode._simplejpeg = lambda: None  # hides simplejpeg: Pillow's path decodes
        try:
            return decode.load_image(path, draft_size=pre.short_side)
        finally:
            decode._simplejpeg = fast_decode

    def pillow_format(path: Path) -> str:
        with Image.open(path) as image:
            return f"{image.format} image"

    def whole_resize(image: Image.Image) -> Any:
        size = resized_size(image.width, image.height, pre.short_side)
        if size != image.size:
            image = image.resize(size, resample=Image.Resampling.BILINEAR)
        return normalise(centre_crop(np.asarray(image), pre.input_size), pre)

    counts = {"photos": len(files), "format_differs": 0, "pixels_differ": 0, "input_differs": 0}
    differing: list[str] = []
    for path in files:
        fast = decode.load_image(path, draft_size=pre.short_side)
        slow = pillow_decode(path)
        same_format = detect(path).format.name == pillow_format(path)
        same_pixels = fast.size == slow.size and np.array_equal(np.asarray(fast), np.asarray(slow))
        same_input = np.array_equal(to_array(fast, pre), whole_resize(fast))
        for key, same in (
            ("format_differs", same_format),
            ("pixels_differ", same_pixels),
            ("input_differs", same_input),
        ):
            if not same:
                counts[key] += 1
                differing.append(f"{path}: {key}")
    timed = files[:TIMED]
    decoded = {p: decode.load_image(p, draft_size=pre.short_side) for p in timed}
    steps = {
        "sniff (detect)": per_photo_ms(detect, timed),
        "sniff without the fast path (Pillow opens the file)": per_photo_ms(pillow_format, timed),
        "decode (load_image)": per_photo_ms(
            lambda p: decode.load_image(p, draft_size=pre.short_side), timed
        ),
        "decode without the fast path (Pillow)": per_photo_ms(pillow_decode, timed),
        "preprocess (to_array)": per_photo_ms(lambda p: to_array(decoded[p], pre), timed),
        "preprocess with the whole resize": per_photo_ms(lambda p: whole_resize(decoded[p]), timed),
    }
    results = {"equality": counts, "differing": differing[:20], "ms_per_photo": steps}
    results["timed_photos"] = len(timed)
    settings = {"data": [str(r) for r in roots], "short_side": pre.short_side, "crop": args.crop}
    settings["quick"] = args.quick
    notes = [
        "one thread, page cache warm; each step's figure: the fastest of 3 passes over the first "
        f"{TIMED} photos (sorted paths), in ms per photo",
        "equality: every photo; the model input compared is to_array against the whole resize "
        "followed by the centre crop, on the same decoded image",
    ]
    common.write_results(
        BENCHMARK, common.out_dir_for(args), common.machine_info(), settings, results, notes
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
