"""video_metadata on generated MP4s, and the ISO 6709 location parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from landrec.archive.extract import FIELD_NAMES, ExtractError, parse_iso6709, video_metadata

from .samples import WriteVideo

PARIS = "+48.8577+002.2950+035.000/"


def test_stream_fields(make_video: WriteVideo) -> None:
    metadata = video_metadata(make_video(frames=25, size=(64, 48)))
    fields = metadata.fields
    assert set(fields) == set(FIELD_NAMES)
    assert (fields["width"], fields["height"], fields["fps"]) == (64, 48, 10.0)
    assert fields["duration_s"] == pytest.approx(2.5, abs=0.15)
    assert fields["codec"] in {"h264", "mpeg4"}
    assert "mp4" in str(fields["container"])
    assert (fields["rotation"], fields["taken_at"], fields["latitude"]) == (0, None, None)
    assert json.loads(json.dumps(metadata.extra)) == metadata.extra
    assert metadata.extra["frames"] == 25


def test_location_and_creation_time_written_by_pyav(make_video: WriteVideo) -> None:
    tags = {"location": PARIS, "creation_time": "2021-05-06T07:08:09Z"}
    fields = video_metadata(make_video(metadata=tags)).fields
    assert fields["latitude"] == pytest.approx(48.8577)
    assert fields["longitude"] == pytest.approx(2.295)
    assert fields["altitude"] == pytest.approx(35.0)
    assert fields["taken_at"] == datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_apple_tags_win(make_video: WriteVideo) -> None:
    tags = {
        "creation_time": "2021-05-06T07:08:09Z",
        "com.apple.quicktime.creationdate": "2021-05-06T09:08:09+0200",
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 15",
    }
    path = make_video("apple.mov", metadata=tags, movflags="use_metadata_tags")
    fields = video_metadata(path).fields
    taken = fields["taken_at"]
    assert isinstance(taken, datetime)
    assert taken.utcoffset() == timedelta(hours=2)  # the phone's local zone is kept
    assert taken == datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert (fields["camera_make"], fields["camera_model"]) == ("Apple", "iPhone 15")


@pytest.mark.parametrize(("ccw", "clockwise"), [(90, 270), (-90, 90), (180, 180)])
def test_rotation_from_display_matrix(make_video: WriteVideo, ccw: int, clockwise: int) -> None:
    assert video_metadata(make_video(rotation=ccw)).fields["rotation"] == clockwise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PARIS, (48.8577, 2.295, 35.0)),
        ("-33.8688+151.2093/", (-33.8688, 151.2093, None)),
        ("+40.6894-074.0447-012.5/", (40.6894, -74.0447, -12.5)),
        ("+4851.462+00217.700/", (48 + 51.462 / 60, 2 + 17.7 / 60, None)),
        ("-335130.5+1511234/", (-(33 + 51 / 60 + 30.5 / 3600), 151 + 12 / 60 + 34 / 3600, None)),
    ],
)
def test_iso6709(text: str, expected: tuple[float, float, float | None]) -> None:
    parsed = parse_iso6709(text)
    assert parsed is not None
    assert parsed[:2] == pytest.approx(expected[:2])
    assert parsed[2] == (None if expected[2] is None else pytest.approx(expected[2]))


@pytest.mark.parametrize("text", ["", "nowhere", "+1234567+1/", b"\xff\xfe", None, "+-/"])
def test_iso6709_garbage(text: object) -> None:
    assert parse_iso6709(text) is None


def test_out_of_range_location_dropped(make_video: WriteVideo) -> None:
    fields = video_metadata(make_video(metadata={"location": "+95.0+200.0/"})).fields
    assert fields["latitude"] is None and fields["longitude"] is None


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(ExtractError, match="no video stream"):
        video_metadata(path)
