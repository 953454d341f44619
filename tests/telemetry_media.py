"""Test media with navigation data, built at test time: KLV packets along a straight flight, raw
.klv files, and MPEG transport streams (STANAG 4609) with KLV data streams.

Asynchronous KLV (stream_type 0x06, 'KLVA' registration) is muxed by PyAV (ffmpeg's muxer). For
synchronous KLV (stream_type 0x15, each access unit behind a 5-byte Metadata AU cell header)
PyAV has no switch, so `write_ts(sync=True)` writes the transport stream itself: PAT, PMT, PES
packets, the video still encoded by PyAV. `program_streams` reads a TS's PMT back, to check
what was written.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from landrec.data import klv
from landrec.data.klv import Sample
from landrec.data.telemetry import eg0104

START = "2024-05-01T10:00:00.000000Z"
TS_CLOCK = 90_000  # PTS ticks a second
SIZE = (64, 48)


def flight(n: int, start: str = START, rate_hz: float = 10.0) -> list[Sample]:
    """`n` samples of a straight north-eastward flight at `rate_hz`: sensor and frame centre
    positions, corners about the centre, time stamps, platform and sensor names."""
    t0 = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    samples: list[Sample] = []
    for k in range(n):
        lat, lon = 47.0 + 0.0005 * k, 8.0 + 0.0005 * k
        centre_lat, centre_lon = lat + 0.01, lon + 0.01
        sample: Sample = {
            "precision_time_stamp": (t0 + dt.timedelta(seconds=k / rate_hz)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            "platform_designation": "TEST-UAV",
            "image_source_sensor": "EO",
            "platform_heading_angle": 45.0,
            "sensor_latitude": lat,
            "sensor_longitude": lon,
            "sensor_true_altitude": 1500.0 + k,
            "frame_center_latitude": centre_lat,
            "frame_center_longitude": centre_lon,
        }
        for i, (dlat, dlon) in enumerate(((1, -1), (1, 1), (-1, 1), (-1, -1)), start=1):
            sample[f"corner_latitude_point_{i}"] = centre_lat + 0.002 * dlat
            sample[f"corner_longitude_point_{i}"] = centre_lon + 0.002 * dlon
        samples.append(sample)
    return samples


def st0601_packets(n: int, start: str = START, rate_hz: float = 10.0) -> list[bytes]:
    """`n` ST 0601 packets of `flight(n, start, rate_hz)`."""
    return [klv.encode_packet(s) for s in flight(n, start, rate_hz)]


def eg0104_packets(n: int, start: str = START, rate_hz: float = 10.0) -> list[bytes]:
    """`n` EG 0104 packets of `flight(n, start, rate_hz)`."""
    return [eg0104.encode_packet(s) for s in flight(n, start, rate_hz)]


def write_raw_klv(path: Path, packets: list[bytes], garbage: bytes = b"") -> Path:
    """A raw .klv file: `garbage` before, between and after the packets."""
    path.write_bytes(garbage + b"".join(p + garbage for p in packets))
    return path


def _frames(seconds: float, fps: int) -> list[av.VideoFrame]:
    frames = []
    for i in range(round(seconds * fps)):
        pixels = np.full((SIZE[1], SIZE[0], 3), (i * 7) % 256, np.uint8)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = i
        frames.append(frame)
    return frames


def _spread(payloads: list[bytes], seconds: float) -> list[tuple[int, bytes]]:
    """(PTS in 90 kHz ticks, payload): the payloads evenly over `seconds`, the first at 0."""
    step = seconds / max(1, len(payloads))
    return [(round(k * step * TS_CLOCK), p) for k, p in enumerate(payloads)]


def write_ts(
    path: Path,
    seconds: float,
    fps: int,
    klv_streams: list[list[bytes]],
    extra_data_stream: bytes | None = None,
    sync: bool = False,
) -> Path:
    """A 64x48 MPEG-2 video of `seconds` at `fps` with one KLV data stream per list of
    `klv_streams` (each bytes one PES payload, spread evenly over the video from 0 s) and, with
    `extra_data_stream`, an ID3 timed-metadata stream of that payload once a second."""
    if sync:
        return _write_sync_ts(path, seconds, fps, klv_streams)
    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("mpeg2video", rate=fps)
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        data = [(out.add_data_stream("klv"), _spread(s, seconds)) for s in klv_streams]
        if extra_data_stream is not None:
            extra = [extra_data_stream] * max(1, int(seconds))
            data.append((out.add_data_stream("timed_id3"), _spread(extra, seconds)))
        for frame in _frames(seconds, fps):
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for stream, timed in data:
            for pts, payload in timed:
                packet = av.Packet(payload)
                packet.stream, packet.pts, packet.dts = stream, pts, pts
                packet.time_base = Fraction(1, TS_CLOCK)
                out.mux(packet)
    return path


# A hand-written transport stream, for synchronous KLV.
PMT_PID, VIDEO_PID, FIRST_DATA_PID = 0x1000, 0x100, 0x101
DELAY = TS_CLOCK  # every PTS is 1 s on, as muxers do, so that DTS and PCR stay positive
# metadata_descriptor (tag 0x26): format 0xFFFF 'KLVA', 0xFF 'KLVA', service 0, no config
KLVA_METADATA = bytes([0x26, 13]) + b"\xff\xffKLVA\xffKLVA\x00\x0f"
# metadata_STD_descriptor (tag 0x27): input leak rate, buffer size, output leak rate
KLVA_STD = bytes([0x27, 9]) + bytes.fromhex("C00000C00000C00000")


def _crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _section(table_id: int, extension: int, body: bytes) -> bytes:
    length = 5 + len(body) + 4
    head = bytes([table_id, 0xB0 | (length >> 8), length & 0xFF])
    section = head + extension.to_bytes(2, "big") + b"\xc1\x00\x00" + body
    return b"\x00" + section + _crc32_mpeg(section).to_bytes(4, "big")  # pointer field first


def _pmt(data_pids: list[int]) -> bytes:
    body = (0xE000 | VIDEO_PID).to_bytes(2, "big") + b"\xf0\x00"
    body += bytes([0x02]) + (0xE000 | VIDEO_PID).to_bytes(2, "big") + b"\xf0\x00"
    info = KLVA_METADATA + KLVA_STD
    for pid in data_pids:
        body += bytes([0x15]) + (0xE000 | pid).to_bytes(2, "big")
        body += (0xF000 | len(info)).to_bytes(2, "big") + info
    return _section(0x02, 1, body)


def _timestamp(prefix: int, ticks: int) -> bytes:
    return bytes(
        [
            (prefix << 4) | (((ticks >> 30) & 0x07) << 1) | 1,
            (ticks >> 22) & 0xFF,
            (((ticks >> 15) & 0x7F) << 1) | 1,
            (ticks >> 7) & 0xFF,
            ((ticks & 0x7F) << 1) | 1,
        ]
    )


def _pes(stream_id: int, pts: int, payload: bytes, dts: int | None = None) -> bytes:
    if dts is None:
        header = b"\x80\x80\x05" + _timestamp(0b0010, pts)
    else:
        header = b"\x80\xc0\x0a" + _timestamp(0b0011, pts) + _timestamp(0b0001, dts)
    length = len(header) + len(payload)
    size = length.to_bytes(2, "big") if stream_id != 0xE0 else b"\x00\x00"  # video: unbounded
    return b"\x00\x00\x01" + bytes([stream_id]) + size + header + payload


def _packets(pid: int, pes: bytes, counters: dict[int, int], pcr: int | None = None) -> bytes:
    """`pes` cut into 188-byte TS packets on `pid` (with a PCR in the first when given)."""
    out = bytearray()
    pos, first = 0, True
    while first or pos < len(pes):
        flags = b""
        if first and pcr is not None:  # PCR flag; base, 6 reserved bits, extension 0
            flags = b"\x10" + (pcr << 15 | 0x7E00).to_bytes(6, "big")
        chunk = pes[pos : pos + 184 - (1 + len(flags) if flags else 0)]
        if flags or len(chunk) < 184:  # an adaptation field: the PCR, stuffing or both
            size = 183 - len(chunk)
            content = (flags or b"\x00") if size else b""
            field, control = bytes([size]) + content + b"\xff" * (size - len(content)), 0x30
        else:
            field, control = b"", 0x10
        out += bytes([0x47, (0x40 if first else 0) | pid >> 8, pid & 0xFF])
        out += bytes([control | counters.get(pid, 0)]) + field + chunk
        counters[pid] = (counters.get(pid, 0) + 1) % 16
        pos += len(chunk)
        first = False
    return bytes(out)


def _psi(pid: int, section: bytes, counters: dict[int, int]) -> bytes:
    packet = bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, 0x10 | counters.get(pid, 0)]) + section
    counters[pid] = (counters.get(pid, 0) + 1) % 16
    return packet + b"\xff" * (188 - len(packet))


def _video_es(seconds: float, fps: int) -> list[tuple[int, int, bytes]]:
    """(PTS, DTS in 90 kHz ticks, bytes) of each packet of an MPEG-2 video, in decode order."""
    codec = av.CodecContext.create("mpeg2video", "w")
    codec.width, codec.height, codec.pix_fmt = *SIZE, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, fps), Fraction(fps)
    codec.max_b_frames = 0
    packets = []
    for frame in [*_frames(seconds, fps), None]:
        for packet in codec.encode(frame):
            pts = packet.pts * TS_CLOCK // fps
            dts = (packet.dts if packet.dts is not None else packet.pts) * TS_CLOCK // fps
            packets.append((pts, dts, bytes(packet)))
    return packets


def _write_sync_ts(path: Path, seconds: float, fps: int, klv_streams: list[list[bytes]]) -> Path:
    pids = [FIRST_DATA_PID + i for i in range(len(klv_streams))]
    counters: dict[int, int] = {}
    out = bytearray(_psi(0, _pat(), counters))
    out += _psi(PMT_PID, _pmt(pids), counters)
    units: list[tuple[int, int, int, bytes]] = []  # (DTS, order, PID, PES)
    for pts, dts, data in _video_es(seconds, fps):
        units.append((dts, 0, VIDEO_PID, _pes(0xE0, pts + DELAY, data, dts + DELAY)))
    for pid, payloads in zip(pids, klv_streams, strict=True):
        for seq, (pts, data) in enumerate(_spread(payloads, seconds)):
            cell = bytes([0, seq % 256, 0xDF]) + len(data).to_bytes(2, "big") + data
            units.append((pts, 1, pid, _pes(0xFC, pts + DELAY, cell)))
    for dts, _, pid, pes in sorted(units, key=lambda u: (u[0], u[1])):
        pcr = dts + DELAY - TS_CLOCK // 10 if pid == VIDEO_PID else None
        out += _packets(pid, pes, counters, pcr)
    path.write_bytes(bytes(out))
    return path


def _pat() -> bytes:
    return _section(0x00, 1, (1).to_bytes(2, "big") + (0xE000 | PMT_PID).to_bytes(2, "big"))


def program_streams(path: Path) -> dict[int, tuple[int, bytes]]:
    """{PID: (stream_type, ES descriptors)} of the first PMT of the transport stream `path`."""
    data = path.read_bytes()
    pmt_pid = None
    for pos in range(0, len(data) - 187, 188):
        packet = data[pos : pos + 188]
        pid = (packet[1] & 0x1F) << 8 | packet[2]
        if not packet[1] & 0x40:
            continue
        payload = packet[4:] if packet[3] & 0x30 == 0x10 else packet[5 + packet[4] :]
        section = payload[1 + payload[0] :]
        if pid == 0 and pmt_pid is None:
            pmt_pid = (section[10] & 0x1F) << 8 | section[11]
        elif pid == pmt_pid:
            return _pmt_streams(section)
    return {}


def _pmt_streams(section: bytes) -> dict[int, tuple[int, bytes]]:
    length = (section[1] & 0x0F) << 8 | section[2]
    end = 3 + length - 4
    pos = 12 + ((section[10] & 0x0F) << 8 | section[11])
    streams = {}
    while pos + 5 <= end:
        kind, pid = section[pos], (section[pos + 1] & 0x1F) << 8 | section[pos + 2]
        info = (section[pos + 3] & 0x0F) << 8 | section[pos + 4]
        streams[pid] = (kind, section[pos + 5 : pos + 5 + info])
        pos += 5 + info
    return streams
