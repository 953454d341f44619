"""Navigation data in the archive: a raw .klv file indexed with its track (never classified), a
video's side .klv giving its segments positions, the campaign's first rule on photos, and a
re-index that replaces a track instead of adding one."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from landrec.archive.commands import open_indexer, retag
from landrec.archive.db.models import File, Track, TrackPoint
from landrec.archive.db.session import open_database
from landrec.archive.indexer import Indexer
from landrec.archive.scanner import scan
from landrec.archive.settings import make_settings
from telemetry_media import st0601_packets, write_raw_klv, write_ts

from .test_indexer import write_video

GPS, IFD = ExifTags.GPS, ExifTags.IFD
POINTS = 11  # 100 packets at 10 Hz over 9.9 s, thinned to 1 Hz: one a second and the last


def photo_at(path: Path, latitude: float, longitude: float) -> Path:
    """A JPEG whose EXIF GPS says it was taken at (latitude, longitude)."""
    exif = Image.Exif()
    place = exif.get_ifd(IFD.GPSInfo)
    place[GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
    place[GPS.GPSLatitude] = (IFDRational(round(abs(latitude) * 100), 100), 0, 0)
    place[GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
    place[GPS.GPSLongitude] = (IFDRational(round(abs(longitude) * 100), 100), 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (20, 60, 200)).save(path, exif=exif)
    return path


def index(root: Path) -> dict[str, File]:
    """A scan of `root` without a model; the rows by path, segments loaded."""
    settings = make_settings(root, stable_s=0.0)
    indexer = Indexer(settings, open_database(settings.db_url))
    try:
        scan(indexer, settle_s=0.0)
    finally:
        indexer.close()
    return rows_of(indexer)


def rows_of(indexer: Indexer) -> dict[str, File]:
    with indexer.sessions() as session:
        query = select(File).options(selectinload(File.segments))
        return {r.path: r for r in session.scalars(query)}


def track_counts(indexer_root: Path) -> tuple[int, int, int]:
    """(tracks, track points, footprint corners) in the archive of `indexer_root`."""
    sessions = open_database(make_settings(indexer_root).db_url)
    with sessions() as session:
        tracks = session.scalar(select(func.count()).select_from(Track))
        points = session.scalar(select(func.count()).select_from(TrackPoint))
        corners = session.scalar(
            select(func.count()).select_from(TrackPoint).where(TrackPoint.footprint.is_(True))
        )
    return int(tracks or 0), int(points or 0), int(corners or 0)


def test_a_raw_klv_file_is_indexed_with_its_track_and_campaign_air(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    write_raw_klv(root / "flight.klv", st0601_packets(100), garbage=b"\x00junk")
    row = index(root)["flight.klv"]
    assert (row.status, row.kind, row.campaign, row.campaign_corrected) == (
        "indexed", "track", "air", False,
    )  # fmt: skip
    assert (row.context, row.model_version, row.error, row.thumbnail) == (None, None, None, None)
    assert (row.latitude, row.longitude) == pytest.approx((47.0, 8.0))  # its first point
    assert row.taken_at == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert row.extra is not None
    assert row.extra["platform"] == "TEST-UAV" and row.extra["sensor"] == "EO"
    assert row.extra["telemetry_standards"] == ["MISB ST 0601"]
    assert (row.extra["telemetry_packets"], row.extra["telemetry_bad_packets"]) == (100, 0)
    assert track_counts(root) == (1, POINTS + 4 * POINTS, 4 * POINTS)


def test_a_reindex_replaces_the_track_and_a_second_scan_leaves_it(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    klv = write_raw_klv(root / "flight.klv", st0601_packets(100))
    first = index(root)["flight.klv"]
    assert track_counts(root) == (1, 5 * POINTS, 4 * POINTS)
    again = index(root)["flight.klv"]  # unchanged: not processed again (no model tags it)
    assert again.last_processed == first.last_processed
    klv.write_bytes(klv.read_bytes() + b"\xff" * 7)  # new content: indexed again
    changed = index(root)["flight.klv"]
    assert changed.id == first.id and changed.last_processed != first.last_processed
    assert changed.sha256 != first.sha256
    assert track_counts(root) == (1, 5 * POINTS, 4 * POINTS)


def test_a_bad_klv_file_fails_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    packets = st0601_packets(3)
    (root / "cut.klv").write_bytes(packets[0][:20])  # the key and a little: no position
    row = index(root)["cut.klv"]
    assert (row.status, row.kind, row.campaign) == ("failed", "track", None)
    assert row.error is not None and row.error.startswith("no position in its telemetry (")
    assert track_counts(root) == (0, 0, 0)


@pytest.mark.parametrize(
    ("latitude", "longitude", "campaign"),
    [(45.0, -30.0, "sea"), (48.85, 2.35, "land"), (-33.9, 18.4, "land")],
)
def test_a_photo_gets_the_campaign_of_its_gps_position(
    tmp_path: Path, latitude: float, longitude: float, campaign: str
) -> None:
    root = tmp_path / "storage"
    photo_at(root / "shot.jpg", latitude, longitude)
    Image.new("RGB", (32, 24), (200, 60, 20)).save(root / "nowhere.jpg")
    rows = index(root)
    shot = rows["shot.jpg"]
    assert (shot.latitude, shot.longitude) == pytest.approx((latitude, longitude))
    assert (shot.status, shot.campaign) == ("indexed", campaign)
    assert (rows["nowhere.jpg"].status, rows["nowhere.jpg"].campaign) == ("indexed", None)
    assert track_counts(root) == (0, 0, 0)


def test_a_videos_side_klv_gives_its_segments_positions(
    tmp_path: Path, red_blue_checkpoint: Path
) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    write_video(root / "clip.mp4", seconds=4, fps=5)
    write_raw_klv(root / "clip.klv", st0601_packets(40))  # 4 s at 10 Hz beside it
    indexer = open_indexer(make_settings(root, model=red_blue_checkpoint, stable_s=0.0))
    try:
        scan(indexer, settle_s=0.0)
    finally:
        indexer.close()
    rows = rows_of(indexer)
    video, side = rows["clip.mp4"], rows["clip.klv"]
    assert (video.status, video.kind, video.campaign) == ("indexed", "video", "air")
    assert video.context in ("red", "blue") and video.segments
    assert video.extra is not None and video.extra["platform"] == "TEST-UAV"
    assert (side.status, side.kind, side.context) == ("indexed", "track", None)
    for segment in video.segments:
        assert segment.start_s is not None
        second = int(segment.start_s)  # the point of the whole second at or before its start
        expected = 47.0 + 0.0005 * 10 * second, 8.0 + 0.0005 * 10 * second
        assert (segment.sensor_latitude, segment.sensor_longitude) == pytest.approx(expected)
        centre = expected[0] + 0.01, expected[1] + 0.01
        assert (segment.frame_center_latitude, segment.frame_center_longitude) == pytest.approx(
            centre
        )
    assert track_counts(root) == (2, 2 * 5 * 5, 2 * 4 * 5)  # 4 s at 1 Hz + the last: 5 each
    # a retag writes new segments: they are placed on the stored track as well
    before = [(s.start_s, s.sensor_latitude, s.frame_center_longitude) for s in video.segments]
    retag(make_settings(root).db_url, red_blue_checkpoint)
    after = rows_of(indexer)["clip.mp4"].segments
    assert [(s.start_s, s.sensor_latitude, s.frame_center_longitude) for s in after] == before


def test_a_side_file_after_its_video_gives_the_video_its_track(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    write_video(root / "Clip.mp4", seconds=2, fps=5)
    write_video(root / "clip.part.mp4", seconds=2, fps=5)  # stem "clip.part": not its video
    first = index(root)
    assert first["Clip.mp4"].campaign is None and track_counts(root) == (0, 0, 0)
    side = write_raw_klv(root / "clip.KLV", st0601_packets(20))  # written after the index
    assert first["Clip.mp4"].last_processed.timestamp() < side.stat().st_mtime  # type: ignore[union-attr]
    rows = index(root)  # one scan: the side file, then its video again
    assert (rows["Clip.mp4"].status, rows["Clip.mp4"].campaign) == ("indexed", "air")
    assert rows["clip.part.mp4"].campaign is None
    assert rows["clip.part.mp4"].last_processed == first["clip.part.mp4"].last_processed
    assert track_counts(root)[0] == 2  # the side file's own and the video's
    again = index(root)  # nothing changed: nothing indexed again
    assert again["Clip.mp4"].last_processed == rows["Clip.mp4"].last_processed


def test_a_transport_streams_klv_gives_the_video_its_track(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    write_ts(root / "flight.ts", seconds=3, fps=5, klv_streams=[st0601_packets(30)])
    row = index(root)["flight.ts"]
    assert (row.status, row.kind, row.campaign) == ("indexed", "video", "air")
    assert row.extra is not None and row.extra["platform"] == "TEST-UAV"
    assert (row.latitude, row.longitude) == pytest.approx((47.0, 8.0))
    assert track_counts(root)[0] == 1
