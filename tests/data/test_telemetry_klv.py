"""Raw KLV telemetry: ST 0601 and EG 0104 packets in one byte stream (`landrec.data.telemetry`),
EG 0104 decoded and encoded, and the files of navigation data told apart by `sniff.detect`."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from landrec.data.errors import InputNotFoundError
from landrec.data.formats import MediaKind
from landrec.data.klv import encode_packet as encode_st0601
from landrec.data.sniff import detect
from landrec.data.telemetry import (
    CARRIER,
    MEDIA_TIME,
    Carrier,
    Standard,
    eg0104,
    read_telemetry,
    summarise,
)
from landrec.data.telemetry.rawklv import decode_klv, read_klv
from telemetry_media import START, eg0104_packets, flight, st0601_packets, write_raw_klv

# What ST 0601's integer mappings keep of a value (degrees; metres for the altitude).
ST0601_TOLERANCE = {"sensor_true_altitude": 0.2, "platform_heading_angle": 0.006}
GARBAGE = b"\x06\x0e\x2b\x34junk\x00\xff" * 3  # a key's first bytes, then none of it


def assert_flight(samples: list[dict], expected: list[dict], exact: bool = False) -> None:
    assert len(samples) == len(expected)
    for got, want in zip(samples, expected, strict=True):
        for name, value in want.items():
            if isinstance(value, float):
                tolerance = 0.0 if exact else ST0601_TOLERANCE.get(name, 1e-7)
                assert got[name] == pytest.approx(value, abs=tolerance), name
            else:
                assert got[name] == value, name


def test_raw_st0601_round_trips_with_garbage_between_packets(tmp_path: Path) -> None:
    path = write_raw_klv(tmp_path / "flight.klv", st0601_packets(5), garbage=GARBAGE)
    telemetry = read_telemetry(path)
    assert (telemetry.standards, telemetry.packets, telemetry.bad_packets) == (
        [Standard.ST0601],
        5,
        0,
    )
    assert telemetry.sources == [path]
    assert_flight(telemetry.samples, flight(5))
    assert {(s[CARRIER], s[MEDIA_TIME], s["checksum_ok"]) for s in telemetry.samples} == {
        (Carrier.RAW_KLV.value, None, True)
    }
    track = summarise(telemetry)  # no media times: counted from the time stamps
    assert [p.t for p in track.points] == [0.0, 0.4]  # 1 Hz: the first and the last
    assert track.platform == "TEST-UAV" and track.start is not None
    assert track.start.isoformat() == "2024-05-01T10:00:00+00:00"


def test_truncated_last_packet_is_counted_and_bad_checksum_kept(tmp_path: Path) -> None:
    packets = st0601_packets(4)
    packets[1] = packets[1][:-1] + bytes([packets[1][-1] ^ 0xFF])  # a wrong checksum
    data = b"".join(packets)
    path = tmp_path / "cut.klv"
    path.write_bytes(data[: len(data) - 10])  # the last packet loses its end
    telemetry = read_klv(path)
    assert (telemetry.packets, telemetry.bad_packets) == (3, 2)
    assert [s["checksum_ok"] for s in telemetry.samples] == [True, False, True]
    assert_flight(telemetry.samples, flight(3))  # the bad checksum's values are kept


def test_eg0104_round_trip_is_exact_for_doubles_and_text() -> None:
    values = flight(1)[0] | {"slant_range": 2500.5, "episode_number": "7"}
    sample = eg0104.decode_stream(eg0104.encode_packet(values)).samples[0]
    assert {k: v for k, v in sample.items() if isinstance(v, str)} == {
        k: v for k, v in values.items() if isinstance(v, str)
    }
    for name in ("sensor_latitude", "frame_center_longitude", "corner_latitude_point_3"):
        assert sample[name] == values[name]  # IEEE doubles: bit for bit
    assert sample["sensor_true_altitude"] == 1500.0 and sample["slant_range"] == 2500.5
    assert sample["precision_time_stamp"] == START


def test_eg0104_labels_ignore_their_version_and_keep_unknown_ones() -> None:
    latitude = eg0104.BY_NAME["sensor_latitude"].key
    other_version = latitude[:7] + b"\x0a" + latitude[8:]
    unknown = bytes.fromhex("060E2B34010101010E0101FFFFFF0000")
    items = other_version + b"\x08" + struct.pack(">d", -33.5)
    items += unknown + b"\x02\xab\xcd"
    heading = eg0104.BY_NAME["platform_heading_angle"].key
    items += heading + b"\x08" + struct.pack(">d", 271.25)  # a double where a float is declared
    decoded = eg0104.decode_stream(eg0104.SET_KEY + bytes([len(items)]) + items)
    assert (decoded.packets, decoded.bad_packets) == (1, 0)
    assert decoded.samples[0] == {
        "sensor_latitude": -33.5,
        unknown.hex(): "abcd",
        "platform_heading_angle": 271.25,
    }


@pytest.mark.parametrize("encode", [encode_st0601, eg0104.encode_packet], ids=["st0601", "eg0104"])
def test_a_packet_cut_anywhere_never_hides_the_next(encode) -> None:
    good = encode({"sensor_latitude": 1.5, "sensor_longitude": 2.5})
    for cut in range(1, len(good)):  # every truncation of a packet, a good packet after it
        found = decode_klv(good[:cut] + good, Path("cut.klv"), Carrier.RAW_KLV)
        assert (found.packets, found.bad_packets) == (1, int(cut >= 16)), cut
        assert found.samples[0]["sensor_latitude"] == pytest.approx(1.5, abs=1e-7)


def test_an_eg0104_item_past_its_packet_counts_the_packet_bad() -> None:
    good = eg0104.encode_packet({"sensor_latitude": 1.5, "sensor_longitude": 2.5})
    overrun = bytearray(good)
    overrun[17 + 16 + 8 + 1 + 16] = 0x7F  # the second item claims more than the packet holds
    decoded = eg0104.decode_stream(bytes(overrun))
    assert (decoded.packets, decoded.bad_packets) == (1, 1)
    assert decoded.samples == [{"sensor_latitude": 1.5}]


def test_mixed_st0601_and_eg0104_file_keeps_stream_order(tmp_path: Path) -> None:
    st, eg = st0601_packets(3), eg0104_packets(3, start="2024-05-01T11:00:00Z")
    path = write_raw_klv(tmp_path / "mixed.klv", [st[0], eg[0], eg[1], st[1], eg[2], st[2]])
    telemetry = read_telemetry(path)
    assert telemetry.standards == [Standard.ST0601, Standard.EG0104]
    assert (telemetry.packets, telemetry.bad_packets) == (6, 0)
    hours = [str(s["precision_time_stamp"])[11:13] for s in telemetry.samples]
    assert hours == ["10", "11", "11", "10", "11", "10"]
    eg_samples = [s for s in telemetry.samples if "checksum_ok" not in s]
    assert_flight(eg_samples, flight(3, start="2024-05-01T11:00:00Z"), exact=True)


def test_navigation_files_are_detected_as_telemetry(tmp_path: Path) -> None:
    st = write_raw_klv(tmp_path / "a.bin", st0601_packets(2), garbage=b"x" * 100)
    eg = write_raw_klv(tmp_path / "b", eg0104_packets(2))
    gpx = tmp_path / "c.xml"
    gpx.write_text('<?xml version="1.0"?>\n<gpx version="1.1"><trk></trk></gpx>\n')
    drone = tmp_path / "d.txt"
    drone.write_text("1\n00:00:00,000 --> 00:00:00,033\n[latitude: 34.68] [longitude: 135.52]\n")
    subtitles = tmp_path / "e.srt"
    subtitles.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello there.\n")
    found = {p.name: detect(p) for p in (st, eg, gpx, drone, subtitles)}
    assert {name: (d.kind, d.what, d.mime) for name, d in found.items()} == {
        "a.bin": (MediaKind.TELEMETRY, "KLV metadata (MISB ST 0601)", "application/x-klv"),
        "b": (MediaKind.TELEMETRY, "KLV metadata (MISB EG 0104)", "application/x-klv"),
        "c.xml": (MediaKind.TELEMETRY, "GPX track", "application/gpx+xml"),
        "d.txt": (
            MediaKind.TELEMETRY,
            "SRT subtitles (drone telemetry)",
            "application/x-subrip",
        ),
        "e.srt": (MediaKind.UNSUPPORTED, "SRT subtitles", "application/x-subrip"),
    }
    assert found["a.bin"].error == "telemetry, not an image or video (KLV metadata (MISB ST 0601))"


def test_other_files_have_no_telemetry_and_missing_ones_raise(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing to see\n")
    telemetry = read_telemetry(notes)
    assert not telemetry and telemetry.samples == [] and telemetry.sources == [notes]
    with pytest.raises(InputNotFoundError, match=r"gone\.klv"):
        read_telemetry(tmp_path / "gone.klv")
