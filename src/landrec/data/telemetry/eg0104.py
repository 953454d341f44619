"""MISB EG 0104 (Predator UAV Basic Universal Metadata Set) KLV packets: decoded and encoded.

The predecessor of ST 0601, still in old archives: a packet is the 16-byte universal set key
(`SET_KEY`), a BER length, then items each keyed by a full 16-byte SMPTE universal label, a BER
length and a value: IEEE doubles (positions), floats (angles, altitudes, ranges), ASCII text,
and the time stamp as microseconds since 1970 (an unsigned 64-bit integer). Each packet becomes
one sample named as ST 0601's (`landrec.data.klv.TAGS`), so a track reads both alike.

Decisions:
- Labels are matched with their version byte (byte 8) ignored, as SMPTE 336M asks: encoders
  write EG 0104's elements under several registry versions.
- A number of the other IEEE width (a float where a double is declared, or back) is read as
  written; any other size, and every label not in `ITEMS`, is kept as hex text under the label's
  hex.
- EG 0104 has no checksum: a packet is counted bad when it runs past the end of the data (not
  decoded, the scan goes on after its key) or when its items do not end exactly at its end
  (decoded as far as they go).
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from enum import Enum

from landrec.data.klv import KlvDecode, Sample, Value, ber_length, ber_length_bytes, iso_time

SET_KEY = bytes.fromhex("060E2B34020101010E01010201010000")
SNIFF_BYTES = 4096  # is_eg0104 looks for the key this far into a file's head
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_VERSION = 7  # the index of a universal label's version byte


class Kind(Enum):
    """How an element's value is stored: the struct format that reads it, or text."""

    DOUBLE = ">d"
    FLOAT = ">f"
    TIME = ">Q"  # microseconds since 1970-01-01 UTC
    TEXT = ""


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One EG 0104 element: its universal label, its sample name (ST 0601's where one exists)
    and how its value is stored."""

    key: bytes
    name: str
    kind: Kind


def _label(tail: str, version: int = 1) -> bytes:
    """The universal label `06 0E 2B 34 01 01 01 <version> <tail>` (tail: 8 bytes of hex)."""
    return bytes.fromhex(f"060E2B34010101{version:02X}{tail}")


_CORNER_TAILS = [
    (f"corner_{axis}_point_{n}", f"0701020103{0x07 + i + 4 * j:02X}0100")
    for j, axis in enumerate(("latitude", "longitude"))
    for i, n in enumerate(range(1, 5))
]

# EG 0104.5's elements, in the standard's order.
ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec(_label("0702010101050000", 3), "precision_time_stamp", Kind.TIME),
    ItemSpec(_label("0105050000000000"), "episode_number", Kind.TEXT),
    ItemSpec(_label("0101200100000000"), "platform_designation", Kind.TEXT),
    ItemSpec(_label("0420010201010000"), "image_source_sensor", Kind.TEXT),
    ItemSpec(_label("0701010100000000"), "image_coordinate_system", Kind.TEXT),
    ItemSpec(_label("0701020102040200", 3), "sensor_latitude", Kind.DOUBLE),
    ItemSpec(_label("0701020102060200", 3), "sensor_longitude", Kind.DOUBLE),
    ItemSpec(_label("0701020102020000"), "sensor_true_altitude", Kind.FLOAT),
    ItemSpec(_label("0420020101080000", 2), "sensor_horizontal_fov", Kind.FLOAT),
    ItemSpec(_label("04200201010A0100", 7), "sensor_vertical_fov", Kind.FLOAT),
    ItemSpec(_label("0701080101000000"), "slant_range", Kind.FLOAT),
    ItemSpec(_label("0701090201000000"), "target_width", Kind.FLOAT),
    ItemSpec(_label("0701020103020000"), "frame_center_latitude", Kind.DOUBLE),
    ItemSpec(_label("0701020103040000"), "frame_center_longitude", Kind.DOUBLE),
    ItemSpec(_label("0701020103160000", 10), "frame_center_elevation", Kind.FLOAT),
    *(ItemSpec(_label(tail, 3), name, Kind.DOUBLE) for name, tail in _CORNER_TAILS),
    ItemSpec(_label("0701100101000000"), "sensor_roll_angle", Kind.FLOAT),
    ItemSpec(_label("0701100102000000"), "angle_to_north", Kind.FLOAT),
    ItemSpec(_label("0701100103000000"), "obliquity_angle", Kind.FLOAT),
    ItemSpec(_label("0701100104000000", 7), "platform_roll_angle", Kind.FLOAT),
    ItemSpec(_label("0701100105000000", 7), "platform_pitch_angle", Kind.FLOAT),
    ItemSpec(_label("0701100106000000", 7), "platform_heading_angle", Kind.FLOAT),
    ItemSpec(_label("0702010201010000"), "start_date_time_utc", Kind.TEXT),
    ItemSpec(_label("0702010207010000"), "event_start_date_time_utc", Kind.TEXT),
)


def _unversioned(key: bytes) -> bytes:
    return key[:_VERSION] + b"\x00" + key[_VERSION + 1 :]


BY_KEY = {_unversioned(spec.key): spec for spec in ITEMS}
BY_NAME = {spec.name: spec for spec in ITEMS}
_IEEE = {4: ">f", 8: ">d"}


def _decode_value(spec: ItemSpec, raw: bytes) -> Value:
    if spec.kind is Kind.TEXT:
        return raw.decode("utf-8", errors="replace").rstrip("\x00")
    if spec.kind is Kind.TIME:
        return iso_time(int.from_bytes(raw, "big")) if len(raw) == 8 else raw.hex()
    fmt = _IEEE.get(len(raw))
    return float(struct.unpack(fmt, raw)[0]) if fmt else raw.hex()


def decode_items(data: bytes, start: int, end: int) -> tuple[Sample, bool]:
    """The sample of the universal set in data[start:end], and whether its items ended exactly
    at `end` (False: one ran past it, or a label was cut)."""
    sample: Sample = {}
    pos = start
    try:
        while pos < end:
            key = data[pos : pos + 16]
            length, pos = ber_length(data, pos + 16)
            if len(key) < 16 or pos + length > end:
                return sample, False
            spec = BY_KEY.get(_unversioned(key))
            raw = data[pos : pos + length]
            if spec is None:
                sample[key.hex()] = raw.hex()
            else:
                sample[spec.name] = _decode_value(spec, raw)
            pos += length
    except IndexError:
        return sample, False
    return sample, pos == end


def frame(data: bytes, pos: int, key_size: int = 16) -> tuple[int, int]:
    """(body start, end) of the KLV packet whose key starts at `pos`; the end lies past
    len(data) when the packet is truncated."""
    try:
        length, body = ber_length(data, pos + key_size)
    except IndexError:
        return len(data), len(data) + 1  # the length itself is cut off
    return body, body + length


def decode_stream(data: bytes) -> KlvDecode:
    """Every EG 0104 packet in `data`, decoded in order; garbage between packets skipped."""
    samples: list[Sample] = []
    bad = 0
    pos = data.find(SET_KEY)
    while pos >= 0:
        body, end = frame(data, pos)
        if end > len(data):
            bad += 1
            pos = data.find(SET_KEY, pos + 1)
            continue
        sample, whole = decode_items(data, body, end)
        bad += not whole
        samples.append(sample)
        pos = data.find(SET_KEY, end)
    return KlvDecode(packets=len(samples), bad_packets=bad, samples=samples)


def is_eg0104(head: bytes) -> bool:
    """Whether the EG 0104 set key is within the first bytes of `head`."""
    return SET_KEY in head[:SNIFF_BYTES]


def _encode_value(spec: ItemSpec, value: float | str) -> bytes:
    if spec.kind is Kind.TEXT:
        return str(value).encode("utf-8")
    if spec.kind is Kind.TIME:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return struct.pack(">Q", (stamp - EPOCH) // dt.timedelta(microseconds=1))
    return struct.pack(spec.kind.value, float(value))


def encode_packet(values: Sample) -> bytes:
    """One EG 0104 packet of `values` (names as decode_stream gives them; a label's hex with hex
    text for any other element); None values are left out."""
    items = bytearray()
    for name, value in values.items():
        spec = BY_NAME.get(name)
        if value is None:
            continue
        if spec is not None:
            key, raw = spec.key, _encode_value(spec, value)
        else:
            key, raw = bytes.fromhex(name), bytes.fromhex(str(value))
        items += key + ber_length_bytes(len(raw)) + raw
    return SET_KEY + ber_length_bytes(len(items)) + bytes(items)
