"""MISB ST 0601 (UAS Datalink Local Set) KLV packets: decoded from a raw byte stream, and encoded.

A packet is the 16-byte UAS LS universal key, a BER length, then a local set of items, each a
BER-OID tag, a BER length and a value; the last item is the checksum (tag 1). `decode_stream`
scans for the key, so garbage before, between and after packets is skipped, and turns each
packet into one sample: a dict of the standard's snake_case names, in degrees, metres and
ISO 8601 UTC text (`TAGS`, one declaration per tag). The int "error" value of a signed field
means "no value" and gives None. A tag that is not in `TAGS` (nested sets such as tag 48,
security ST 0102, and tag 74, VMTI ST 0903, included) is kept as hex text under its number
(`"48"`), as is a known tag whose value has the wrong size.

Decisions:
- A packet whose checksum fails, or that has none, is still decoded, with `checksum_ok` False,
  and counted in `bad_packets`: real encoders are known to compute the checksum wrongly while the
  values are good, and the flag lets a reader decide.
- A packet whose checksum fails and that holds the key of another packet was cut short (its
  length swallowed the next one): it is counted in `bad_packets`, not decoded, and the scan goes
  on at that key.
- A packet whose length runs past the end of the data is counted in `bad_packets` and not
  decoded; the scan goes on from the byte after its key, so a packet with a corrupt length
  never hides the good packets behind it. An item whose length runs past its packet ends the
  packet's items there (the checksum then tells whether the packet was sound).

Pure Python (no NumPy): the bottom layer's sniffing and the archive's extractors use it.
Speed: an encoder repeats one packet shape (its items' tags and lengths), so each shape is walked
once per stream and its later packets are unpacked whole by one `struct` call (`_Layout`).
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from enum import Enum

UAS_LS_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")
CHECKSUM_TAG = 1
SNIFF_BYTES = 4096  # is_klv looks for the key this far into a file's head
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

Value = float | int | str | bool | None
Sample = dict[str, Value]


class Kind(Enum):
    """How a tag's value is stored: the struct format that reads it, or text/time."""

    UINT8 = ">B"
    UINT16 = ">H"
    UINT32 = ">I"
    INT16 = ">h"
    INT32 = ">i"
    TIME = ">Q"  # microseconds since 1970-01-01 UTC
    TEXT = ""


@dataclass(frozen=True, slots=True)
class TagSpec:
    """One ST 0601 tag: its number, name, storage and the range its integers map onto.

    Unsigned kinds map 0..2**n-1 linearly onto low..high; signed kinds map
    -(2**(n-1)-1)..2**(n-1)-1 onto -high..high and keep -2**(n-1) as the "no value" marker.
    A UINT8 with no range is a plain integer (the version number).
    """

    tag: int
    name: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    scale: float = field(init=False, default=0.0)  # units per integer step
    size: int = field(init=False, default=0)  # bytes
    error: int | None = field(init=False, default=None)  # the signed "no value" integer
    scaled: bool = field(init=False, default=False)  # a number on a linear scale (the fast path)

    def __post_init__(self) -> None:
        size = struct.calcsize(self.kind.value) if self.kind is not Kind.TEXT else 0
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "scaled", self.high != self.low)
        if self.kind in (Kind.INT16, Kind.INT32):
            steps = (1 << (8 * size - 1)) - 1
            object.__setattr__(self, "scale", self.high / steps)
            object.__setattr__(self, "error", -(steps + 1))
        elif self.high != self.low:
            object.__setattr__(self, "scale", (self.high - self.low) / ((1 << (8 * size)) - 1))


def _latitude(tag: int, name: str) -> TagSpec:
    return TagSpec(tag, name, Kind.INT32, -90.0, 90.0)


def _longitude(tag: int, name: str) -> TagSpec:
    return TagSpec(tag, name, Kind.INT32, -180.0, 180.0)


def _altitude(tag: int, name: str) -> TagSpec:
    return TagSpec(tag, name, Kind.UINT16, -900.0, 19000.0)


def _offset(tag: int, name: str) -> TagSpec:
    return TagSpec(tag, name, Kind.INT16, -0.075, 0.075)


_CORNERS = [(n, axis) for n in range(1, 5) for axis in ("latitude", "longitude")]

TAGS: tuple[TagSpec, ...] = (
    TagSpec(2, "precision_time_stamp", Kind.TIME),
    TagSpec(3, "mission_id", Kind.TEXT),
    TagSpec(5, "platform_heading_angle", Kind.UINT16, 0.0, 360.0),
    TagSpec(6, "platform_pitch_angle", Kind.INT16, -20.0, 20.0),
    TagSpec(7, "platform_roll_angle", Kind.INT16, -50.0, 50.0),
    TagSpec(10, "platform_designation", Kind.TEXT),
    TagSpec(11, "image_source_sensor", Kind.TEXT),
    TagSpec(12, "image_coordinate_system", Kind.TEXT),
    _latitude(13, "sensor_latitude"),
    _longitude(14, "sensor_longitude"),
    _altitude(15, "sensor_true_altitude"),
    TagSpec(16, "sensor_horizontal_fov", Kind.UINT16, 0.0, 180.0),
    TagSpec(17, "sensor_vertical_fov", Kind.UINT16, 0.0, 180.0),
    TagSpec(18, "sensor_relative_azimuth_angle", Kind.UINT32, 0.0, 360.0),
    TagSpec(19, "sensor_relative_elevation_angle", Kind.INT32, -180.0, 180.0),
    TagSpec(20, "sensor_relative_roll_angle", Kind.UINT32, 0.0, 360.0),
    TagSpec(21, "slant_range", Kind.UINT32, 0.0, 5_000_000.0),
    TagSpec(22, "target_width", Kind.UINT16, 0.0, 10_000.0),
    _latitude(23, "frame_center_latitude"),
    _longitude(24, "frame_center_longitude"),
    _altitude(25, "frame_center_elevation"),
    *(_offset(26 + i, f"offset_corner_{axis}_point_{n}") for i, (n, axis) in enumerate(_CORNERS)),
    TagSpec(65, "uas_ls_version_number", Kind.UINT8),
    *(
        (_latitude if axis == "latitude" else _longitude)(82 + i, f"corner_{axis}_point_{n}")
        for i, (n, axis) in enumerate(_CORNERS)
    ),
)
BY_TAG = {spec.tag: spec for spec in TAGS}
BY_NAME = {spec.name: spec for spec in TAGS}
# (corner name, its offset's name, the frame centre's name): a corner from an offset (26-33)
CORNER_FROM_OFFSET = tuple(
    (f"corner_{axis}_point_{n}", f"offset_corner_{axis}_point_{n}", f"frame_center_{axis}")
    for n, axis in _CORNERS
)


@dataclass(frozen=True)
class KlvDecode:
    """What a stream held: packets decoded, bad ones (checksum failed or truncated), samples."""

    packets: int  # decoded packets, checksum failures included (one sample each)
    bad_packets: int  # checksum failures + truncated packets (these are not decoded)
    samples: list[Sample]  # one per decoded packet, in stream order


def checksum(data: bytes) -> int:
    """ST 0601's 16-bit running sum: bcc += byte << (8 * ((i + 1) % 2)), modulo 2**16."""
    # even-indexed bytes are shifted by 8, odd ones by 0: two C-speed sums give the same total
    return (sum(data[0::2]) * 256 + sum(data[1::2])) & 0xFFFF


def ber_length(data: bytes, pos: int) -> tuple[int, int]:
    """(length, position after it) of the BER length at `pos`; IndexError past the end."""
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    end = pos + 1 + count
    if end > len(data):
        raise IndexError(pos)
    return int.from_bytes(data[pos + 1 : end], "big"), end


def _ber_oid(data: bytes, pos: int) -> tuple[int, int]:
    """(tag, position after it) of the BER-OID tag at `pos` (7 bits a byte, high bit: more)."""
    tag = 0
    while True:
        byte = data[pos]
        pos += 1
        tag = (tag << 7) | (byte & 0x7F)
        if byte < 0x80:
            return tag, pos


def _decode_value(spec: TagSpec, raw: bytes) -> Value:
    """The value of a text, time or plain-integer item, or of a scaled one of the wrong size
    (hex text); scaled items of the right size are decoded inline by `_decode_items`."""
    if spec.kind is Kind.TEXT:
        return raw.decode("utf-8", errors="replace")
    if len(raw) != spec.size or spec.scaled:
        return raw.hex()
    number: int = struct.unpack(spec.kind.value, raw)[0]
    return iso_time(number) if spec.kind is Kind.TIME else number


def iso_time(microseconds: int) -> str:
    """ISO 8601 UTC text, to the microsecond, of microseconds since 1970."""
    try:
        stamp = EPOCH + dt.timedelta(microseconds=microseconds)
    except OverflowError:
        return f"{microseconds:#018x}"
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decode_items(data: bytes, start: int, end: int) -> Sample:
    """The sample of the local set in data[start:end] (the checksum item left out)."""
    sample: Sample = {}
    pos = start
    try:
        while pos < end:
            tag, pos = _ber_oid(data, pos)
            length, pos = ber_length(data, pos)
            if pos + length > end:
                break  # the item runs past its packet: the checksum says whether that matters
            spec = BY_TAG.get(tag)
            if spec is not None and spec.scaled and spec.size == length:  # most items: inline
                number = int.from_bytes(
                    data[pos : pos + length], "big", signed=spec.error is not None
                )
                if spec.error is None:
                    sample[spec.name] = spec.low + number * spec.scale
                else:
                    sample[spec.name] = None if number == spec.error else number * spec.scale
            elif spec is not None:
                sample[spec.name] = _decode_value(spec, data[pos : pos + length])
            elif tag != CHECKSUM_TAG:
                sample[str(tag)] = data[pos : pos + length].hex()
            pos += length
    except IndexError:
        pass  # a tag or length cut by the packet's end: the same as an overrun above
    _add_corners(sample)
    return sample


# How `_Layout` turns each unpacked value into the sample's value (small ints: the hot loop).
_SKIP, _UNSIGNED, _SIGNED, _TEXT, _TIME, _INT, _HEX = range(7)


@dataclass(frozen=True, slots=True)
class _Layout:
    """One packet shape (its items' tags and lengths, in order), decoded with one struct call.

    Encoders repeat the same items packet after packet, so a stream has few shapes: the first
    packet of each is walked item by item (`_decode_items`), the rest unpacked whole, their
    BER tag and length bytes compared with the shape's before any value is used."""

    unpack: struct.Struct  # header bytes and value of every item, alternating
    headers: tuple[bytes, ...]  # each item's tag and length bytes, as the shape has them
    plan: tuple[tuple[str, int, float, float, int | None], ...]  # name, how, low, scale, error

    @classmethod
    def of(cls, data: bytes, start: int, end: int) -> _Layout | None:
        """The shape of the local set data[start:end]; None unless its items fill it exactly."""
        fmt, headers = [">"], []
        plan: list[tuple[str, int, float, float, int | None]] = []
        pos = start
        try:
            while pos < end:
                tag, after_tag = _ber_oid(data, pos)
                length, value_at = ber_length(data, after_tag)
                if value_at + length > end:
                    return None
                headers.append(data[pos:value_at])
                fmt.append(f"{value_at - pos}s")
                fmt.append(_step(tag, length, plan))
                pos = value_at + length
        except IndexError:
            return None
        return cls(struct.Struct("".join(fmt)), tuple(headers), tuple(plan))

    def decode(self, data: bytes, start: int) -> Sample | None:
        """The sample of a packet of this shape at `start`; None when its items differ."""
        fields = self.unpack.unpack_from(data, start)
        if fields[0::2] != self.headers:
            return None
        sample: Sample = {}
        for (name, how, low, scale, error), value in zip(self.plan, fields[1::2], strict=True):
            if how == _UNSIGNED:
                sample[name] = low + value * scale
            elif how == _SIGNED:
                sample[name] = None if value == error else value * scale
            elif how == _TEXT:
                sample[name] = value.decode("utf-8", errors="replace")
            elif how == _TIME:
                sample[name] = iso_time(value)
            elif how == _INT:
                sample[name] = value
            elif how == _HEX:
                sample[name] = value.hex()
        _add_corners(sample)
        return sample


def _step(tag: int, length: int, plan: list[tuple[str, int, float, float, int | None]]) -> str:
    """The struct code reading one item's value, with how to turn it into the sample's value
    appended to `plan` (the same result `_decode_items` gives for it)."""
    spec = BY_TAG.get(tag)
    if spec is None:
        plan.append((str(tag), _SKIP if tag == CHECKSUM_TAG else _HEX, 0.0, 0.0, None))
        return f"{length}s"
    if spec.kind is Kind.TEXT:
        plan.append((spec.name, _TEXT, 0.0, 0.0, None))
        return f"{length}s"
    if length != spec.size:
        plan.append((spec.name, _HEX, 0.0, 0.0, None))
        return f"{length}s"
    if spec.scaled:
        how = _UNSIGNED if spec.error is None else _SIGNED
        plan.append((spec.name, how, spec.low, spec.scale, spec.error))
    else:
        plan.append((spec.name, _TIME if spec.kind is Kind.TIME else _INT, 0.0, 0.0, None))
    return spec.kind.value[1:]


def _add_corners(sample: Sample) -> None:
    """Corners from offsets (26-33) plus the frame centre, where no full corner (82-89) came."""
    for corner, offset, centre in CORNER_FROM_OFFSET:
        if corner in sample or offset not in sample:
            continue
        delta, base = sample[offset], sample.get(centre)
        if isinstance(delta, float) and isinstance(base, float):
            sample[corner] = base + delta
        else:
            sample[corner] = None  # no offset, or no frame centre to add it to


def checksum_ok(data: bytes, start: int, end: int) -> bool:
    """Whether the packet data[start:end] ends in a checksum item that matches its bytes."""
    if end - start < 4 or data[end - 4] != CHECKSUM_TAG or data[end - 3] != 2:
        return False
    return checksum(data[start : end - 2]) == int.from_bytes(data[end - 2 : end], "big")


def decode_stream(data: bytes) -> KlvDecode:
    """Every UAS LS packet in `data` (a raw .klv stream), decoded in order; garbage skipped."""
    samples: list[Sample] = []
    shapes: dict[int, _Layout | None] = {}  # by local set length (None: seen once so far)
    bad = 0
    pos = data.find(UAS_LS_KEY)
    while pos >= 0:
        try:
            length, body = ber_length(data, pos + len(UAS_LS_KEY))
        except IndexError:
            length, body = len(data), len(data)  # the length itself is cut off
        end = body + length
        if end > len(data):
            bad += 1
            pos = data.find(UAS_LS_KEY, pos + 1)
            continue
        ok = checksum_ok(data, pos, end)
        inner = -1 if ok else data.find(UAS_LS_KEY, pos + 1, end)
        if inner >= 0:  # cut short: its length swallowed the packet that starts at `inner`
            bad += 1
            pos = inner
            continue
        bad += not ok
        shape = shapes.get(end - body)
        sample = shape.decode(data, body) if shape is not None else None
        if sample is None:
            sample = _decode_items(data, body, end)
            if end - body in shapes:  # a length seen before: worth a shape (a lone one is not)
                if (shape := _Layout.of(data, body, end)) is not None:
                    shapes[end - body] = shape
            else:
                shapes[end - body] = None
        sample["checksum_ok"] = ok
        samples.append(sample)
        pos = data.find(UAS_LS_KEY, end)
    return KlvDecode(packets=len(samples), bad_packets=bad, samples=samples)


def is_klv(head: bytes) -> bool:
    """Whether the UAS LS key is at the start of, or within, the first bytes of `head`."""
    return UAS_LS_KEY in head[:SNIFF_BYTES]


def ber_length_bytes(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def _ber_oid_bytes(tag: int) -> bytes:
    out = [tag & 0x7F]
    tag >>= 7
    while tag:
        out.append(0x80 | (tag & 0x7F))
        tag >>= 7
    return bytes(reversed(out))


def _encode_number(spec: TagSpec, value: float) -> int:
    """The integer of `value` under the spec's mapping, rounded and held in range."""
    if spec.scale == 0.0:
        return int(value)
    if spec.error is not None:
        limit = -spec.error - 1
        return max(-limit, min(limit, round(value / spec.scale)))
    top = (1 << (8 * spec.size)) - 1
    return max(0, min(top, round((value - spec.low) / spec.scale)))


def _encode_value(spec: TagSpec, value: Value) -> bytes | None:
    """The value bytes of one item; None when `value` is None and the tag has no error value."""
    if spec.kind is Kind.TEXT:
        return str(value).encode("utf-8")
    if spec.kind is Kind.TIME:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        number = (stamp - EPOCH) // dt.timedelta(microseconds=1)
    elif value is None:
        if spec.error is None:
            return None
        number = spec.error
    else:
        number = _encode_number(spec, float(value))
    return struct.pack(spec.kind.value, number)


def _item(tag: int, value: bytes) -> bytes:
    return _ber_oid_bytes(tag) + ber_length_bytes(len(value)) + value


def encode_packet(values: Sample) -> bytes:
    """One UAS LS packet of `values` (names as decode_stream gives them; a tag number as text
    with hex text for any other item), the checksum item last and correct."""
    items = bytearray()
    for name, value in values.items():
        spec = BY_NAME.get(name)
        encoded = _encode_value(spec, value) if spec is not None else None
        if spec is not None and encoded is not None:
            items += _item(spec.tag, encoded)
        elif name.isdigit():
            items += _item(int(name), bytes.fromhex(str(value)))
    items += bytes([CHECKSUM_TAG, 2])
    head = UAS_LS_KEY + ber_length_bytes(len(items) + 2) + items
    return head + checksum(head).to_bytes(2, "big")
