"""The telemetry extractor: a video's unreadable telemetry never fails the video (the reason is
kept in `extra`), a telemetry file's fails the file with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from landrec.api import Format, MediaKind
from landrec.api.telemetry import TelemetryError
from landrec.archive.extract import ExtractError, Source, TelemetryExtractor
from landrec.archive.extract import telemetry as module
from telemetry_media import st0601_packets, write_raw_klv

VIDEO = Format(MediaKind.VIDEO, "MP4/QuickTime video", "video/mp4")
KLV = Format(MediaKind.TELEMETRY, "KLV", "application/octet-stream")


def source(path: Path, format: Format) -> Source:
    return Source(path, "0" * 64, format, path.parent / "thumbs")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TelemetryError(Path("x"), "not a transport stream"), "not a transport stream"),
        (IndexError("index out of range"), "IndexError: index out of range"),
    ],
)
def test_a_videos_unreadable_telemetry_is_noted_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str
) -> None:
    def broken(path: Path, side_files: bool = True, every_s: float | None = None) -> None:
        raise error

    monkeypatch.setattr(module, "read_telemetry", broken)
    found = TelemetryExtractor().extract(source(tmp_path / "clip.mp4", VIDEO))
    assert (found.extra, found.track, found.fields) == ({"telemetry_error": reason}, None, {})
    with pytest.raises(
        ExtractError, match=r"^(not a transport stream|unreadable telemetry: IndexError)$"
    ):
        TelemetryExtractor().extract(source(tmp_path / "flight.klv", KLV))


def test_a_klv_files_track_and_extra(tmp_path: Path) -> None:
    path = write_raw_klv(tmp_path / "flight.klv", st0601_packets(30))
    found = TelemetryExtractor().extract(source(path, KLV))
    assert found.track is not None and len(found.track.points) == 4  # 0, 1, 2 s and 2.9 s
    assert found.extra == {
        "platform": "TEST-UAV",
        "sensor": "EO",
        "telemetry_standards": ["MISB ST 0601"],
        "telemetry_packets": 30,
        "telemetry_bad_packets": 0,
    }
    assert found.fields == {}  # the file's columns are filled from the track once, in prepare
