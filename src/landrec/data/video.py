"""Video files -> a stream of sampled, upright RGB frames, decoded one at a time with PyAV."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import av

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".ts", ".mts"})
THUMB_SIZE = 32  # side of the grayscale thumbnail compared for scene changes
EPSILON = 1e-6  # seconds; frame times and the sampling grid are compared with this slack
TRUNCATION_SLACK = 1.0  # seconds short of the stated duration that still count as complete
MAX_BAD_PACKETS = 100  # consecutive undecodable packets before the stream counts as broken


class VideoDecodeError(Exception):
    """A file that cannot be opened as a video; the message names the file and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass
class Frame:
    time: float  # seconds from the start of the video stream
    image: Image.Image  # 8-bit RGB, upright per the rotation metadata


@dataclass
class VideoReadReport:
    """How far decoding got; filled in by `sample_frames` as it goes."""

    duration: float | None = None  # seconds, as the file states it (None if unknown)
    frames_decoded: int = 0
    frames_sampled: int = 0
    end_time: float = 0.0  # seconds: end of the last decoded frame
    bad_packets: int = 0  # packets the decoder refused and that were skipped
    bad_packet_reason: str | None = None  # the decoder's reason for the first one
    rotation: int = 0  # degrees counter-clockwise applied to make frames upright
    error: str | None = None  # why decoding stopped early; None when it reached the end

    def to_dict(self) -> dict:
        return {
            "duration": self.duration,
            "frames_decoded": self.frames_decoded,
            "frames_sampled": self.frames_sampled,
            "end_time": self.end_time,
            "bad_packets": self.bad_packets,
            "bad_packet_reason": self.bad_packet_reason,
            "rotation": self.rotation,
            "error": self.error,
        }


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        return None
    return av


def _open(path: Path) -> av.container.InputContainer:
    """Open `path` for reading its first video stream, or raise VideoDecodeError naming it."""
    av = _import_av()
    if av is None:
        raise VideoDecodeError(path, "reading video needs PyAV: pip install 'landrec[media]'")
    if not path.is_file():
        raise VideoDecodeError(path, "file not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoDecodeError(path, f"not a readable video file ({_reason(exc)})") from exc
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "no video stream in the file")
    return container


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without the errno prefix and the quoted path or function name."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def _duration(container: av.container.InputContainer, stream: av.video.VideoStream) -> float | None:
    """The video stream's duration in seconds, else the container's, else None."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _rotation(frame: av.VideoFrame, stream: av.video.VideoStream) -> int:
    """Counter-clockwise degrees (a multiple of 90) that make the frame upright."""
    degrees = frame.rotation  # from the display matrix (stream or frame side data)
    if not degrees and "rotate" in stream.metadata:  # old files: clockwise `rotate` tag
        try:
            degrees = -int(stream.metadata["rotate"])
        except ValueError:
            degrees = 0
    return round(degrees / 90.0) * 90 % 360


def _to_image(frame: av.VideoFrame, rotation: int, draft_size: int | None) -> Image.Image:
    """Convert to RGB, shrinking by 2, 4 or 8 while the short side stays >= draft_size."""
    width, height = frame.width, frame.height
    scale = 1
    if draft_size is not None:
        while scale < 8 and min(width, height) // (2 * scale) >= draft_size:
            scale *= 2
    if scale > 1:
        image = frame.to_image(width=width // scale, height=height // scale, interpolation="AREA")
    else:
        image = frame.to_image()
    if rotation:
        image = image.rotate(rotation, expand=True)  # PIL rotates counter-clockwise
    return image


def _thumbnail(frame: av.VideoFrame) -> np.ndarray:
    small = frame.reformat(width=THUMB_SIZE, height=THUMB_SIZE, format="gray", interpolation="AREA")
    return small.to_ndarray().astype(np.float32) / 255.0


class _Clock:
    """Frame times in seconds from the stream start; estimates times that have no pts."""

    def __init__(self, stream: av.video.VideoStream) -> None:
        start, time_base = stream.start_time, stream.time_base
        # None: take the first frame's time as zero
        self.start = float(start * time_base) if start is not None and time_base else None
        rate = stream.average_rate or stream.guessed_rate
        self.frame_step = 1.0 / float(rate) if rate else 0.0
        self.last = -self.frame_step

    def time(self, frame: av.VideoFrame) -> float:
        if frame.pts is None or frame.time_base is None:
            now = self.last + self.frame_step
        else:
            absolute = float(frame.pts * frame.time_base)
            if self.start is None:
                self.start = absolute
            now = absolute - self.start
        self.last = now
        return now

    def length(self, frame: av.VideoFrame) -> float:
        """How long `frame` is shown, in seconds."""
        if frame.duration and frame.time_base is not None:
            return float(frame.duration * frame.time_base)
        return self.frame_step


class _Picker:
    """Decides which frames to keep: the first at or after each grid time, and scene changes."""

    def __init__(self, every_seconds: float, scene_change: float | None) -> None:
        if every_seconds <= 0:
            raise ValueError(f"every_seconds must be positive, got {every_seconds}")
        self.every = every_seconds
        self.scene_change = scene_change
        self.next_time = 0.0
        self.last_thumb: np.ndarray | None = None

    def keep(self, frame: av.VideoFrame, time: float) -> bool:
        on_grid = time >= self.next_time - EPSILON
        thumb = _thumbnail(frame) if self.scene_change is not None else None
        changed = (
            thumb is not None
            and self.last_thumb is not None
            and float(np.abs(thumb - self.last_thumb).mean()) > (self.scene_change or 0.0)
        )
        if not (on_grid or changed):
            return False
        if on_grid:  # the next grid time after this frame: gaps in VFR video skip grid times
            self.next_time = (math.floor((time + EPSILON) / self.every) + 1) * self.every
        self.last_thumb = thumb
        return True


def _decoded(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    report: VideoReadReport,
) -> Iterator[av.VideoFrame]:
    """Every frame in order; undecodable packets are skipped, a read error ends the stream."""
    av = _import_av()
    bad_in_a_row = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:  # one corrupt packet: skip it, keep going
                report.bad_packets += 1
                report.bad_packet_reason = report.bad_packet_reason or _reason(exc)
                bad_in_a_row += 1
                if bad_in_a_row >= MAX_BAD_PACKETS:
                    report.error = f"{bad_in_a_row} packets in a row could not be decoded"
                    return
                continue
            bad_in_a_row = 0
            yield from frames
    except (av.error.FFmpegError, OSError) as exc:  # the container itself cannot be read on
        report.error = f"read error: {_reason(exc)}"


def _check_complete(report: VideoReadReport, max_frames_hit: bool) -> None:
    """Flag a stream that ended well short of the duration its file states (truncated)."""
    if max_frames_hit or report.duration is None:
        return
    if report.end_time < report.duration - TRUNCATION_SLACK:
        short = f"stream ended at {report.end_time:.1f} s of {report.duration:.1f} s"
        report.error = f"{short}: {report.error or 'truncated or corrupt file'}"
    if report.error is not None and report.bad_packets:
        report.error += f" ({report.bad_packets} undecodable packets: {report.bad_packet_reason})"


def sample_frames(
    path: str | Path,
    every_seconds: float = 1.0,
    scene_change: float | None = None,
    max_frames: int | None = None,
    report: VideoReadReport | None = None,
    draft_size: int | None = None,
) -> Iterator[Frame]:
    """Yield the first frame at or after every `every_seconds` (by presentation time), plus,
    with `scene_change`, any frame whose 32x32 grayscale thumbnail differs from the last kept
    one by more than that mean absolute difference (0..1). Frames are decoded one at a time.

    An unreadable file raises VideoDecodeError on the first `next()`. A stream that breaks
    partway ends the iteration instead; `report` (when given) then says how far it got.
    `draft_size` lets the scaler shrink large frames while their short side stays >= it.
    """
    path = Path(path)
    report = report if report is not None else VideoReadReport()
    picker = _Picker(every_seconds, scene_change)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        report.duration = _duration(container, stream)
        clock = _Clock(stream)
        hit_max = False
        for frame in _decoded(container, stream, report):
            time = clock.time(frame)
            report.frames_decoded += 1
            report.end_time = max(report.end_time, time + clock.length(frame))
            if not picker.keep(frame, time):
                continue
            report.rotation = _rotation(frame, stream)
            report.frames_sampled += 1
            yield Frame(time, _to_image(frame, report.rotation, draft_size))
            if max_frames is not None and report.frames_sampled >= max_frames:
                hit_max = True
                break
        _check_complete(report, hit_max)
    finally:
        container.close()
