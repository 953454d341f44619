"""Process-wide memory-allocator settings for heavy CPU work.

glibc's malloc serves every block above its mmap threshold (32 MB at most) with a fresh mapping
and unmaps it on free, so the activation maps of every batch are page-faulted in and zeroed
again. On this project's 2-core CPU the tuning below made PyTorch's bf16 feature extraction
1.71x (ResNet18) and 1.22x (VGG16) faster (`python benchmarks/bench_malloc.py`,
docs/benchmarks.md). `tune_allocator` keeps freed memory
in the heap for reuse instead, as jemalloc or tcmalloc would; the price is that the resident
memory of the process stays at its peak until it exits. The CLI calls it at start-up;
LANDREC_MALLOC_TUNING=0 leaves glibc's defaults.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_MAX = -4
GLIBC_MMAP_MAX = 65536  # glibc's defaults, restored by `default_allocator`
GLIBC_TRIM_THRESHOLD = 128 * 1024
KEEP = 1 << 30  # freed heap memory kept before glibc trims it


def _mallopt(settings: dict[int, int]) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all(libc.mallopt(param, value) == 1 for param, value in settings.items())
    except (OSError, AttributeError):  # not glibc (musl, ...): leave the allocator alone
        return False


def tune_allocator() -> bool:
    """Serve large blocks from the heap and keep freed memory; True where applied (glibc)."""
    if os.environ.get("LANDREC_MALLOC_TUNING", "1") == "0":
        return False
    return _mallopt({M_MMAP_MAX: 0, M_TRIM_THRESHOLD: KEEP})


def default_allocator() -> bool:
    """glibc's default behaviour again (for benchmarks comparing the two)."""
    return _mallopt({M_MMAP_MAX: GLIBC_MMAP_MAX, M_TRIM_THRESHOLD: GLIBC_TRIM_THRESHOLD})
