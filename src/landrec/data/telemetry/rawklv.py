"""KLV packets of both standards (MISB ST 0601 and EG 0104) in one byte stream, in order.

`decode_klv` is shared by the raw .klv reader here and the MPEG-TS reader: the scan finds each
packet by its key, whichever standard it is, frames it by its BER length and decodes it with its
standard's decoder, so garbage between packets is skipped and a truncated packet is counted in
`bad_packets` (the scan then goes on from the byte after its key, as `landrec.data.klv` does;
it also recovers the packet after one cut short, see `decode_klv`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from landrec.data import klv
from landrec.data.errors import InputNotFoundError
from landrec.data.klv import Sample, Value
from landrec.data.telemetry import eg0104
from landrec.data.telemetry.types import CARRIER, MEDIA_TIME, Carrier, Standard, Telemetry

KEYS: dict[Standard, bytes] = {Standard.ST0601: klv.UAS_LS_KEY, Standard.EG0104: eg0104.SET_KEY}
DECODERS: dict[Standard, Callable[[bytes], klv.KlvDecode]] = {
    Standard.ST0601: klv.decode_stream,
    Standard.EG0104: eg0104.decode_stream,
}
CHECKSUMMED = frozenset({Standard.ST0601})  # standards whose packets end in a checksum


class _Keys:
    """The next key of either standard at or after a position; each key's search is redone only
    once the scan has passed its last find (positions asked for never go back)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.found = {standard: data.find(key) for standard, key in KEYS.items()}

    def next(self, start: int) -> tuple[int, Standard] | None:
        for standard, at in self.found.items():
            if 0 <= at < start:
                self.found[standard] = self.data.find(KEYS[standard], start)
        present = [(at, standard) for standard, at in self.found.items() if at >= 0]
        return min(present) if present else None


@dataclass
class _Run:
    """Back-to-back packets of one standard, none holding a key: decoded in one call, so the
    decoder's fast path for packets of one shape applies (a TS's stream is mostly one run)."""

    standard: Standard
    start: int
    end: int
    starts: list[int] = field(default_factory=list)


class _Decoder:
    """Packets decoded into one `Telemetry`, each sample stamped with carrier, time and extras."""

    def __init__(self, data: bytes, found: Telemetry, stamp: Callable[[Sample, int], None]) -> None:
        self.data, self.found, self.stamp = data, found, stamp
        self.run: _Run | None = None

    def add(self, standard: Standard, start: int, end: int) -> None:
        run = self.run
        if run is None or run.standard is not standard or run.end != start:
            self.flush()
            run = self.run = _Run(standard, start, start)
        run.starts.append(start)
        run.end = end

    def flush(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        decoded = DECODERS[run.standard](self.data[run.start : run.end])
        if decoded.packets != len(run.starts):  # framed otherwise: packet by packet then
            for start, end in zip(run.starts, [*run.starts[1:], run.end], strict=True):
                self.keep(run.standard, start, DECODERS[run.standard](self.data[start:end]))
            return
        for start, sample in zip(run.starts, decoded.samples, strict=True):
            self.stamp(sample, start)
        self.count(run.standard, decoded)
        self.found.samples.extend(decoded.samples)

    def keep(self, standard: Standard, start: int, decoded: klv.KlvDecode) -> None:
        for sample in decoded.samples:
            self.stamp(sample, start)
        self.count(standard, decoded)
        self.found.samples.extend(decoded.samples)

    def count(self, standard: Standard, decoded: klv.KlvDecode) -> None:
        if standard not in self.found.standards:
            self.found.standards.append(standard)
        self.found.packets += decoded.packets
        self.found.bad_packets += decoded.bad_packets


class _Thinner:
    """With a media time per packet, one packet decoded per `every_s` slot (and the last): the
    others are framed and their checksum verified, so the counts stay exact, but not decoded."""

    def __init__(self, every_s: float, time_at: Callable[[int], float | None], data: bytes):
        self.every_s, self.time_at, self.data = every_s, time_at, data
        self.slot: int | None = None
        self.packets = self.bad_packets = 0  # of the packets not decoded
        self.standards: list[Standard] = []
        self.last: tuple[Standard, int, int] | None = None  # the latest not decoded

    def skip(self, standard: Standard, start: int, end: int) -> bool:
        """Whether this packet's slot has its decoded packet already (then it is counted)."""
        t = self.time_at(start)
        if t is None:
            return False
        slot = math.floor(t / self.every_s)
        if slot != self.slot:
            self.slot, self.last = slot, None
            return False
        self.packets += 1
        self.bad_packets += not self._ok(standard, start, end)
        if standard not in self.standards:
            self.standards.append(standard)
        self.last = (standard, start, end)
        return True

    def take_last(self) -> tuple[Standard, int, int] | None:
        """The stream's last packet when it was not decoded, uncounted here (to be decoded)."""
        last, self.last = self.last, None
        if last is not None:
            self.packets -= 1
            self.bad_packets -= not self._ok(*last)
        return last

    def _ok(self, standard: Standard, start: int, end: int) -> bool:
        return standard not in CHECKSUMMED or klv.checksum_ok(self.data, start, end)


def decode_klv(
    data: bytes,
    path: Path,
    carrier: Carrier,
    time_at: Callable[[int], float | None] | None = None,
    extra: dict[str, Value] | None = None,
    every_s: float | None = None,
) -> Telemetry:
    """The telemetry of the KLV byte stream `data`: each sample gets `carrier`, the media time
    `time_at(its packet's offset)` (None without it) and the items of `extra`. With `every_s`
    and `time_at`, only the first packet of each `every_s` of media time and the last are
    decoded (a track needs no more); `packets` and `bad_packets` still count every packet.

    A packet that holds another packet's key is one cut short whose length swallowed the next
    packet, unless its checksum vouches for it (EG 0104 has none): it is counted bad and
    dropped, and the scan resumes at that key.
    """

    def stamp(sample: Sample, start: int) -> None:
        sample[MEDIA_TIME] = time_at(start) if time_at else None
        sample[CARRIER] = carrier.value
        sample.update(extra or {})

    found = Telemetry(path=path, sources=[path])
    decoder = _Decoder(data, found, stamp)
    thin = _Thinner(every_s, time_at, data) if every_s and time_at else None
    keys = _Keys(data)
    packet = keys.next(0)
    while packet is not None:
        start, standard = packet
        end = eg0104.frame(data, start)[1]
        inner = keys.next(start + 1)
        if end > len(data):
            found.bad_packets += 1
            packet = inner
            continue
        if inner is None or inner[0] >= end:  # the usual case: whole, no key inside
            if thin is None or not thin.skip(standard, start, end):
                decoder.add(standard, start, end)
            packet = keys.next(end)
            continue
        decoder.flush()
        decoded = DECODERS[standard](data[start:end])
        if not decoded.bad_packets and standard in CHECKSUMMED:
            decoder.keep(standard, start, decoded)
            packet = keys.next(end)
        else:
            found.bad_packets += 1
            packet = inner
    if thin is not None:
        if (last := thin.take_last()) is not None:
            decoder.add(*last)
        found.packets += thin.packets
        found.bad_packets += thin.bad_packets
        found.standards += [s for s in thin.standards if s not in found.standards]
    decoder.flush()
    return found


def has_klv(head: bytes) -> bool:
    """Whether a KLV key of either standard is within the first bytes of `head`."""
    return klv.is_klv(head) or eg0104.is_eg0104(head)


def read_klv(path: Path) -> Telemetry:
    """The telemetry of a raw KLV file (back-to-back packets of ST 0601 and/or EG 0104)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"{path}: no such file") from exc
    return decode_klv(data, path, Carrier.RAW_KLV)
