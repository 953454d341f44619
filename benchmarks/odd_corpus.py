"""An odd-format corpus made here (no download): the videos and stills an archive meets that a
browser cannot show as they are, a few it can, and a few broken files that must fail with a
reason. Picture content comes from a few of the real photos (read, never copied: each is
scaled, mosaicked or encoded into the new file).

Each file is listed in the manifest with the decoder that should read it (`expect`: pillow,
libraw or ffmpeg; none for the broken ones); `decoded_by` asks Pillow (with the HEIF and JPEG XL
plugins), LibRaw (rawpy) and FFmpeg (PyAV) directly, so a benchmark can set the goal "every
file one of them decodes" without trusting the manifest or the archive.

    python benchmarks/odd_corpus.py OUT                 # 1280x720 videos of 10 s
    python benchmarks/odd_corpus.py OUT --quick --check # 160x90 videos of 1 s; try each decoder
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

import common

TS_CLOCK = 90_000
KLV_HZ = 10
AUDIO_RATE = 48_000
PICTURES = 4  # real photos read as picture content
MAX_SHRUNK_S = 4.0  # a shrunk video's length at most


@dataclass(frozen=True)
class Size:
    """The corpus's scale: video frame size and length, still size."""

    width: int
    height: int
    seconds: float
    fps: int = 25
    still: tuple[int, int] = (1024, 768)


FULL = Size(1280, 720, 10.0)
QUICK = Size(160, 90, 1.0, still=(256, 192))


@dataclass(frozen=True)
class CorpusFile:
    """One file of the corpus, as written."""

    name: str
    kind: str  # image, video or broken
    format: str  # what it is, for people: "MPEG-TS H.264 + AAC + KLV"
    expect: str | None  # the decoder that should read it: pillow, libraw, ffmpeg; None: none
    browser_ready: bool = False  # a browser shows it as it is: the archive may serve the original
    seconds: float | None = None  # a video's length
    bytes: int = 0


# Picture content ------------------------------------------------------------------------------


def load_pictures(data: Path, count: int = PICTURES) -> list[np.ndarray]:
    """`count` real photos as RGB arrays (one per class folder, the first file of each); a
    gradient when the data set is absent."""
    folders = sorted(p for p in (data / "test").iterdir() if p.is_dir()) if data.is_dir() else []
    pictures = []
    for folder in folders[:count]:
        first = min(f for f in folder.iterdir() if f.suffix.lower() in common.IMAGE_SUFFIXES)
        with Image.open(first) as im:
            pictures.append(np.asarray(im.convert("RGB")))
    if not pictures:  # no data set here: a synthetic picture keeps the corpus buildable
        y, x = np.mgrid[0:150, 0:150]
        pictures.append(np.stack([x * 255 // 149, y * 255 // 149, (x + y) * 255 // 298], -1))
    return [p.astype(np.uint8) for p in pictures]


def picture(pictures: list[np.ndarray], index: int, size: tuple[int, int]) -> np.ndarray:
    """Photo `index` (cyclic) scaled to `size` (width, height), RGB uint8."""
    image = Image.fromarray(pictures[index % len(pictures)]).resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image)


def frames(pictures: list[np.ndarray], size: Size) -> Iterator[np.ndarray]:
    """A slow pan over the photos, one photo a second: `size.seconds` of RGB frames."""
    wide = np.concatenate([picture(pictures, i, (size.width, size.height)) for i in range(4)], 1)
    count = round(size.seconds * size.fps)
    step = max(1, size.width // size.fps)
    for i in range(count):
        yield np.roll(wide, -i * step, axis=1)[:, : size.width]


# Videos ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoSpec:
    name: str
    format: str
    container: str  # PyAV (FFmpeg) muxer
    codec: str
    pix_fmt: str = "yuv420p"
    audio: str | None = None  # audio encoder, if any
    klv: bool = False  # an asynchronous KLV data stream (ST 0601), as airborne video has
    options: tuple[tuple[str, str], ...] = ()  # encoder options
    container_options: tuple[tuple[str, str], ...] = ()
    browser_ready: bool = False
    shrink: int = 1  # frame sides divided by this, length at most MAX_SHRUNK_S (slow codecs)

    def size(self, size: Size) -> Size:
        """The corpus's video size, reduced for a slow (lossless) codec."""
        if self.shrink == 1:
            return size
        width, height = size.width // self.shrink // 2 * 2, size.height // self.shrink // 2 * 2
        return Size(width, height, min(size.seconds, MAX_SHRUNK_S), size.fps, size.still)


VIDEOS = (
    VideoSpec("ts_h264_aac_klv.ts", "MPEG-TS H.264 + AAC + KLV", "mpegts", "libx264",
              audio="aac", klv=True),
    VideoSpec("ts_mpeg2_mp2.ts", "MPEG-TS MPEG-2 + MP2", "mpegts", "mpeg2video", audio="mp2"),
    VideoSpec("avi_mpeg4_mp3.avi", "AVI MPEG-4 Part 2 + MP3", "avi", "mpeg4", audio="libmp3lame"),
    VideoSpec("avi_mjpeg.avi", "AVI Motion JPEG", "avi", "mjpeg", "yuvj420p"),
    VideoSpec("3gp_mpeg4_aac.3gp", "3GP MPEG-4 Part 2 + AAC", "3gp", "mpeg4", audio="aac"),
    VideoSpec("mkv_mpeg4_ac3.mkv", "Matroska MPEG-4 Part 2 + AC-3", "matroska", "mpeg4",
              audio="ac3"),
    VideoSpec("mov_hevc.mov", "QuickTime HEVC", "mov", "libx265",
              options=(("x265-params", "log-level=error"),)),
    VideoSpec("mov_photojpeg.mov", "QuickTime Photo-JPEG (4:2:2)", "mov", "mjpeg", "yuvj422p"),
    VideoSpec("mj2_jpeg2000.mj2", "Motion JPEG 2000", "mp4", "jpeg2000", "rgb24",
              container_options=(("brand", "mjp2"),), shrink=2),  # lossless: 10x the bytes
    VideoSpec("webm_vp9_opus.webm", "WebM VP9 + Opus", "webm", "libvpx-vp9", audio="libopus",
              options=(("deadline", "realtime"), ("cpu-used", "8"))),
    VideoSpec("mp4_h264_aac_faststart.mp4", "MP4 H.264 + AAC, fast start", "mp4", "libx264",
              audio="aac", container_options=(("movflags", "+faststart"),), browser_ready=True),
)  # fmt: skip


def _audio_frames(seconds: float) -> Iterator[av.AudioFrame]:
    """A quiet 440 Hz tone of `seconds`, stereo float planar (PyAV's encode resamples it to
    each encoder's format and frame size)."""
    chunk = 960  # Opus's 20 ms
    total = round(seconds * AUDIO_RATE)
    t = np.arange(total) / AUDIO_RATE
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, tone])
    for start in range(0, total, chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(stereo[:, start : start + chunk]), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        frame.time_base = Fraction(1, AUDIO_RATE)
        yield frame


def _klv_packets(seconds: float) -> list[bytes]:
    from landrec.data.klv import encode_packet

    packets = []
    for k in range(max(1, round(seconds * KLV_HZ))):
        lat, lon = 46.5 + 0.0002 * k, 7.5 + 0.0002 * k
        sample = {
            "precision_time_stamp": f"2024-05-01T10:00:{k // KLV_HZ:02d}.{k % KLV_HZ}00000Z",
            "platform_designation": "ODD-CORPUS",
            "sensor_latitude": lat,
            "sensor_longitude": lon,
            "sensor_true_altitude": 1200.0,
            "frame_center_latitude": lat + 0.005,
            "frame_center_longitude": lon + 0.005,
        }
        packets.append(encode_packet(sample))
    return packets


def write_video(path: Path, spec: VideoSpec, pictures: list[np.ndarray], size: Size) -> None:
    """One video of `spec`: the photo pan, a tone when it has audio, KLV when asked."""
    size = spec.size(size)
    options = dict(spec.container_options)
    with av.open(str(path), "w", format=spec.container, options=options) as out:
        video = out.add_stream(spec.codec, rate=size.fps, options=dict(spec.options))
        video.width, video.height, video.pix_fmt = size.width, size.height, spec.pix_fmt
        audio = out.add_stream(spec.audio, rate=AUDIO_RATE) if spec.audio else None
        if audio is not None:
            audio.layout = "stereo"
        klv = out.add_data_stream("klv") if spec.klv else None
        for i, rgb in enumerate(frames(pictures, size)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is not None:
            for frame in _audio_frames(size.seconds):
                out.mux(audio.encode(frame))
            out.mux(audio.encode())
        if klv is not None:
            for k, payload in enumerate(_klv_packets(size.seconds)):
                packet = av.Packet(payload)
                packet.stream, packet.time_base = klv, Fraction(1, TS_CLOCK)
                packet.pts = packet.dts = k * TS_CLOCK // KLV_HZ
                out.mux(packet)


def write_vfr(path: Path, pictures: list[np.ndarray], size: Size) -> None:
    """H.264 MP4 at a variable frame rate: frames 40 ms apart, every third 120 ms after."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=size.fps)
        video.width, video.height, video.pix_fmt = size.width, size.height, "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 1000)
        pts_ms = 0
        for i, rgb in enumerate(frames(pictures, size)):
            if pts_ms >= size.seconds * 1000:
                break
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts_ms, Fraction(1, 1000)
            out.mux(video.encode(frame))
            pts_ms += 120 if i % 3 == 2 else 40
        out.mux(video.encode())


# tkhd matrix {a b u / c d v / x y w} in 16.16 (2.30 for u, v, w): a 90-degree clockwise turn
ROTATE_90 = (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)


def rotate_mp4(path: Path, width: int) -> None:
    """Write a 90-degree display matrix into the video track's `tkhd` box of an MP4 in place
    (the muxer has no switch for it in FFmpeg 7): players turn the picture, pixels stay."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")  # the first track is the video (written first)
    version = data[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8  # times, id, duration, ...
    values = list(ROTATE_90)
    values[6] = width << 16  # translate x by the coded width so the picture stays in view
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", *values)
    path.write_bytes(bytes(data))


# Stills ---------------------------------------------------------------------------------------


def write_jpeg_rotated(path: Path, pictures: list[np.ndarray], size: tuple[int, int]) -> None:
    """A camera-size JPEG stored sideways with EXIF orientation 6 (turn 90 degrees clockwise)."""
    image = Image.fromarray(picture(pictures, 0, size))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F], exif[0x0110] = "Landrec", "Odd corpus camera"  # Make, Model
    image.save(path, quality=90, exif=exif)


def write_jpeg_null_island(path: Path, pictures: list[np.ndarray], size: tuple[int, int]) -> None:
    """A JPEG whose GPS says 0 N 0 E (null island): a position that must not be believed."""
    exif = Image.Exif()
    gps = {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}
    exif[0x8825] = gps  # GPSInfo IFD
    Image.fromarray(picture(pictures, 1, size)).save(path, quality=90, exif=exif)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png16(path: Path, pictures: list[np.ndarray], size: tuple[int, int]) -> None:
    """A 16-bit RGB PNG, written by hand (Pillow writes 16-bit PNG for grey only)."""
    rgb = picture(pictures, 1, size).astype(">u2") * 257
    height, width = rgb.shape[:2]
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))  # filter 0 per row
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16-bit truecolour
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 6))
        + _png_chunk(b"IEND", b"")
    )


def write_tiffs(folder: Path, pictures: list[np.ndarray], size: tuple[int, int]) -> None:
    """TIFFs Pillow reads partly or not at all: 16-bit RGB, float, CMYK, LZW, tiled."""
    import tifffile

    rgb = picture(pictures, 2, size)
    tifffile.imwrite(folder / "tiff_rgb16.tif", rgb.astype(np.uint16) * 257, photometric="rgb")
    tifffile.imwrite(folder / "tiff_float32.tif", rgb.astype(np.float32) / 255, photometric="rgb")
    tifffile.imwrite(folder / "tiff_gray_float32.tif", rgb.mean(2).astype(np.float32) / 255)
    cmyk = np.asarray(Image.fromarray(rgb).convert("CMYK"))
    tifffile.imwrite(folder / "tiff_cmyk.tif", cmyk, photometric="separated")
    Image.fromarray(rgb).save(folder / "tiff_lzw.tif", compression="tiff_lzw")
    tifffile.imwrite(
        folder / "tiff_tiled_deflate.tif", rgb, photometric="rgb", tile=(64, 64),
        compression="zlib",
    )  # fmt: skip


def write_dng(
    path: Path, pictures: list[np.ndarray], size: tuple[int, int], preview: bool = False
) -> None:
    """A camera RAW: 12-bit RGGB Bayer mosaic of a photo in a minimal DNG (1.4) that LibRaw
    reads: CFA tags, white and black level, colour matrix and as-shot white balance. With
    `preview`, IFD0 is a small RGB preview and the mosaic sits in a SubIFD, as cameras write."""
    import tifffile

    rgb = picture(pictures, 3, size).astype(np.uint16) * 16  # 8 -> 12 bits
    mosaic = np.empty(rgb.shape[:2], np.uint16)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0]  # R
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1]  # G
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1]  # G
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2]  # B
    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)  # SRATIONAL 3x3
    camera = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "Landrec Odd Corpus", True),  # UniqueCameraModel
        (271, "s", 0, "Landrec", True),  # Make
        (272, "s", 0, "Odd Corpus", True),  # Model
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
    ]
    sensor = [
        (254, "I", 1, 0, True),  # NewSubfileType: the full-size image
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout: rectangular
        (50714, "H", 1, 0, True),  # BlackLevel
        (50717, "H", 1, 4095, True),  # WhiteLevel
    ]
    with tifffile.TiffWriter(path) as tif:
        if not preview:
            tif.write(mosaic, photometric=32803, extratags=camera + sensor, metadata=None)
            return
        small = picture(pictures, 3, (size[0] // 4, size[1] // 4))
        reduced = [(254, "I", 1, 1, True)]  # NewSubfileType: a reduced-size image
        tif.write(small, photometric="rgb", subifds=1, extratags=reduced + camera, metadata=None)
        tif.write(mosaic, photometric=32803, extratags=sensor, metadata=None)


def write_psd_cmyk16(path: Path, pictures: list[np.ndarray], size: tuple[int, int]) -> None:
    """A flattened 16-bit CMYK Photoshop file, by the PSD spec: header, empty colour mode data,
    image resources and layer sections, then raw planar channels (ink stored inverted)."""
    cmyk = np.asarray(Image.fromarray(picture(pictures, 0, size)).convert("CMYK"))
    height, width = cmyk.shape[:2]
    planes = (65535 - cmyk.astype(np.uint32) * 257).astype(">u2")  # 0 is full ink in PSD
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 4, height, width, 16, 4)  # CMYK = mode 4
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers
    body = struct.pack(">H", 0) + b"".join(planes[:, :, c].tobytes() for c in range(4))
    path.write_bytes(header + sections + body)


def write_pillow_stills(folder: Path, pictures: list[np.ndarray], size: tuple[int, int]) -> None:
    """HEIC, WebP, animated GIF, BMP and (with a plugin) JPEG XL through Pillow."""
    import pillow_heif

    rgb = Image.fromarray(picture(pictures, 1, size))
    pillow_heif.from_pillow(rgb).save(folder / "heic_photo.heic", quality=80)
    rgb.save(folder / "webp_photo.webp", quality=80)
    rgb.save(folder / "bmp_photo.bmp")
    gif = [Image.fromarray(picture(pictures, i, size)).convert("P") for i in range(4)]
    gif[0].save(folder / "gif_animated.gif", save_all=True, append_images=gif[1:], duration=250)
    if jxl_available():
        write_jxl(folder / "jxl_photo.jxl", np.asarray(rgb))


def jxl_available() -> bool:
    """Whether a JPEG XL encoder is installed: pylibjxl (the project's media extra) or
    pillow-jxl-plugin."""
    return any(importlib.util.find_spec(name) for name in ("pylibjxl", "pillow_jxl"))


def write_jxl(path: Path, rgb: np.ndarray) -> None:
    """A lossy JPEG XL (distance 1, visually lossless), through pylibjxl where installed: no
    Pillow plugin registered, so the archive in this process meets JPEG XL as it would alone."""
    try:
        import pylibjxl
    except ImportError:
        import pillow_jxl  # noqa: F401  (registers itself with Pillow on import)

        Image.fromarray(rgb).save(path, quality=90)
        return
    path.write_bytes(pylibjxl.encode(rgb, distance=1.0))


def register_pillow_plugins() -> None:
    """Pillow's HEIF and (where installed) JPEG XL plugins, for asking Pillow directly."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    if importlib.util.find_spec("pylibjxl"):
        import pylibjxl

        pylibjxl.register_pillow(override=False)
    elif importlib.util.find_spec("pillow_jxl"):
        import pillow_jxl  # noqa: F401


# Broken files ---------------------------------------------------------------------------------


def write_broken(folder: Path, source: Path) -> list[CorpusFile]:
    """A zero-byte JPEG, an MP4 cut before its index (`moov` at the end) and noise named .mov."""
    (folder / "broken_empty.jpg").write_bytes(b"")
    data = source.read_bytes()
    (folder / "broken_truncated.mp4").write_bytes(data[: data.find(b"moov") - 4])
    noise = np.random.default_rng(0).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes()
    (folder / "broken_noise.mov").write_bytes(noise)
    return [
        CorpusFile("broken_empty.jpg", "broken", "zero bytes, named .jpg", None),
        CorpusFile("broken_truncated.mp4", "broken", "MP4 cut before its moov box", None),
        CorpusFile("broken_noise.mov", "broken", "random bytes, named .mov", None),
    ]


# The corpus -----------------------------------------------------------------------------------


def still_entries() -> list[CorpusFile]:
    """The stills `write_stills` writes, with the decoder that should read each."""
    return [
        CorpusFile("jpeg_exif6.jpg", "image", "JPEG 4000x3000, EXIF orientation 6", "pillow"),
        CorpusFile("jpeg_null_island.jpg", "image", "JPEG, GPS 0 N 0 E", "pillow"),
        CorpusFile("png_rgb16.png", "image", "PNG 16-bit RGB", "pillow"),
        CorpusFile("tiff_rgb16.tif", "image", "TIFF 16-bit RGB", "pillow"),
        CorpusFile("tiff_float32.tif", "image", "TIFF 32-bit float RGB", "ffmpeg"),
        CorpusFile("tiff_gray_float32.tif", "image", "TIFF 32-bit float grey", "pillow"),
        CorpusFile("tiff_cmyk.tif", "image", "TIFF CMYK 8-bit", "pillow"),
        CorpusFile("tiff_lzw.tif", "image", "TIFF LZW", "pillow"),
        CorpusFile("tiff_tiled_deflate.tif", "image", "TIFF tiled, Deflate", "pillow"),
        CorpusFile("heic_photo.heic", "image", "HEIC", "pillow"),
        CorpusFile("webp_photo.webp", "image", "WebP", "pillow"),
        CorpusFile("gif_animated.gif", "image", "GIF, 4 frames", "pillow"),
        CorpusFile("bmp_photo.bmp", "image", "BMP", "pillow"),
        CorpusFile("dng_bayer.dng", "image", "DNG 1.4, 12-bit RGGB Bayer", "libraw"),
        CorpusFile("dng_preview_subifd.dng", "image", "DNG, RGB preview + Bayer SubIFD", "libraw"),
        CorpusFile("psd_cmyk16.psd", "image", "PSD 16-bit CMYK, flattened", "ffmpeg"),
    ] + ([CorpusFile("jxl_photo.jxl", "image", "JPEG XL", "pillow")] if jxl_available() else [])


def write_stills(folder: Path, pictures: list[np.ndarray], size: Size) -> list[CorpusFile]:
    write_jpeg_rotated(folder / "jpeg_exif6.jpg", pictures, (3000, 4000))  # stored sideways
    write_jpeg_null_island(folder / "jpeg_null_island.jpg", pictures, size.still)
    write_png16(folder / "png_rgb16.png", pictures, size.still)
    write_tiffs(folder, pictures, size.still)
    write_pillow_stills(folder, pictures, size.still)
    write_dng(folder / "dng_bayer.dng", pictures, size.still)
    write_dng(folder / "dng_preview_subifd.dng", pictures, size.still, preview=True)
    write_psd_cmyk16(folder / "psd_cmyk16.psd", pictures, size.still)
    return still_entries()


def write_videos(folder: Path, pictures: list[np.ndarray], size: Size) -> list[CorpusFile]:
    entries = []
    for spec in VIDEOS:
        write_video(folder / spec.name, spec, pictures, size)
        seconds = spec.size(size).seconds
        entries.append(
            CorpusFile(spec.name, "video", spec.format, "ffmpeg", spec.browser_ready, seconds)
        )
    rotated = folder / "mp4_h264_rotated.mp4"
    write_video(rotated, VideoSpec(rotated.name, "", "mp4", "libx264"), pictures, size)
    rotate_mp4(rotated, size.width)
    write_vfr(folder / "mp4_h264_vfr.mp4", pictures, size)
    return [
        *entries,
        CorpusFile(rotated.name, "video", "MP4 H.264, display matrix 90", "ffmpeg", True,
                   size.seconds),
        CorpusFile("mp4_h264_vfr.mp4", "video", "MP4 H.264, variable frame rate", "ffmpeg",
                   True, size.seconds),
    ]  # fmt: skip


def build_corpus(folder: Path, quick: bool = False, data: Path = common.DEFAULT_DATA) -> list[dict]:
    """Write the corpus into `folder` (made if absent); its manifest, one dict a file."""
    folder.mkdir(parents=True, exist_ok=True)
    size = QUICK if quick else FULL
    pictures = load_pictures(data)
    entries = write_videos(folder, pictures, size) + write_stills(folder, pictures, size)
    entries += write_broken(folder, folder / "mp4_h264_vfr.mp4")  # its moov comes last
    return [asdict(e) | {"bytes": (folder / e.name).stat().st_size} for e in entries]


# Which decoder reads a file (asked directly, not through the archive) -------------------------


def _pillow(path: Path) -> None:
    register_pillow_plugins()
    with Image.open(path) as image:
        image.load()


def _libraw(path: Path) -> None:
    import rawpy

    with rawpy.imread(str(path)) as raw:
        raw.postprocess(half_size=True)


def _ffmpeg(path: Path) -> None:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        next(container.decode(video=0))  # StopIteration: not one frame


DECODERS: dict[str, Callable[[Path], None]] = {
    "pillow": _pillow,
    "libraw": _libraw,
    "ffmpeg": _ffmpeg,
}


def decoded_by(path: Path) -> dict[str, str | None]:
    """Each decoder's verdict on `path`: None when it decodes a picture, else why not."""
    verdicts: dict[str, str | None] = {}
    for name, decode in DECODERS.items():
        try:
            decode(path)
        except Exception as exc:  # each library raises its own classes
            verdicts[name] = f"{type(exc).__name__}: {exc}"[:200]
        else:
            verdicts[name] = None
    return verdicts


def check(folder: Path, manifest: list[dict]) -> list[str]:
    """Files whose expected decoder fails, or that decode though listed as broken."""
    problems = []
    for entry in manifest:
        verdicts = decoded_by(folder / entry["name"])
        decodes = [name for name, why in verdicts.items() if why is None]
        if entry["expect"] is not None and entry["expect"] not in decodes:
            problems.append(f"{entry['name']}: {entry['expect']} fails: {verdicts}")
        if entry["kind"] == "broken" and decodes:
            problems.append(f"{entry['name']}: broken, yet {decodes} decode it")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--quick", action="store_true", help="small frames, 1 s videos")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA, help="photos to read")
    p.add_argument("--manifest", type=Path, default=None, help="write the manifest here (JSON)")
    p.add_argument("--check", action="store_true", help="try each file's decoder")
    args = p.parse_args(argv)
    manifest = build_corpus(args.folder, args.quick, args.data)
    text = json.dumps(manifest, indent=2)
    if args.manifest is not None:
        args.manifest.write_text(text + "\n")
    else:
        print(text)
    problems = check(args.folder, manifest) if args.check else []
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
