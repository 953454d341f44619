"""The data layer's choices as plain values, importable without torch (the configuration and the
command line's startup need them)."""

from __future__ import annotations

from enum import Enum


class AugPreset(str, Enum):
    NONE = "none"
    FLIP = "flip"  # horizontal flip and a mild random-resized crop
    REPORT = "report"  # Resize 256, RandomCrop 224, HFlip, Rotation 15, ColorJitter
    TRIVIAL = "trivial"  # TrivialAugmentWide + flip + random-resized crop
    ROBUST = "robust"  # flip's geometry + blur, noise, JPEG, darkening, grayscale, low contrast
    # views from above: any rotation of 90 degrees and both flips, zoom 0.35-1, resolution
    # (blur or sharpening), colour and white balance, JPEG, noise: other sensors' looks
    OVERHEAD = "overhead"
