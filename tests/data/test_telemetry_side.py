"""Telemetry of GoPro MP4s (GPMF), drone subtitles (.srt) and .gpx files, built at test time."""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from pathlib import Path

import av
import pytest

from landrec.data.errors import UserError
from landrec.data.telemetry import CARRIER, MEDIA_TIME, Carrier, Standard, summarise
from landrec.data.telemetry.errors import TelemetryError
from landrec.data.telemetry.gpmf import read_gpmf
from landrec.data.telemetry.gpx import read_gpx
from landrec.data.telemetry.mp4 import tracks
from landrec.data.telemetry.srt import read_srt

# ---- GPMF payloads -----------------------------------------------------------------------

GPS5_SCAL = (10_000_000, 10_000_000, 1000, 1000, 100)
GPS9_SCAL = (10_000_000, 10_000_000, 1000, 1000, 100, 1, 1000, 100, 1)


def gpmf_item(key: str, type_: str, fmt: str, rows: Sequence[Sequence[object]]) -> bytes:
    """One GPMF KLV item: header, rows packed with `fmt` (one struct), zero padding to 4."""
    body = b"".join(struct.pack(">" + fmt, *row) for row in rows)
    header = struct.pack(
        ">4scBH", key.encode(), type_.encode(), struct.calcsize(">" + fmt), len(rows)
    )
    return header + body + b"\0" * (-len(body) % 4)


def gpmf_nest(key: str, *children: bytes) -> bytes:
    body = b"".join(children)
    return struct.pack(">4sBBH", key.encode(), 0, 4, len(body) // 4) + body


def gps5_payload(fixes: Sequence[tuple[float, float, float]], gpsu: str, fix: int = 3) -> bytes:
    """DEVC > STRM > [STNM, SCAL, GPSU, GPSF, GPSP, GPS5] of (lat, lon, alt) fixes."""
    rows = [
        (round(lat * 1e7), round(lon * 1e7), round(alt * 1000), 1234, 1500)
        for lat, lon, alt in fixes
    ]
    stream = gpmf_nest(
        "STRM",
        gpmf_item("STNM", "c", "20s", [(b"GPS (Lat., Long., Alt.)",)]),
        gpmf_item("SCAL", "l", "l", [(s,) for s in GPS5_SCAL]),
        gpmf_item("GPSU", "U", "16s", [(gpsu.encode(),)]),
        gpmf_item("GPSF", "L", "L", [(fix,)]),
        gpmf_item("GPSP", "S", "H", [(152,)]),
        gpmf_item("GPS5", "l", "5l", rows),
    )
    accl = gpmf_nest("STRM", gpmf_item("ACCL", "s", "3h", [(1, 2, 3)] * 5))
    return gpmf_nest("DEVC", gpmf_item("DVID", "L", "L", [(1,)]), accl, stream)


def gps9_payload(fixes: Sequence[tuple[float, float, float, int, float, int]]) -> bytes:
    """DEVC > STRM > [SCAL, TYPE, GPS9] of (lat, lon, alt, days, seconds, fix) fixes."""
    rows = [
        (round(lat * 1e7), round(lon * 1e7), round(alt * 1000), 2000, 2500, days,
         round(secs * 1000), 110, fix)
        for lat, lon, alt, days, secs, fix in fixes
    ]  # fmt: skip
    stream = gpmf_nest(
        "STRM",
        gpmf_item("SCAL", "l", "l", [(s,) for s in GPS9_SCAL]),
        gpmf_item("TYPE", "c", "9s", [(b"lllllllSS",)]),
        gpmf_item("GPS9", "?", "7l2H", rows),
    )
    return gpmf_nest("DEVC", stream)


# ---- MP4 boxes -----------------------------------------------------------------------------


def box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, *parts: bytes) -> bytes:
    return box(kind, b"\0\0\0\0", *parts)


def mp4_with_track(
    payloads: Sequence[bytes], codec: bytes = b"gpmd", per_chunk: int = 2, co64: bool = False
) -> bytes:
    """An MP4 of one metadata track (timescale 1000, one second a sample), `per_chunk`
    samples a chunk, its samples in an mdat after the ftyp."""
    ftyp = box(b"ftyp", b"mp41", struct.pack(">I", 0), b"mp41isom")
    mdat_start = len(ftyp) + 8
    chunks, pos = [], mdat_start
    for i, payload in enumerate(payloads):
        if i % per_chunk == 0:
            chunks.append(pos)
        pos += len(payload)
    mdat = box(b"mdat", *payloads)
    n = len(payloads)
    entry = box(codec, b"\0" * 6, struct.pack(">H", 1))
    stbl = box(
        b"stbl",
        full_box(b"stsd", struct.pack(">I", 1), entry),
        full_box(b"stts", struct.pack(">III", 1, n, 1000)),
        full_box(b"stsc", struct.pack(">IIII", 1, 1, per_chunk, 1)),
        full_box(b"stsz", struct.pack(f">II{n}I", 0, n, *(len(p) for p in payloads))),
        full_box(b"co64", struct.pack(f">I{len(chunks)}Q", len(chunks), *chunks))
        if co64
        else full_box(b"stco", struct.pack(f">I{len(chunks)}I", len(chunks), *chunks)),
    )
    dinf = box(b"dinf", full_box(b"dref", struct.pack(">I", 1), full_box(b"url ")))
    mdia = box(
        b"mdia",
        full_box(b"mdhd", struct.pack(">IIIIHH", 0, 0, 1000, n * 1000, 0x55C4, 0)),
        full_box(b"hdlr", struct.pack(">I4s12x", 0, b"meta"), b"GoPro MET\0"),
        box(b"minf", box(b"gmhd"), dinf, stbl),
    )
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = full_box(
        b"tkhd", struct.pack(">IIIII8xHHHH", 0, 0, 1, 0, n * 1000, 0, 0, 0, 0), matrix, b"\0" * 8
    )
    mvhd = full_box(
        b"mvhd", struct.pack(">IIII", 0, 0, 1000, n * 1000), struct.pack(">IH10x", 0x10000, 0x100),
        matrix, b"\0" * 24, struct.pack(">I", 2),
    )  # fmt: skip
    return ftyp + mdat + box(b"moov", mvhd, box(b"trak", tkhd, mdia))


LAT, LON = 47.3712345, 8.5312345


def fixes(second: int, n: int = 4) -> list[tuple[float, float, float]]:
    return [
        (LAT + 1e-5 * (second * n + i), LON - 2e-5 * (second * n + i), 400.5 + i) for i in range(n)
    ]


@pytest.fixture
def gopro(tmp_path: Path) -> Path:
    """Three one-second payloads of four fixes each, from 2024-05-01 10:00:00 UTC."""
    payloads = [gps5_payload(fixes(s), f"2405011000{s:02d}.000") for s in range(3)]
    path = tmp_path / "GX010001.MP4"
    path.write_bytes(mp4_with_track(payloads))
    return path


def test_gpmf_reads_exact_positions_times_and_stamps(gopro: Path) -> None:
    telemetry = read_gpmf(gopro)
    assert telemetry.standards == [Standard.GPMF]
    assert (telemetry.packets, telemetry.bad_packets, len(telemetry.samples)) == (3, 0, 12)
    expected = [f for s in range(3) for f in fixes(s)]
    for sample, (lat, lon, alt) in zip(telemetry.samples, expected, strict=True):
        assert sample["sensor_latitude"] == pytest.approx(lat, abs=1e-6)
        assert sample["sensor_longitude"] == pytest.approx(lon, abs=1e-6)
        assert sample["sensor_true_altitude"] == pytest.approx(alt, abs=1e-3)
        assert sample["ground_speed"] == pytest.approx(1.234)
        assert sample["gps_fix"] == 3
        assert sample["gps_dop"] == pytest.approx(1.52)
        assert sample[CARRIER] == Carrier.GPMF.value
    times = [s[MEDIA_TIME] for s in telemetry.samples]
    assert times == pytest.approx([i * 0.25 for i in range(12)])
    assert telemetry.samples[5]["precision_time_stamp"] == "2024-05-01T10:00:01.250000Z"
    track = summarise(telemetry)
    assert [p.t for p in track.points] == pytest.approx([0.0, 1.0, 2.0, 2.75])


def test_mp4_sample_table_agrees_with_ffmpeg(gopro: Path) -> None:
    """The test MP4 is one FFmpeg reads as a gpmd data track, and `tracks` finds the same
    samples (bytes and times) as FFmpeg's demuxer."""
    with av.open(str(gopro)) as container:
        (stream,) = container.streams
        assert (stream.type, stream.metadata["handler_name"]) == ("data", "GoPro MET")
        packets = [
            (float(p.pts * p.time_base), bytes(p)) for p in container.demux(stream) if p.size
        ]
    with gopro.open("rb") as file:
        (table,) = tracks(file, b"gpmd")
        ours = []
        for sample in table.samples:
            file.seek(sample.offset)
            ours.append((sample.start_s, file.read(sample.size)))
    assert table.handler == b"meta"
    assert ours == packets


def test_gpmf_reads_co64_and_one_sample_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "co64.mp4"
    path.write_bytes(
        mp4_with_track([gps5_payload(fixes(0), "240501100000.000")] * 3, per_chunk=1, co64=True)
    )
    telemetry = read_gpmf(path)
    assert (telemetry.packets, telemetry.bad_packets, len(telemetry.samples)) == (3, 0, 12)
    assert telemetry.samples[8][MEDIA_TIME] == pytest.approx(2.0)


def test_gpmf_without_fix_gives_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "nofix.mp4"
    path.write_bytes(mp4_with_track([gps5_payload(fixes(0), "240501100000.000", fix=0)]))
    telemetry = read_gpmf(path)
    assert (telemetry.packets, telemetry.bad_packets, telemetry.samples) == (1, 0, [])
    assert telemetry.standards == [Standard.GPMF]


def test_gpmf_truncated_payload_is_counted_not_fatal(tmp_path: Path) -> None:
    good = gps5_payload(fixes(0), "240501100000.000")
    path = tmp_path / "cut.mp4"
    path.write_bytes(mp4_with_track([good, good[:-13], good]))
    telemetry = read_gpmf(path)
    assert (telemetry.packets, telemetry.bad_packets, len(telemetry.samples)) == (3, 1, 8)
    assert [s[MEDIA_TIME] for s in telemetry.samples][4] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff" * 40,
        b"DEVC\0\x04\xff\xff" + b"\0" * 8,
        gpmf_nest("DEVC", gpmf_nest("STRM", gpmf_item("GPS5", "l", "4l", [(1, 2, 3, 4)]))),
        functools.reduce(lambda inner, _: gpmf_nest("DEVC", inner), range(5000), b""),
    ],
    ids=["garbage", "length-past-end", "gps5-of-4", "nested-5000-deep"],
)
def test_gpmf_corrupt_payloads_are_bad_packets(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(mp4_with_track([payload]))
    telemetry = read_gpmf(path)
    assert (telemetry.packets, telemetry.bad_packets, telemetry.samples) == (1, 1, [])


def test_gpmf_reads_gps9_with_its_own_times(tmp_path: Path) -> None:
    days = 8887  # 2024-05-01 is 8887 days after 2000-01-01
    payload = gps9_payload(
        [(LAT, LON, 400.0, days, 36000.0, 3), (LAT + 1e-5, LON, 401.0, days, 36000.1, 0),
         (LAT + 2e-5, LON, 402.0, days, 36000.2, 3)]
    )  # fmt: skip
    path = tmp_path / "hero12.mp4"
    path.write_bytes(mp4_with_track([gps5_payload(fixes(0), "240501100000.000"), payload]))
    telemetry = read_gpmf(path)
    assert (telemetry.packets, telemetry.bad_packets, len(telemetry.samples)) == (2, 0, 6)
    first, third = telemetry.samples[4:]
    assert third["sensor_latitude"] == pytest.approx(LAT + 2e-5, abs=1e-6)
    assert third["sensor_true_altitude"] == pytest.approx(402.0)
    assert third["gps_dop"] == pytest.approx(1.1)
    assert first["precision_time_stamp"] == "2024-05-01T10:00:00.000000Z"
    assert third["precision_time_stamp"] == "2024-05-01T10:00:00.200000Z"
    assert third[MEDIA_TIME] == pytest.approx(1.2)


def test_file_without_gpmf_is_empty(tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    other.write_bytes(mp4_with_track([b"\0" * 16], codec=b"mp4a"))
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"not an mp4 at all")
    for path in (other, text):
        telemetry = read_gpmf(path)
        assert not telemetry
        assert telemetry.standards == []


# ---- SRT -----------------------------------------------------------------------------------

SRT_PHANTOM = """1
00:00:00,000 --> 00:00:01,000
HOME(8.5300,47.3700) 2017.08.05 14:11:51
GPS(8.5312,47.3712,16) BAROMETER:40.1

2
00:00:01,000 --> 00:00:02,000
HOME(8.5300,47.3700) 2017.08.05 14:11:52
GPS(8.5313,47.3713,17) BAROMETER:41.5
"""

SRT_MAVIC = """1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2023-05-01 10:00:00.123
[iso: 100] [shutter: 1/320.0] [fnum: 2.8] [ev: 0] [focal_len: 24.00] [latitude: 47.371234] \
[longitude: 8.531234] [rel_alt: 12.300 abs_alt: 450.120] [ct: 5500] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
2023-05-01 10:00:00,156,789
[iso: 100] [latitude: 47.371240] [longtitude: 8.531240] [rel_alt: 12.400 abs_alt: 450.220] </font>

3
00:00:00,066 --> 00:00:00,100
<font size="28">FrameCnt: 3, DiffTime: 34ms
2023-05-01 10:00:00.190
[iso: 100] [latitude: north] [longitude: 8.531250] [rel_alt: 12.500 abs_alt: 450.320] </font>
"""

SRT_SPARK = """1
00:00:05,500 --> 00:00:06,500
F/2.8, SS 320, ISO 100, EV 0, GPS (8.53, 47.37, 19), D 10.5m, H 20.1m, H.S 2.70m/s, V.S 0.00m/s

2
00:00:06,500 --> 00:00:07,500
[latitude : 47.38] [longtitude : 8.54] [altitude: 19.5]
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_srt_phantom_format(tmp_path: Path) -> None:
    telemetry = read_srt(write(tmp_path, "DJI_0001.SRT", SRT_PHANTOM))
    assert telemetry.standards == [Standard.DJI_SRT]
    assert (telemetry.packets, telemetry.bad_packets) == (2, 0)
    first, second = telemetry.samples
    assert first == {
        "sensor_latitude": 47.3712,
        "sensor_longitude": 8.5312,
        "sensor_true_altitude": 16.0,
        "relative_altitude": 40.1,
        "home_latitude": 47.37,
        "home_longitude": 8.53,
        "local_time": "2017-08-05T14:11:51.000000",
        MEDIA_TIME: 0.0,
        CARRIER: Carrier.SRT.value,
    }
    assert (second["sensor_latitude"], second[MEDIA_TIME]) == (47.3713, 1.0)


def test_srt_mavic_format_counts_unreadable_cue(tmp_path: Path) -> None:
    telemetry = read_srt(
        write(tmp_path, "DJI_0002.SRT", SRT_MAVIC.replace("\n", "\r\n"), "utf-8-sig")
    )
    assert (telemetry.packets, telemetry.bad_packets, len(telemetry.samples)) == (3, 1, 2)
    first, second = telemetry.samples
    assert (first["sensor_latitude"], first["sensor_longitude"]) == (47.371234, 8.531234)
    assert (first["sensor_true_altitude"], first["relative_altitude"]) == (450.12, 12.3)
    assert first["local_time"] == "2023-05-01T10:00:00.123000"
    assert first[MEDIA_TIME] == 0.0
    assert (second["sensor_longitude"], second["sensor_true_altitude"]) == (8.53124, 450.22)
    assert second["local_time"] == "2023-05-01T10:00:00.156789"
    assert second[MEDIA_TIME] == pytest.approx(0.033)


def test_srt_spark_and_misspelled_formats(tmp_path: Path) -> None:
    telemetry = read_srt(write(tmp_path, "DJI_0003.SRT", SRT_SPARK))
    assert (telemetry.packets, telemetry.bad_packets) == (2, 0)
    spark, mavic2 = telemetry.samples
    assert spark == {
        "sensor_latitude": 47.37,
        "sensor_longitude": 8.53,
        "sensor_true_altitude": 19.0,
        "relative_altitude": 20.1,
        "home_distance": 10.5,
        MEDIA_TIME: 5.5,
        CARRIER: Carrier.SRT.value,
    }
    assert (mavic2["sensor_latitude"], mavic2["sensor_longitude"]) == (47.38, 8.54)
    assert (mavic2["sensor_true_altitude"], mavic2[MEDIA_TIME]) == (19.5, 6.5)


def test_plain_subtitles_are_not_telemetry(tmp_path: Path) -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nHello <i>there</i>\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nGood-bye\n"
    )
    telemetry = read_srt(write(tmp_path, "film.srt", text))
    assert not telemetry
    assert telemetry.standards == []


# ---- GPX -----------------------------------------------------------------------------------

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="46.0" lon="7.0"><name>Hut</name></wpt>
  <trk><name>Walk</name><trkseg>
    <trkpt lat="47.3712345" lon="8.5312345">
      <ele>408.25</ele><time>2024-05-01T10:00:00Z</time>
    </trkpt>
    <trkpt lat="47.3713" lon="8.5313"><ele>409</ele><time>2024-05-01T12:00:05.5+02:00</time></trkpt>
    <trkpt lat="47.3714" lon="8.5314"/>
    <trkpt lat="147.0" lon="8.5"><ele>1</ele></trkpt>
  </trkseg></trk>
</gpx>
"""

GPX10_ROUTE = """<?xml version="1.0"?>
<gpx version="1.0" creator="test" xmlns="http://www.topografix.com/GPX/1/0">
  <rte><rtept lat="-33.5" lon="151.25"><ele>12</ele></rtept></rte>
</gpx>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE gpx [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<gpx version="1.1"><wpt lat="1" lon="2"><name>&lol9;</name></wpt></gpx>
"""


def test_gpx_track_points(tmp_path: Path) -> None:
    telemetry = read_gpx(write(tmp_path, "walk.gpx", GPX))
    assert telemetry.standards == [Standard.GPX]
    assert (telemetry.packets, telemetry.bad_packets, len(telemetry.samples)) == (4, 1, 3)
    first, second, third = telemetry.samples
    assert first == {
        "sensor_latitude": 47.3712345,
        "sensor_longitude": 8.5312345,
        "sensor_true_altitude": 408.25,
        "precision_time_stamp": "2024-05-01T10:00:00.000000Z",
        MEDIA_TIME: None,
        CARRIER: Carrier.GPX.value,
    }
    assert second["precision_time_stamp"] == "2024-05-01T10:00:05.500000Z"
    assert (third["sensor_true_altitude"], third["precision_time_stamp"]) == (None, None)
    track = summarise(telemetry)
    assert [p.t for p in track.points[:2]] == [0.0, 5.5]


def test_gpx10_route_when_no_track(tmp_path: Path) -> None:
    telemetry = read_gpx(write(tmp_path, "route.gpx", GPX10_ROUTE))
    assert [
        (s["sensor_latitude"], s["sensor_longitude"], s["sensor_true_altitude"])
        for s in telemetry.samples
    ] == [(-33.5, 151.25, 12.0)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        ('<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "file:///etc/passwd"><gpx/>', "DOCTYPE"),
        ("<gpx><trk></gpx>", "not well-formed"),
        ('<kml xmlns="http://www.opengis.net/kml/2.2"/>', "not a GPX"),
    ],
    ids=["billion-laughs", "external", "malformed", "kml"],
)
def test_gpx_refuses_hostile_and_malformed_files(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path, "bad.gpx", text)
    with pytest.raises(TelemetryError, match=reason) as raised:
        read_gpx(path)
    assert isinstance(raised.value, UserError)
    assert str(path) in str(raised.value)


def test_gpx_over_the_size_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("landrec.data.telemetry.gpx.MAX_BYTES", 100)
    with pytest.raises(TelemetryError, match="larger than"):
        read_gpx(write(tmp_path, "big.gpx", GPX))
