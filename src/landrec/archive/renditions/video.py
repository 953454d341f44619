"""A video proxy any browser plays: H.264 (yuv420p) and AAC in an MP4 whose index comes first
(`+faststart`), at most 720p (aspect kept, even sides, never upscaled), at a constant frame
rate, its t=0 the original video stream's start (`start_time`: the origin the telemetry track's
`t` and the context segments count from), so a time in the proxy is the same time in both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from landrec.archive.renditions.plan import RenditionError

Progress = Callable[[float], None]  # the fraction done, 0..1; may raise to cancel
MAX_LONG, MAX_SHORT = 1280, 720  # 720p, either way up
DEFAULT_FPS = Fraction(25)
MAX_FPS = Fraction(60)
X264 = {"preset": "veryfast", "crf": "23", "profile": "high", "level": "4.1"}
AAC_RATE, AAC_BIT_RATE, AAC_FRAME = 48_000, 128_000, 1024
EPS = 1e-6


@dataclass(frozen=True)
class Geometry:
    """The proxy's frame size and rate, and the clockwise turn that shows the picture upright."""

    width: int
    height: int
    fps: Fraction
    turn: int  # 0, 90, 180, 270


def proxy_size(
    width: int, height: int, max_long: int = MAX_LONG, max_short: int = MAX_SHORT
) -> tuple[int, int]:
    """(width, height) within max_long x max_short (either way up), aspect kept, even, never
    larger than the source."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, max_long / long_side, max_short / short_side)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def origin(container: InputContainer, stream: VideoStream) -> float:
    """Seconds of the video stream's start: the proxy's 0 (as the telemetry's origin)."""
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def transcode(source: Path, target: Path, progress: Progress | None = None) -> None:
    """Write the proxy of `source` to `target` (an .mp4 path); `RenditionError` when the
    source cannot be decoded."""
    try:
        with av.open(str(source)) as container:
            _transcode(container, target, progress or (lambda _: None))
    except av.FFmpegError as exc:
        raise RenditionError(f"not a decodable video ({exc})") from None


def _transcode(container: InputContainer, target: Path, progress: Progress) -> None:
    if not container.streams.video:
        raise RenditionError("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    audio = container.streams.audio[0] if container.streams.audio else None
    start = origin(container, stream)
    duration = _duration(container, stream)
    frames = _frames(container, stream, audio)
    head = []  # the frames up to the first picture, which decides the geometry
    for item in frames:
        head.append(item)
        if item[0] == "video":
            break
    else:
        raise RenditionError("no decodable video frame")
    geometry = _geometry(stream, head[-1][1])
    options = {"movflags": "+faststart"}
    with av.open(str(target), "w", format="mp4", options=options) as out:
        video_out = _video_stream(out, geometry)
        audio_out = _audio_stream(out) if audio is not None else None
        writer = _Writer(out, video_out, audio_out, geometry, start)
        for kind, frame in _chain(head, frames):
            if kind == "video":
                writer.video(frame)
                if duration:
                    progress(min(1.0, writer.shown / duration))
            else:
                writer.audio(frame)
        writer.close()
    if writer.count == 0:
        raise RenditionError("no decodable video frame")
    progress(1.0)


def _chain(head: list, tail: Iterator) -> Iterator:
    yield from head
    yield from tail


def _frames(container: InputContainer, video: VideoStream, audio: AudioStream | None) -> Iterator:
    """("video" | "audio", frame) in decoding order; damaged packets skipped."""
    streams = [video] + ([audio] if audio is not None else [])
    for packet in container.demux(*streams):
        try:
            decoded = packet.decode()
        except av.error.InvalidDataError:
            continue
        kind = "video" if packet.stream is video else "audio"
        for frame in decoded:
            yield kind, frame


def _duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else None


def _geometry(stream: VideoStream, frame: VideoFrame) -> Geometry:
    turn = round(-(float(frame.rotation or 0.0))) % 360  # PyAV: counter-clockwise degrees
    width, height = frame.width, frame.height
    aspect = stream.sample_aspect_ratio
    if aspect and aspect > 0 and aspect != 1:  # non-square pixels: shown at the display aspect
        width = round(width * float(aspect))
    if turn in (90, 270):
        width, height = height, width
    rate = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
    fps = Fraction(rate).limit_denominator(1001)
    if fps <= 0 or fps > MAX_FPS:
        fps = DEFAULT_FPS if fps <= 0 else MAX_FPS
    out_width, out_height = proxy_size(width, height)
    return Geometry(out_width, out_height, fps, turn)


def _video_stream(out: OutputContainer, geometry: Geometry) -> av.VideoStream:
    stream = out.add_stream("libx264", rate=geometry.fps, options=dict(X264))
    stream.width, stream.height, stream.pix_fmt = geometry.width, geometry.height, "yuv420p"
    stream.time_base = stream.codec_context.time_base = 1 / geometry.fps
    stream.codec_context.gop_size = max(1, round(2 * geometry.fps))  # a keyframe every 2 s
    return stream


def _audio_stream(out: OutputContainer) -> av.AudioStream:
    stream = out.add_stream("aac", rate=AAC_RATE)
    stream.layout = "stereo"
    stream.bit_rate = AAC_BIT_RATE
    return stream


class _Writer:
    """Frames in, a constant-rate proxy out: each output frame n (at n/fps s from the origin)
    shows the source frame on screen at that time (repeated or dropped as the rate needs);
    audio resampled to 48 kHz stereo and placed by its time from the origin."""

    def __init__(
        self,
        out: OutputContainer,
        video: av.VideoStream,
        audio: av.AudioStream | None,
        geometry: Geometry,
        start: float,
    ) -> None:
        self.out, self.video_out, self.audio_out = out, video, audio
        self.geometry, self.start = geometry, start
        self.count = 0  # output video frames written
        self.held: VideoFrame | None = None  # the source frame on screen now, scaled
        self.shown = 0.0  # the source time (from the origin) of the held frame
        self.step = 1.0 / float(geometry.fps)
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AAC_RATE)
        self.fifo = av.AudioFifo()
        self.samples = 0  # audio samples written
        self.audio_begun = False

    def video(self, frame: VideoFrame) -> None:
        at = self._seconds(frame)
        if at is None:
            at = self.shown + self.step if self.held is not None else 0.0
        if self.held is not None:
            while self.count * self.step < at - EPS:  # until this frame takes the screen
                self._emit(self.held)
        self.held, self.shown = self._scaled(frame), at

    def audio(self, frame: av.AudioFrame) -> None:
        if self.audio_out is None:
            return
        at = self._seconds(frame)
        frame.pts = None
        for chunk in self.resampler.resample(frame):
            if not self.audio_begun:
                self.audio_begun = True
                skip = round((at or 0.0) * AAC_RATE)
                if skip > 0:  # the sound starts after the picture: silence before it
                    self.fifo.write(_silence(skip))
                elif skip < 0:  # before the picture's start: cut
                    self.fifo.write(chunk)
                    self.fifo.read(min(-skip, self.fifo.samples))
                    continue
            self.fifo.write(chunk)
        self._drain_audio(final=False)

    def close(self) -> None:
        if self.held is not None:  # the last frame is on screen for one frame's time
            while self.count * self.step < self.shown + self.step - EPS:
                self._emit(self.held)
        self.out.mux(self.video_out.encode(None))
        if self.audio_out is not None:
            for chunk in self.resampler.resample(None):
                self.fifo.write(chunk)
            self._drain_audio(final=True)
            self.out.mux(self.audio_out.encode(None))

    def _seconds(self, frame: av.VideoFrame | av.AudioFrame) -> float | None:
        return None if frame.time is None else frame.time - self.start

    def _scaled(self, frame: VideoFrame) -> VideoFrame:
        g = self.geometry
        if g.turn:
            pixels = np.rot90(frame.to_ndarray(format="rgb24"), k=-g.turn // 90)
            upright = np.ascontiguousarray(pixels, dtype=np.uint8)
            frame = VideoFrame.from_ndarray(upright, format="rgb24")
        return frame.reformat(width=g.width, height=g.height, format="yuv420p")

    def _emit(self, frame: VideoFrame) -> None:
        frame.pts, frame.time_base = self.count, 1 / self.geometry.fps
        self.out.mux(self.video_out.encode(frame))
        self.count += 1

    def _drain_audio(self, final: bool) -> None:
        """Encode whole AAC frames, never past the video's end."""
        assert self.audio_out is not None
        end = round(max(self.count * self.step, self.shown + self.step) * AAC_RATE)
        while self.fifo.samples >= AAC_FRAME or (final and self.fifo.samples):
            size = min(AAC_FRAME, self.fifo.samples)
            if final and self.samples >= end:
                break
            chunk = self.fifo.read(size)
            if chunk is None:
                break
            chunk.pts, chunk.time_base = self.samples, Fraction(1, AAC_RATE)
            self.samples += chunk.samples
            self.out.mux(self.audio_out.encode(chunk))


def _silence(samples: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.zeros((2, samples), dtype=np.float32), format="fltp", layout="stereo"
    )
    frame.sample_rate = AAC_RATE
    return frame
