"""Video metadata (PyAV): container, codec, duration, frame rate, size, rotation, creation
time, camera and the QuickTime/MP4 ISO 6709 location; and a poster frame for thumbnails."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from landrec.api import MediaKind
from landrec.archive.extract.metadata import (
    COLUMN_CHARS,
    ExtractError,
    Metadata,
    clean_text,
    empty_fields,
    json_value,
    parse_datetime,
    to_float,
    valid_position,
)
from landrec.archive.extract.registry import Source

MAX_PACKETS = 500  # packets read looking for the first decodable frame before giving up
_ISO6709 = re.compile(r"([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)?")
# Counter-clockwise display rotation (PyAV's VideoFrame.rotation) -> the transpose showing it.
_TRANSPOSE = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}
_TIME_KEYS = ("com.apple.quicktime.creationdate", "creation_time", "date")
_MAKE_KEYS = ("com.apple.quicktime.make", "com.android.manufacturer", "make")
_MODEL_KEYS = ("com.apple.quicktime.model", "com.android.model", "model")


def parse_iso6709(text: object) -> tuple[float, float, float | None] | None:
    """(latitude, longitude, altitude) of an ISO 6709 string; None when malformed."""
    # "+48.8577+002.2950+035.000/": degrees, or ±DDMM.M / ±DDMMSS.S (±DDD for longitude).
    cleaned = clean_text(text)
    match = _ISO6709.match(cleaned) if cleaned else None
    if match is None:
        return None
    latitude, longitude = _angle(match.group(1), 2), _angle(match.group(2), 3)
    altitude = to_float(float(match.group(3))) if match.group(3) else None
    if latitude is None or longitude is None:
        return None
    return latitude, longitude, altitude


def _angle(text: str, degree_digits: int) -> float | None:
    """Signed decimal degrees from ±DD[D].D, ±DD[D]MM.M or ±DD[D]MMSS.S."""
    sign = -1.0 if text.startswith("-") else 1.0
    whole, _, fraction = text[1:].partition(".")
    tail = float(f"0.{fraction}") if fraction else 0.0
    degrees = int(whole[:degree_digits] or "0")
    rest = whole[degree_digits:]
    if len(rest) == 0:
        value = degrees + tail
    elif len(rest) == 2:
        value = degrees + (int(rest) + tail) / 60.0
    elif len(rest) == 4:
        value = degrees + int(rest[:2]) / 60.0 + (int(rest[2:]) + tail) / 3600.0
    else:
        return None
    return sign * value


@contextlib.contextmanager
def reading_video(path: Path) -> Iterator[None]:
    """Turn whatever PyAV raises on a bad file into an ExtractError that says why."""
    try:
        if path.stat().st_size == 0:
            raise ExtractError("empty file (0 bytes)")
        yield
    except ExtractError:
        raise
    except av.error.InvalidDataError as exc:
        raise ExtractError(f"not a readable video: {exc.strerror or exc}") from exc
    except av.FFmpegError as exc:
        raise ExtractError(f"corrupt video: {exc.strerror or exc}") from exc
    except OSError as exc:
        raise ExtractError(f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:  # FFmpeg wrappers raise odd types on hostile bytes
        raise ExtractError(f"corrupt video: {type(exc).__name__}: {exc}") from exc


def _open(path: Path) -> InputContainer:
    return av.open(str(path), mode="r", metadata_errors="ignore")


def _video_stream(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise ExtractError("no video stream")
    return container.streams.video[0]


def _first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame | None:
    """The first frame that decodes from here on; None when none does within MAX_PACKETS."""
    for count, packet in enumerate(container.demux(stream)):
        if count >= MAX_PACKETS:
            return None
        with contextlib.suppress(av.error.InvalidDataError):  # a damaged packet: try the next
            for frame in packet.decode():
                if isinstance(frame, VideoFrame):
                    return frame
    return None


def _duration(container: InputContainer, stream: VideoStream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return to_float(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        return to_float(float(stream.duration * stream.time_base))
    return None


def _first(metadata: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    lowered = {key.lower(): value for key, value in metadata.items()}
    return next((lowered[key] for key in keys if lowered.get(key)), None)


def _location(metadata: Mapping[str, str]) -> tuple[float, float, float | None] | None:
    for key, value in metadata.items():
        name = key.lower()
        if name.startswith("location") or name.endswith("location.iso6709"):
            position = parse_iso6709(value)
            if position is not None:
                return position
    return None


def video_metadata(path: Path) -> Metadata:
    """Container, codec, duration, fps, size, rotation, time and place of a video."""
    # One frame is decoded: it carries the display matrix, and proves the stream is readable.
    with reading_video(path), _open(path) as container:
        stream = _video_stream(container)
        frame = _first_frame(container, stream)
        if frame is None:
            raise ExtractError("no decodable video frame")
        tags = {**stream.metadata, **container.metadata}  # the container's tags win
        fps = to_float(stream.average_rate or stream.guessed_rate)
        fields = empty_fields()
        fields.update(
            width=stream.codec_context.width or frame.width or None,
            height=stream.codec_context.height or frame.height or None,
            container=clean_text(container.format.name, COLUMN_CHARS["container"]),
            codec=clean_text(stream.codec_context.name, COLUMN_CHARS["codec"]),
            duration_s=_duration(container, stream),
            fps=fps if fps and fps > 0 else None,
            rotation=_rotation(frame, stream),
            taken_at=parse_datetime(_first(tags, _TIME_KEYS)),
            camera_make=clean_text(_first(tags, _MAKE_KEYS), COLUMN_CHARS["camera_make"]),
            camera_model=clean_text(_first(tags, _MODEL_KEYS), COLUMN_CHARS["camera_model"]),
        )
        position = _location(tags)
        null_island = position is not None and position[:2] == (0.0, 0.0)
        if position is not None and not null_island:  # 0, 0: a recorder without a fix
            fields.update(valid_position(*position))
        extra = _extra(container, stream, frame)
        if null_island:
            extra["gps_null_island"] = True
    return Metadata(fields, extra)


class VideoMetadata:
    """The extractor of a video's container, codec, duration, time and place."""

    name = "metadata"
    kinds = frozenset({MediaKind.VIDEO})

    def extract(self, source: Source) -> Metadata:
        return video_metadata(source.path)


def _rotation(frame: VideoFrame, stream: VideoStream) -> int:
    """Clockwise degrees a player turns the picture (0, 90, 180, 270), as exiftool says."""
    # From the display matrix (PyAV gives it counter-clockwise), else an old `rotate` tag.
    counter_clockwise = to_float(frame.rotation) or 0.0
    if counter_clockwise:
        return round(-counter_clockwise) % 360
    try:
        return int(float(stream.metadata.get("rotate", "0"))) % 360
    except (ValueError, OverflowError):  # "abc", "nan", "inf"
        return 0


def _extra(container: InputContainer, stream: VideoStream, frame: VideoFrame) -> dict[str, object]:
    context = stream.codec_context
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    values = {
        "format_long_name": container.format.long_name,
        "major_brand": container.metadata.get("major_brand"),
        "encoder": container.metadata.get("encoder"),
        "bit_rate": container.bit_rate,
        "frames": stream.frames or None,
        "pix_fmt": frame.format.name,
        "profile": context.profile,
        "audio_codec": audio,
        "video_streams": len(container.streams.video),
        "audio_streams": len(container.streams.audio),
    }
    kept = {key: json_value(value) for key, value in values.items()}
    return {key: value for key, value in kept.items() if value not in (None, "")}


def poster_frame(path: Path, at: float = 0.1) -> Image.Image:
    """An RGB image of the frame near `at` (a fraction) of the video's duration, turned upright."""
    with reading_video(path), _open(path) as container:
        stream = _video_stream(container)
        duration = _duration(container, stream)
        frame = None
        if duration and stream.time_base:
            start = stream.start_time or 0
            target = start + int(duration * at / float(stream.time_base))
            with contextlib.suppress(av.FFmpegError):
                container.seek(target, stream=stream)  # the keyframe at or before the target
                frame = _first_frame(container, stream)
        if frame is None:
            container.seek(0)
            frame = _first_frame(container, stream)
        if frame is None:
            raise ExtractError("no decodable video frame")
        image = frame.to_image()
        turn = _TRANSPOSE.get(round(to_float(frame.rotation) or 0.0) % 360)
    return image.transpose(turn) if turn is not None else image
