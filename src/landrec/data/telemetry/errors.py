"""The error a user's file can cause while its telemetry is read."""

from __future__ import annotations

from pathlib import Path

from landrec.data.errors import UserError


class TelemetryError(UserError):
    """A file that should hold telemetry cannot be read at all (not a readable container)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: cannot read telemetry: {reason}")
        self.path = path
        self.reason = reason
