"""What a file needs to be viewed in a browser: nothing (the original plays or shows as it
is), a display-size still, or a video proxy; and where the rendition lives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import av

from landrec.archive.db.models import RenditionKind
from landrec.archive.domain import RenditionJob

DISPLAY_SIZE = 1600  # a still's long side at most, in pixels
BROWSER_STILLS = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# A video a browser (Chromium, Firefox, Safari) plays as it is: these containers, these codecs.
MP4_TYPES = frozenset({"video/mp4", "video/quicktime"})
MATROSKA = "video/x-matroska"  # played only as WebM: WebM's codecs
MP4_VIDEO = frozenset({"h264", "vp9", "av1"})
MP4_AUDIO = frozenset({"aac", "mp3", "opus"})
WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
WEBM_AUDIO = frozenset({"opus", "vorbis"})
H264_PIXELS = frozenset({"yuv420p", "yuvj420p"})  # 10-bit or 4:2:2 H.264 does not play
SUFFIX = {RenditionKind.VIDEO: "mp4", RenditionKind.STILL: "webp"}
MIME = {RenditionKind.VIDEO: "video/mp4", RenditionKind.STILL: "image/webp"}
_HASH = re.compile(r"[0-9a-f]{64}")


class RenditionError(Exception):
    """The file cannot be made viewable (its bytes decide: a retry cannot help); the reason."""


@dataclass(frozen=True)
class Plan:
    """A rendition to make (`needed`), or none: the original is served as it is."""

    kind: RenditionKind
    needed: bool
    why: str  # what made the decision, for the log


def rendition_name(sha256: str, kind: RenditionKind) -> str:
    """The rendition's name relative to the previews folder: `<sha[:2]>/<sha>.<mp4|webp>`."""
    if not _HASH.fullmatch(sha256):
        raise ValueError(f"not a lower-case hex SHA-256: {sha256!r}")
    return f"{sha256[:2]}/{sha256}.{SUFFIX[kind]}"


def plan(job: RenditionJob, path: Path) -> Plan:
    """What this file needs (a video is probed: its container's streams decide)."""
    if job.kind is RenditionKind.STILL:
        return _plan_still(job)
    return _plan_video(job, path)


def _plan_still(job: RenditionJob) -> Plan:
    small = job.width is not None and job.height is not None
    small = small and max(job.width or 0, job.height or 0) <= DISPLAY_SIZE
    if job.mime in BROWSER_STILLS and small:
        return Plan(RenditionKind.STILL, False, f"{job.mime} of at most {DISPLAY_SIZE} px")
    return Plan(RenditionKind.STILL, True, f"{job.mime} of {job.width}x{job.height}")


def _plan_video(job: RenditionJob, path: Path) -> Plan:
    if job.mime not in MP4_TYPES and job.mime != MATROSKA:
        return Plan(RenditionKind.VIDEO, True, f"container {job.mime}")
    video_ok, audio_ok = (
        (MP4_VIDEO, MP4_AUDIO) if job.mime in MP4_TYPES else (WEBM_VIDEO, WEBM_AUDIO)
    )
    if job.rotation:
        return Plan(RenditionKind.VIDEO, True, f"rotated {job.rotation} degrees")
    try:
        with av.open(str(path)) as container:
            videos = container.streams.video
            audio = [s.codec_context.name for s in container.streams.audio]
            codec = videos[0].codec_context.name if videos else None
            pixels = videos[0].codec_context.pix_fmt if videos else None
    except av.FFmpegError as exc:
        raise RenditionError(f"not a readable video ({exc})") from None
    if codec not in video_ok:
        return Plan(RenditionKind.VIDEO, True, f"video codec {codec}")
    if codec == "h264" and pixels not in H264_PIXELS:
        return Plan(RenditionKind.VIDEO, True, f"H.264 in {pixels}")
    if any(name not in audio_ok for name in audio):
        return Plan(RenditionKind.VIDEO, True, f"audio codec {', '.join(audio)}")
    return Plan(RenditionKind.VIDEO, False, f"{job.mime} with {codec}, {audio or 'no audio'}")
