"""The archive's extractors on the formats beyond Pillow's and H.264's: camera RAW, JPEG XL and
16-bit PSD stills; Photo-JPEG, JPEG 2000, HEVC, MPEG-4 and H.263 videos in MOV, MKV, AVI and
3GP; and GPS blocks that hold no usable position."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from PIL.ExifTags import GPS, IFD
from PIL.TiffImagePlugin import IFDRational

from landrec.api import MediaKind, detect
from landrec.archive.extract import image_metadata, video_metadata
from landrec.archive.extract.thumbs import make_thumbnail
from landrec.archive.extract.videos import poster_frame
from landrec.data.video import VideoReadReport, sample_frames
from stills_media import write_dng, write_psd_cmyk16

RED = (200, 30, 30)


def write_video(path: Path, codec: str, pix_fmt: str, size: tuple[int, int] = (64, 48)) -> Path:
    """Ten frames of a flat red at 5 fps in the container `path`'s suffix names."""
    fmt = "mov" if path.suffix == ".mj2" else None
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = *size, pix_fmt
        frame = np.full((size[1], size[0], 3), RED, np.uint8)
        for _ in range(10):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


VIDEOS = [
    ("photo_jpeg.mov", "mjpeg", "yuvj422p", (64, 48)),  # QuickTime Photo-JPEG, as in 2003
    ("mjpeg.mov", "mjpeg", "yuvj420p", (64, 48)),
    ("motion_jpeg2000.mov", "jpeg2000", "yuv420p", (64, 48)),
    ("hevc.mov", "libx265", "yuv420p", (64, 48)),
    ("mpeg4.mkv", "mpeg4", "yuv420p", (64, 48)),
    ("mpeg4.avi", "mpeg4", "yuv420p", (64, 48)),
    ("mjpeg.avi", "mjpeg", "yuvj420p", (64, 48)),
    ("h263.3gp", "h263", "yuv420p", (176, 144)),
]


@pytest.mark.parametrize(("name", "codec", "pix_fmt", "size"), VIDEOS)
def test_video_codecs_index(
    tmp_path: Path, name: str, codec: str, pix_fmt: str, size: tuple[int, int]
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"FFmpeg here has no {codec} encoder")
    path = write_video(tmp_path / name, codec, pix_fmt, size)
    assert detect(path).kind is MediaKind.VIDEO
    fields = video_metadata(path).fields
    assert (fields["width"], fields["height"]) == size
    assert fields["duration_s"] == pytest.approx(2.0, abs=0.3)
    poster = poster_frame(path)
    assert poster.size == size
    assert np.allclose(np.asarray(poster)[8:40, 8:56].mean(axis=(0, 1)), RED, atol=12)
    report = VideoReadReport()
    frames = list(sample_frames(path, every_seconds=1.0, report=report))
    assert (len(frames), report.frames_decoded, report.error) == (2, 10, None)
    name_ = make_thumbnail(path, MediaKind.VIDEO, "b" * 64, tmp_path / "thumbs")
    assert (tmp_path / "thumbs" / name_).is_file()


def test_raw_metadata_and_thumbnail(tmp_path: Path) -> None:
    pytest.importorskip("rawpy")
    preview = np.full((1100, 1400, 3), (250, 10, 10), np.uint8)
    path = write_dng(tmp_path / "shot.dng", size=(64, 48), preview=preview)
    metadata = image_metadata(path)
    fields = metadata.fields
    assert (fields["width"], fields["height"]) == (64, 48)  # the sensor's, not IFD0 preview's
    assert (fields["camera_make"], fields["camera_model"]) == ("Test", "Camera")
    assert metadata.extra["format"] == "Adobe DNG raw image"
    name = make_thumbnail(path, MediaKind.IMAGE, "c" * 64, tmp_path / "thumbs")
    with Image.open(tmp_path / "thumbs" / name) as thumb:
        assert max(thumb.size) == 256
        red, green, _ = thumb.convert("RGB").getpixel((10, 10))
        assert red > 200 > 40 > green  # the preview, not the developed sensor data


@pytest.mark.parametrize("kind", ["psd", "jxl", "float-tiff"])
def test_stills_pillow_cannot_open_get_metadata_and_thumbnail(tmp_path: Path, kind: str) -> None:
    if kind == "psd":
        path = write_psd_cmyk16(tmp_path / "print.psd", (30, 20), (0, 100, 100, 0))
    elif kind == "float-tiff":
        tifffile = pytest.importorskip("tifffile")
        path = tmp_path / "float.tif"
        tifffile.imwrite(path, np.tile(np.float32([1, 0, 0]), (20, 30, 1)), photometric="rgb")
    else:
        pylibjxl = pytest.importorskip("pylibjxl")
        path = tmp_path / "a.jxl"
        red = np.zeros((20, 30, 3), dtype=np.uint8)
        red[..., 0] = 255
        path.write_bytes(pylibjxl.encode(red, lossless=True))
    metadata = image_metadata(path)
    fields = metadata.fields
    assert (fields["width"], fields["height"]) == (30, 20)
    if kind == "jxl":  # from the header alone
        assert (fields["mode"], fields["bit_depth"], fields["pages"]) == ("RGB", 8, 1)
        assert metadata.extra["format"] == "JPEG XL"
    name = make_thumbnail(path, MediaKind.IMAGE, "d" * 64, tmp_path / "thumbs")
    with Image.open(tmp_path / "thumbs" / name) as thumb:
        red, green, _ = thumb.convert("RGB").getpixel((5, 5))
        assert red > 230 and green < 30


def _photo(path: Path, gps: dict[int, object]) -> Path:
    exif = Image.Exif()
    exif.get_ifd(IFD.GPSInfo).update(gps)
    Image.new("RGB", (16, 12), (20, 60, 200)).save(path, exif=exif)
    return path


ZERO = (IFDRational(0, 1), IFDRational(0, 1), IFDRational(0, 1))
PARIS_LAT = (IFDRational(48, 1), IFDRational(51, 1), IFDRational(0, 1))
PARIS_LON = (IFDRational(2, 1), IFDRational(21, 1), IFDRational(0, 1))
REFS = {GPS.GPSLatitudeRef: "N", GPS.GPSLongitudeRef: "E"}
PARIS = {GPS.GPSLatitude: PARIS_LAT, GPS.GPSLongitude: PARIS_LON}
NOWHERE = {GPS.GPSLatitude: ZERO, GPS.GPSLongitude: ZERO}


@pytest.mark.parametrize(
    ("gps", "null_island"),
    [
        ({GPS.GPSLatitude: ZERO, GPS.GPSLongitude: ZERO}, False),  # 0, 0 and no reference
        ({GPS.GPSLatitude: PARIS_LAT, GPS.GPSLongitude: PARIS_LON}, False),  # refs missing
        ({**PARIS, **REFS, GPS.GPSStatus: "V"}, False),  # void: no fix
        ({**NOWHERE, GPS.GPSLatitudeRef: "", GPS.GPSLongitudeRef: ""}, False),  # empty refs
        ({**REFS, GPS.GPSLatitude: ZERO, GPS.GPSLongitude: ZERO}, True),  # null island, flagged
    ],
)
def test_gps_without_a_usable_position(
    tmp_path: Path, gps: dict[int, object], null_island: bool
) -> None:
    metadata = image_metadata(_photo(tmp_path / "p.jpg", gps))
    assert (metadata.fields["latitude"], metadata.fields["longitude"]) == (None, None)
    assert metadata.extra.get("gps_null_island", False) is null_island


def test_gps_with_refs_and_active_status_is_kept(tmp_path: Path) -> None:
    gps = {**REFS, GPS.GPSStatus: "A", GPS.GPSLatitude: PARIS_LAT, GPS.GPSLongitude: PARIS_LON}
    fields = image_metadata(_photo(tmp_path / "p.jpg", gps)).fields
    assert fields["latitude"] == pytest.approx(48.85)
    assert fields["longitude"] == pytest.approx(2.35)


def test_video_at_null_island_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as container:
        container.metadata["location"] = "+00.0000+000.0000/"
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    metadata = video_metadata(path)
    assert (metadata.fields["latitude"], metadata.fields["longitude"]) == (None, None)
    assert metadata.extra["gps_null_island"] is True
