"""The allocator tuning the CLI applies: on where glibc is, off on request."""

from __future__ import annotations

import platform

import pytest

from landrec.engine.runtime import default_allocator, tune_allocator


def test_allocator_tuning_applies_on_glibc_and_can_be_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    try:
        assert tune_allocator() is glibc
        monkeypatch.setenv("LANDREC_MALLOC_TUNING", "0")
        assert tune_allocator() is False
    finally:
        assert default_allocator() is glibc  # this test process gets glibc's defaults back
