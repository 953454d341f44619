"""KLV telemetry of every KLV data stream of an MPEG transport stream (STANAG 4609), with PyAV.

A data stream is KLV when ffmpeg names its codec so (asynchronous carriage: stream_type 0x06
with the 'KLVA' registration; synchronous: stream_type 0x15 metadata) or when one of its first
packets holds a ST 0601 or EG 0104 key; any other data stream (ID3, SCTE 35) is skipped. Only
data streams are demuxed, nothing is decoded, so a long video reads in the time of one pass over
its bytes.

Each stream's payloads are joined into one byte stream, so a KLV packet split across PES packets
is whole again; a packet belongs to the PES it starts in and takes its PTS, as seconds from the
start of the video (the video stream's start, else the container's). Synchronous carriage puts a
5-byte Metadata AU cell header (ISO 13818-1 2.12.4) before each access unit; ffmpeg may or may not
strip it, so a header is recognised by content (a KLV key 5 bytes in, not at 0) and removed.
A transport stream cut short gives the packets before the cut.

PyAV opens the stream to name its data streams (PID, codec) and the video's start; the data
streams' packets are then read with NumPy (`tspackets`), FFmpeg parsing each of the file's TS
packets costing most of the read. A stream that is not regular (a sync byte lost: garbage, a
cut inside a packet before the end) is demuxed by PyAV instead, which resynchronises.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import av

from landrec.data.errors import InputNotFoundError
from landrec.data.klv import Value
from landrec.data.telemetry.errors import TelemetryError
from landrec.data.telemetry.rawklv import KEYS, decode_klv
from landrec.data.telemetry.tspackets import read_pes
from landrec.data.telemetry.types import Carrier, Telemetry

KLV_CODECS = frozenset({"klv", "smpte_klv"})
AU_CELL_HEADER = 5  # metadata_service_id, sequence_number, flags, cell_data_length (2 bytes)
PROBE_PACKETS = 5  # an unnamed data stream with no KLV key in this many packets is not KLV
PROBE_BYTES = 64  # where in a packet a key is looked for


def _has_key(payload: bytes) -> bool:
    head = payload[: PROBE_BYTES + 16]
    return any(key in head for key in KEYS.values())


def _starts_with_key(payload: bytes, at: int) -> bool:
    return any(payload.startswith(key, at) for key in KEYS.values())


def strip_au_cells(payload: bytes) -> bytes:
    """`payload` without its Metadata AU cell headers, where it starts with one (a KLV key 5
    bytes in, none at 0); each cell's data length leads to the next cell's header."""
    if _starts_with_key(payload, 0) or not _starts_with_key(payload, AU_CELL_HEADER):
        return payload
    out = bytearray()
    pos = 0
    while pos + AU_CELL_HEADER <= len(payload) and _starts_with_key(payload, pos + AU_CELL_HEADER):
        size = int.from_bytes(payload[pos + 3 : pos + 5], "big")
        start = pos + AU_CELL_HEADER
        out += payload[start : start + size]
        pos = start + size
    return bytes(out + payload[pos:])


@dataclass
class _StreamBytes:
    """One data stream's payloads joined, with where each PES starts and its media time."""

    index: int
    named_klv: bool
    data: bytearray = field(default_factory=bytearray)
    starts: list[int] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)
    probed: int = 0  # packets looked at for a KLV key (unnamed streams)
    klv: bool = False

    def add(self, payload: bytes, media_time: float | None) -> None:
        if not (self.named_klv or self.klv):
            if self.probed >= PROBE_PACKETS:
                return
            self.probed += 1
            self.klv = _has_key(payload)  # a key within PROBE_BYTES: after an AU cell header too
            if not self.klv:
                return
        self.starts.append(len(self.data))
        self.times.append(media_time)
        self.data += strip_au_cells(payload)

    def time_at(self, offset: int) -> float | None:
        """The media time of the PES that the byte at `offset` came in."""
        i = bisect.bisect_right(self.starts, offset) - 1
        return self.times[i] if i >= 0 else None


def _origin(container: av.container.InputContainer) -> float:
    """Seconds of the media's start: the first video stream's, else the container's, else 0."""
    for stream in container.streams.video:
        if stream.start_time is not None and stream.time_base is not None:
            return float(stream.start_time * stream.time_base)
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def _data_streams(container: av.container.InputContainer) -> dict[int, _StreamBytes]:
    """An empty `_StreamBytes` per data stream, by stream index."""
    return {
        s.index: _StreamBytes(s.index, (s.name or "") in KLV_CODECS) for s in container.streams.data
    }


def _seconds(container: av.container.InputContainer) -> dict[int, float]:
    """Each data stream's seconds per time stamp tick, by stream index."""
    return {s.index: float(s.time_base) for s in container.streams.data if s.time_base}


def _klv(streams: dict[int, _StreamBytes]) -> list[_StreamBytes]:
    return [s for s in streams.values() if s.named_klv or s.klv]


def _collect_packets(
    container: av.container.InputContainer, path: Path
) -> list[_StreamBytes] | None:
    """Each data stream's bytes (KLV ones kept) read from the file's TS packets of its PID; None
    when the stream is not regular (`tspackets.read_pes`)."""
    streams = _data_streams(container)
    pids = {s.id: s.index for s in container.streams.data}
    if not streams:
        return []
    if len(pids) != len(streams):
        return None  # two streams of one PID: left to FFmpeg
    found = read_pes(path, pids)
    if found is None:
        return None
    origin, seconds = _origin(container), _seconds(container)
    for pid, packets in found.items():
        index = pids[pid]
        for payload, pts in packets:
            when = None
            if pts is not None and index in seconds:
                when = pts * seconds[index] - origin
            streams[index].add(payload, when)
    return _klv(streams)


def _collect_demuxed(container: av.container.InputContainer) -> list[_StreamBytes]:
    """Each data stream's bytes (KLV ones kept), demuxed in one pass until the end or a cut."""
    streams = _data_streams(container)
    if not streams:
        return []
    origin, seconds = _origin(container), _seconds(container)
    try:
        for packet in container.demux(*container.streams.data):
            index = packet.stream.index
            if packet.size == 0 or index not in streams:
                continue  # the flush packet at the end
            stamp = packet.pts if packet.pts is not None else packet.dts
            when = None
            if stamp is not None and index in seconds:
                when = stamp * seconds[index] - origin
            streams[index].add(bytes(packet), when)
    except av.FFmpegError:
        pass  # a damaged or cut stream: what was read before stays
    return _klv(streams)


def _collect(container: av.container.InputContainer, path: Path) -> list[_StreamBytes]:
    """Each data stream's bytes (KLV ones kept): from the TS packets when the stream is
    regular, else demuxed by PyAV."""
    collected = _collect_packets(container, path)
    return collected if collected is not None else _collect_demuxed(container)


def read_mpegts(path: Path, every_s: float | None = None) -> Telemetry:
    """The KLV telemetry of every KLV data stream of the transport stream `path`; with
    `every_s`, one sample per `every_s` seconds of each stream (and its last), every packet
    counted (`rawklv.decode_klv`)."""
    try:
        container = av.open(str(path), format="mpegts")
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"{path}: no such file") from exc
    except (av.FFmpegError, OSError) as exc:
        raise TelemetryError(path, f"not a readable MPEG transport stream ({exc})") from exc
    with container:
        collected = _collect(container, path)
    telemetry = Telemetry(path=path, sources=[path])
    for stream in collected:
        extra: dict[str, Value] = {"stream": stream.index}
        found = decode_klv(
            bytes(stream.data), path, Carrier.MPEG_TS, stream.time_at, extra, every_s
        )
        telemetry.add(found)
    return telemetry
