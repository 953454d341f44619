"""MISB ST 0601 KLV packets decoded from a byte stream and encoded (`landrec.data.klv`)."""

from __future__ import annotations

import pytest

from landrec.data.klv import (
    BY_NAME,
    TAGS,
    UAS_LS_KEY,
    Kind,
    checksum,
    decode_stream,
    encode_packet,
    is_klv,
)

# The example UAS LS packet of MISB ST 0601.8 (its "Example Packet"), byte for byte.
STANDARD_PACKET = bytes.fromhex(
    "060E2B34020B01010E0103010100000081D2020800046050584E0180030A4D697373696F6E20"
    "3132050271C20602FD3D070208B80A085072656461746F720B07454F204E6F73650C0E47656F"
    "64657469632057475338340D045595B66D0E045B5360C40F02C2211002CD9C1102D917120472"
    "4A0A20130487F84B86140400000000150403830926160212811704F101A229180414BC082B19"
    "0234F3301C01010102010703052F2F5553410C01070D060055005300411602000A4101065E22"
    "0170F592F02373364AF8AA9162C00F2EB2DA16B74341000841A0BE365B5AB96A36450102AA43"
)

# One value per decoded name, inside each tag's range (corners as full corners 82-89).
VALUES = {
    "precision_time_stamp": "2009-01-12T22:08:22.123456Z",
    "mission_id": "MISSION01",
    "platform_heading_angle": 159.9744,
    "platform_pitch_angle": -0.4315251,
    "platform_roll_angle": 3.405814,
    "platform_designation": "MQ1-B",
    "image_source_sensor": "EO",
    "image_coordinate_system": "Geodetic WGS84",
    "sensor_latitude": 60.17682296,
    "sensor_longitude": 128.42675904,
    "sensor_true_altitude": 14190.72,
    "sensor_horizontal_fov": 144.5713,
    "sensor_vertical_fov": 152.6436,
    "sensor_relative_azimuth_angle": 160.7192114,
    "sensor_relative_elevation_angle": -168.7923,
    "sensor_relative_roll_angle": 176.8654,
    "slant_range": 68590.98,
    "target_width": 722.8199,
    "frame_center_latitude": -10.54238863,
    "frame_center_longitude": 29.15789012,
    "frame_center_elevation": 3216.037,
    "offset_corner_latitude_point_1": 0.0139,
    "offset_corner_longitude_point_1": -0.0568,
    "offset_corner_latitude_point_2": -0.0743,
    "offset_corner_longitude_point_2": 0.0712,
    "offset_corner_latitude_point_3": 0.0001,
    "offset_corner_longitude_point_3": -0.0003,
    "offset_corner_latitude_point_4": 0.05,
    "offset_corner_longitude_point_4": -0.05,
    "uas_ls_version_number": 13,
    "corner_latitude_point_1": -10.5,
    "corner_longitude_point_1": 29.1,
    "corner_latitude_point_2": 89.999,
    "corner_longitude_point_2": -179.999,
    "corner_latitude_point_3": -45.25,
    "corner_longitude_point_3": 12.75,
    "corner_latitude_point_4": 0.0,
    "corner_longitude_point_4": 179.5,
}


def _one(data: bytes) -> dict:
    result = decode_stream(data)
    assert result.packets == 1
    return result.samples[0]


def test_every_tag_has_a_round_trip_value() -> None:
    assert set(VALUES) == {spec.name for spec in TAGS}


@pytest.mark.parametrize("spec", TAGS, ids=lambda spec: spec.name)
def test_round_trip_within_resolution(spec) -> None:
    value = VALUES[spec.name]
    sample = _one(encode_packet({spec.name: value}))
    assert sample["checksum_ok"] is True
    if isinstance(value, float):
        assert sample[spec.name] == pytest.approx(value, abs=spec.scale / 2 + 1e-12)
    else:
        assert sample[spec.name] == value


def test_round_trip_of_a_whole_packet() -> None:
    sample = _one(encode_packet(VALUES))
    assert sample.pop("checksum_ok") is True
    assert set(sample) == set(VALUES)
    for name, value in VALUES.items():
        expected = pytest.approx(value, abs=BY_NAME[name].scale / 2 + 1e-12)
        assert sample[name] == (expected if isinstance(value, float) else value)


def test_the_standards_example_packet() -> None:
    """MISB ST 0601.8's example packet: its checksum (0xAA43) verifies, and its values are the
    standard's worked examples (tag 2 0x00046050584E0180 = 2009-01-12T22:08:22Z exactly; tag 5
    0x71C2 = 159.9744; 6 0xFD3D = -0.4315251; 7 0x08B8 = 3.405814; 13 0x5595B66D =
    60.1768229669783; 14 0x5B5360C4 = 128.426759042045; 15 0xC221 = 14190.72; 16 0xCD9C =
    144.5713; 17 0xD917 = 152.6436; 18 0x724A0A20 = 160.719211474396; 19 0x87F84B86 =
    -168.792324833941; 21 0x03830926 = 68590.98 (printed to the centimetre);
    23 0xF101A229 = -10.5423886331461; 24 0x14BC082B = 29.157890122923; 25 0x34F3 =
    3216.037), each within its tag's resolution.
    """
    result = decode_stream(STANDARD_PACKET)
    assert (result.packets, result.bad_packets) == (1, 0)
    sample = result.samples[0]
    assert sample["checksum_ok"] is True
    assert sample["precision_time_stamp"] == "2009-01-12T22:08:22.000000Z"
    assert sample["mission_id"] == "Mission 12"
    assert sample["platform_designation"] == "Predator"
    assert sample["image_source_sensor"] == "EO Nose"
    assert sample["uas_ls_version_number"] == 6
    expected = {
        "platform_heading_angle": 159.9744,
        "platform_pitch_angle": -0.4315251,
        "platform_roll_angle": 3.405814,
        "sensor_latitude": 60.1768229669783,
        "sensor_longitude": 128.426759042045,
        "sensor_true_altitude": 14190.72,
        "sensor_horizontal_fov": 144.5713,
        "sensor_vertical_fov": 152.6436,
        "sensor_relative_azimuth_angle": 160.719211474396,
        "sensor_relative_elevation_angle": -168.792324833941,
        "sensor_relative_roll_angle": 0.0,
        "frame_center_latitude": -10.5423886331461,
        "frame_center_longitude": 29.157890122923,
        "frame_center_elevation": 3216.037,
    }
    for name, value in expected.items():
        assert sample[name] == pytest.approx(value, abs=BY_NAME[name].scale / 2), name
    # the standard prints tag 21 to the centimetre, coarser than its 1.2 mm resolution
    assert sample["slant_range"] == pytest.approx(68590.98, abs=0.005)
    assert sample["image_coordinate_system"] == "Geodetic WGS84"
    assert sample["target_width"] == pytest.approx(722.8199, abs=BY_NAME["target_width"].scale / 2)
    # tags 48 (security, a nested set) and 94 are not in the table: kept as hex
    assert sample["48"].startswith("0101")


def test_the_standards_example_values_encode_to_its_bytes() -> None:
    """The worked examples of MISB ST 0601 encode to the standard's bytes."""
    worked = {
        "precision_time_stamp": ("2009-01-12T22:08:22Z", "00046050584E0180"),
        "platform_heading_angle": (159.9744, "71C2"),
        "platform_pitch_angle": (-0.4315251, "FD3D"),
        "platform_roll_angle": (3.405814, "08B8"),
        "sensor_latitude": (60.1768229669783, "5595B66D"),
        "sensor_longitude": (128.426759042045, "5B5360C4"),
        "sensor_true_altitude": (14190.72, "C221"),
        "sensor_horizontal_fov": (144.5713, "CD9C"),
        "frame_center_latitude": (-10.5423886331461, "F101A229"),
        "frame_center_longitude": (29.157890122923, "14BC082B"),
        "frame_center_elevation": (3216.037, "34F3"),
    }
    for name, (value, hex_bytes) in worked.items():
        packet = encode_packet({name: value})
        value_bytes = bytes.fromhex(hex_bytes)
        item = bytes([BY_NAME[name].tag, len(value_bytes)]) + value_bytes
        assert packet[17:-4] == item, name


def test_the_standards_example_packet_re_encodes_byte_for_byte() -> None:
    sample = _one(STANDARD_PACKET)
    assert encode_packet(sample) == STANDARD_PACKET


def test_checksum_is_the_standards_running_sum() -> None:
    data = STANDARD_PACKET[:-2]
    bcc = 0
    for i, byte in enumerate(data):
        bcc += byte << (8 * ((i + 1) % 2))
    assert checksum(data) == bcc & 0xFFFF == 0xAA43


def test_a_wrong_checksum_is_decoded_flagged_and_counted() -> None:
    good = encode_packet({"sensor_latitude": 45.0})
    broken = good[:-1] + bytes([good[-1] ^ 0xFF])
    result = decode_stream(good + broken + good)
    assert (result.packets, result.bad_packets) == (3, 1)
    assert [s["checksum_ok"] for s in result.samples] == [True, False, True]
    assert result.samples[1]["sensor_latitude"] == pytest.approx(45.0)


def test_a_packet_without_checksum_is_flagged() -> None:
    items = bytes([65, 1, 13])
    sample = _one(UAS_LS_KEY + bytes([len(items)]) + items)
    assert sample == {"uas_ls_version_number": 13, "checksum_ok": False}


@pytest.mark.parametrize("cut", [1, 5, 20, 40])
def test_a_truncated_packet_at_the_end_is_counted(cut: int) -> None:
    good = encode_packet(VALUES)
    result = decode_stream(good + good[:-cut])
    assert (result.packets, result.bad_packets) == (1, 1)


def test_a_key_cut_before_its_length_is_counted() -> None:
    good = encode_packet({"mission_id": "A"})
    result = decode_stream(good + UAS_LS_KEY + b"\x82\x01")
    assert (result.packets, result.bad_packets) == (1, 1)


def test_a_corrupt_length_does_not_hide_the_packets_behind_it() -> None:
    good = encode_packet({"mission_id": "A"})
    corrupt = UAS_LS_KEY + b"\x82\xff\xff" + b"\x03\x01B"
    result = decode_stream(corrupt + good + good)
    assert (result.packets, result.bad_packets) == (2, 1)


def test_garbage_before_between_and_after_packets_is_skipped() -> None:
    one, two = encode_packet({"mission_id": "ONE"}), encode_packet({"mission_id": "TWO"})
    data = b"\x00junk\x06\x0e+4" + one + b"\xff" * 37 + UAS_LS_KEY[:9] + two + b"tail\x06"
    result = decode_stream(data)
    assert (result.packets, result.bad_packets) == (2, 0)
    assert [s["mission_id"] for s in result.samples] == ["ONE", "TWO"]


def test_ber_long_form_lengths() -> None:
    text = "M" * 300  # an item of 300 bytes: a two-byte long-form length inside and outside
    packet = encode_packet({"mission_id": text, "platform_heading_angle": 90.0})
    assert packet[16] == 0x82 and packet[19:22] == b"\x03\x82\x01"
    sample = _one(packet)
    assert sample["mission_id"] == text
    assert sample["platform_heading_angle"] == pytest.approx(90.0, abs=0.003)


def test_long_form_for_a_short_length_is_read() -> None:
    items = bytes([65, 0x81, 1, 7, 1, 2])  # a one-byte value with a long-form length
    head = UAS_LS_KEY + bytes([0x83, 0, 0, len(items) + 2]) + items
    sample = _one(head + checksum(head).to_bytes(2, "big"))
    assert sample == {"uas_ls_version_number": 7, "checksum_ok": True}


def test_unknown_tags_are_kept_as_hex_under_their_number() -> None:
    packet = encode_packet({"74": "0a0b0c", "200": "ff", "mission_id": "X"})
    assert b"\x81\x48\x01\xff" in packet  # tag 200 as a two-byte BER-OID
    sample = _one(packet)
    assert (sample["74"], sample["200"], sample["mission_id"]) == ("0a0b0c", "ff", "X")


def test_a_known_tag_of_the_wrong_size_is_kept_as_hex() -> None:
    sample = _one(encode_packet({"13": "0102"}))
    assert sample["sensor_latitude"] == "0102"


def test_error_values_give_none() -> None:
    signed = [spec.name for spec in TAGS if spec.kind in (Kind.INT16, Kind.INT32)]
    sample = _one(encode_packet(dict.fromkeys(signed)))
    assert all(sample[name] is None for name in signed)
    assert encode_packet({"sensor_latitude": None})[17:23] == bytes.fromhex("0D0480000000")


def test_corners_from_offsets_and_the_frame_centre() -> None:
    values = {
        "frame_center_latitude": 10.0,
        "frame_center_longitude": 20.0,
        "offset_corner_latitude_point_1": 0.05,
        "offset_corner_longitude_point_1": -0.05,
        "offset_corner_latitude_point_2": None,
        "corner_latitude_point_3": 11.0,
        "offset_corner_latitude_point_3": 0.07,
    }
    sample = _one(encode_packet(values))
    assert sample["corner_latitude_point_1"] == pytest.approx(10.05, abs=2e-6)
    assert sample["corner_longitude_point_1"] == pytest.approx(19.95, abs=2e-6)
    assert sample["corner_latitude_point_2"] is None
    assert sample["corner_latitude_point_3"] == pytest.approx(11.0, abs=1e-7)  # full wins
    assert "corner_latitude_point_4" not in sample


def test_an_item_running_past_its_packet_ends_the_items() -> None:
    items = bytes([65, 1, 9, 3, 50]) + b"short"
    sample = _one(UAS_LS_KEY + bytes([len(items)]) + items)
    assert sample == {"uas_ls_version_number": 9, "checksum_ok": False}


def test_an_empty_stream_and_garbage_give_no_packets() -> None:
    for data in (b"", b"\x00" * 1000, UAS_LS_KEY[:15]):
        result = decode_stream(data)
        assert (result.packets, result.bad_packets, result.samples) == (0, 0, [])


def test_is_klv() -> None:
    assert is_klv(STANDARD_PACKET[:32])
    assert is_klv(b"\x47" * 100 + STANDARD_PACKET)
    assert not is_klv(b"\x00" * 5000 + STANDARD_PACKET)
    assert not is_klv(STANDARD_PACKET[:15])
    assert not is_klv(b"")


def test_packets_of_one_shape_decode_as_each_alone() -> None:
    # decode_stream unpacks repeated shapes whole: it must give what a packet decoded alone
    # gives (the first packet of a shape is walked item by item), values, hex and None alike.
    packets = [
        encode_packet(
            VALUES | {"sensor_latitude": 10.0 + i, "platform_pitch_angle": None, "48": "0102"}
        )
        for i in range(5)
    ]
    decoded = decode_stream(b"".join(packets))
    assert decoded.packets == 5 and decoded.bad_packets == 0
    assert decoded.samples == [_one(p) for p in packets]
    assert [s["sensor_latitude"] for s in decoded.samples] == pytest.approx(
        [10.0, 11.0, 12.0, 13.0, 14.0], abs=1e-7
    )


def test_two_shapes_of_the_same_length_are_told_apart() -> None:
    # Same total length, other tags: the whole-packet unpack must notice the headers differ.
    heading = encode_packet({"platform_heading_angle": 90.0, "sensor_true_altitude": 1000.0})
    pitch = encode_packet({"platform_pitch_angle": 5.0, "sensor_vertical_fov": 20.0})
    assert len(heading) == len(pitch)
    decoded = decode_stream(heading + pitch + heading + pitch)
    assert [sorted(k for k in s if k != "checksum_ok") for s in decoded.samples] == [
        ["platform_heading_angle", "sensor_true_altitude"],
        ["platform_pitch_angle", "sensor_vertical_fov"],
    ] * 2
    assert decoded.samples[3]["platform_pitch_angle"] == pytest.approx(5.0, abs=1e-3)


def test_a_packet_cut_short_does_not_swallow_the_next() -> None:
    # The first packet loses its tail; its length then covers the start of the second one.
    first, second = encode_packet(VALUES), encode_packet(VALUES | {"mission_id": "SECOND"})
    decoded = decode_stream(first[: len(first) // 2] + second + second)
    assert (decoded.packets, decoded.bad_packets) == (2, 1)
    assert [s["mission_id"] for s in decoded.samples] == ["SECOND", "SECOND"]
    assert all(s["checksum_ok"] for s in decoded.samples)
