"""The PES packets of a few PIDs of a regular MPEG transport stream, read with NumPy.

A regular stream has its sync byte 0x47 at the start of every 188-byte packet from the first
byte on (or 4 bytes into every 192-byte packet: M2TS, an arrival time stamp before each). The
PID of every packet is then one vectorised expression, and only the packets of the PIDs asked
for are parsed in Python: a video's data streams are a small share of its packets. A stream that
is not regular (a sync byte missing anywhere) gives None, for a demuxer that resynchronises.

Each PES is its TS payloads from one payload_unit_start_indicator to the next (or the end),
as FFmpeg's demuxer joins them: a payload before the PID's first start is dropped, a PES is cut
to its PES_packet_length when it has one, an incomplete PES at the end of the file is kept and a
truncated last TS packet is ignored.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

SYNC = 0x47
PACKET = 188
LAYOUTS = ((PACKET, 0), (PACKET + 4, 4))  # (packet size, where the sync byte is): TS, M2TS
CHUNK_PACKETS = 1 << 15  # packets read at a time (about 6 MB)
PTS_WRAP = 1 << 33  # PTS are 33-bit counts of a 90 kHz clock
# stream_ids whose PES has no optional header (ISO 13818-1 2.4.3.7): program_stream_map,
# padding, private_stream_2, ECM, EMM, DSMCC, H.222.1 type E, program_stream_directory
NO_HEADER_IDS = (0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF)


class Pes(NamedTuple):
    """One PES packet's payload and its PTS in 90 kHz ticks (33-bit wraps undone), if any."""

    payload: bytes
    pts: int | None


def _parse_pes(data: bytes, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(payload start, payload end, PTS or -1) of each PES packet of `data` that starts at
    `starts` (and ends at the next start), those with a PES start code and a payload."""
    ends = np.append(starts[1:], len(data))
    buf = np.frombuffer(data, np.uint8)
    head = buf[np.minimum(starts[:, None] + np.arange(14), len(buf) - 1)].astype(np.int64)
    size = ends - starts
    has_header = ~np.isin(head[:, 3], NO_HEADER_IDS)  # by stream_id
    ok = (size >= np.where(has_header, 9, 6)) & (head[:, 0] == 0) & (head[:, 1] == 0)
    ok &= head[:, 2] == 1  # packet_start_code_prefix 00 00 01
    length = head[:, 4] << 8 | head[:, 5]  # PES_packet_length: 0 when unbounded
    end = np.where(length > 0, np.minimum(starts + 6 + length, ends), ends)
    begin = starts + np.where(has_header, 9 + head[:, 8], 6)  # 9 + PES_header_data_length
    has_pts = has_header & (head[:, 7] & 0x80 != 0) & (size >= 14)  # PTS_DTS_flags 1x
    pts = (
        (head[:, 9] >> 1 & 0x07) << 30  # 33 bits between marker bits
        | head[:, 10] << 22
        | (head[:, 11] >> 1) << 15
        | head[:, 12] << 7
        | head[:, 13] >> 1
    )
    keep = ok & (end > begin)
    return begin[keep], end[keep], np.where(has_pts, pts, -1)[keep]


class _Joiner:
    """Each PID's TS payloads joined, with where each PES starts in them; split into PES packets
    (their PTS unwrapped) at the end."""

    def __init__(self, pids: Collection[int]) -> None:
        self.wanted = np.fromiter(pids, np.int64)
        self.parts: dict[int, list[bytes]] = {pid: [] for pid in pids}
        self.starts: dict[int, list[int]] = {pid: [] for pid in pids}
        self.size = dict.fromkeys(pids, 0)  # bytes joined so far, by PID

    def add(self, packets: np.ndarray, pids: np.ndarray) -> None:
        """TS packets (n, 188) and their PIDs: the payloads of those of the wanted PIDs."""
        chosen = np.isin(pids, self.wanted)
        packets, pids = packets[chosen], pids[chosen]
        control = packets[:, 3] >> 4 & 0x03  # adaptation_field_control: 1 payload, 2 field, 3 both
        start = np.where(control == 1, 4, 5 + packets[:, 4].astype(np.int64))
        payload = (control & 0x01 == 1) & (start < PACKET)  # none: a start flag starts nothing
        packets, pids, start = packets[payload], pids[payload], start[payload]
        unit_start = packets[:, 1] & 0x40 != 0  # payload_unit_start_indicator
        for pid in np.unique(pids).tolist():
            mine = pids == pid
            lengths = PACKET - start[mine]
            offsets = self.size[pid] + np.cumsum(lengths) - lengths
            self.starts[pid] += offsets[unit_start[mine]].tolist()
            self.parts[pid].append(packets[mine][np.arange(PACKET) >= start[mine, None]].tobytes())
            self.size[pid] += int(lengths.sum())

    def close(self) -> dict[int, list[Pes]]:
        """Each PID's PES packets: the bytes before its first start dropped (as in FFmpeg)."""
        return {pid: self._split(pid) for pid in self.parts}

    def _split(self, pid: int) -> list[Pes]:
        if not self.starts[pid]:
            return []  # no PES started on this PID
        data = b"".join(self.parts[pid])
        begin, end, pts = _parse_pes(data, np.array(self.starts[pid], np.int64))
        found, last = [], None
        for at, stop, stamp in zip(begin.tolist(), end.tolist(), pts.tolist(), strict=True):
            if stamp < 0:
                found.append(Pes(data[at:stop], None))
                continue
            while last is not None and stamp < last - PTS_WRAP // 2:  # the 33-bit clock wrapped
                stamp += PTS_WRAP
            found.append(Pes(data[at:stop], stamp))
            last = stamp
        return found


def _layout(head: bytes) -> tuple[int, int] | None:
    """(packet size, sync byte's offset) with a sync byte in each of the first two packets."""
    for size, sync in LAYOUTS:
        second = head[size + sync] if len(head) > size + sync else SYNC
        if len(head) > sync and head[sync] == SYNC and second == SYNC:
            return size, sync
    return None


def _read(file: BinaryIO, size: int, sync: int, joiner: _Joiner) -> bool:
    """Every packet of `file` from its start to `joiner`; False at a missing sync byte."""
    while chunk := file.read(size * CHUNK_PACKETS):
        count = len(chunk) // size  # a truncated last packet is left out
        packets = np.frombuffer(chunk, np.uint8, count * size).reshape(count, size)
        packets = packets[:, sync : sync + PACKET]
        if not (packets[:, 0] == SYNC).all():
            return False
        joiner.add(packets, (packets[:, 1].astype(np.int64) & 0x1F) << 8 | packets[:, 2])
    return True


def read_pes(path: Path, pids: Collection[int]) -> dict[int, list[Pes]] | None:
    """The PES packets of each PID of `pids` in the transport stream `path`, in order; None when
    the stream is not regular (no sync byte where the packet size puts one)."""
    with path.open("rb") as file:
        layout = _layout(file.read(2 * (PACKET + 4) + 4))
        if layout is None:
            return None
        file.seek(0)
        joiner = _Joiner(pids)
        if not _read(file, *layout, joiner):
            return None
    return joiner.close()
