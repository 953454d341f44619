"""KLV telemetry of MPEG transport streams (STANAG 4609) and the side files beside a video."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import av
import numpy as np
import pytest

from landrec.data.formats import MediaKind
from landrec.data.sniff import detect
from landrec.data.telemetry import (
    CARRIER,
    MEDIA_TIME,
    Carrier,
    Standard,
    Telemetry,
    TelemetryError,
    mpegts,
    read_telemetry,
    side_files_of,
    summarise,
)
from landrec.data.telemetry.mpegts import read_mpegts, strip_au_cells
from landrec.data.telemetry.tspackets import Pes, read_pes
from telemetry_media import (
    SIZE,
    _packets,
    _pes,
    eg0104_packets,
    flight,
    program_streams,
    st0601_packets,
    write_raw_klv,
    write_ts,
)

SECONDS, FPS = 2.0, 10
ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x0f" + b"\x00" * 15  # an empty ID3 tag: not KLV


def by_stream(samples: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for sample in samples:
        out.setdefault(int(sample["stream"]), []).append(sample)
    return out


def test_every_klv_stream_is_read_and_other_data_streams_are_not(tmp_path: Path) -> None:
    path = write_ts(
        tmp_path / "two.ts",
        SECONDS,
        FPS,
        [st0601_packets(20), eg0104_packets(8, start="2024-05-01T11:00:00Z")],
        extra_data_stream=ID3,
    )
    kinds = {pid: (kind, info[:2]) for pid, (kind, info) in program_streams(path).items()}
    assert sorted(kinds.values()) == [
        (0x02, b""),
        (0x06, b"\x05\x04"),
        (0x06, b"\x05\x04"),
        (0x15, b"&\r"),
    ]
    assert detect(path).kind is MediaKind.VIDEO  # a KLV key in its head leaves it a video
    telemetry = read_telemetry(path)
    assert telemetry.standards == [Standard.ST0601, Standard.EG0104]
    assert (telemetry.packets, telemetry.bad_packets) == (28, 0)
    streams = by_stream(telemetry.samples)
    assert sorted(streams) == [1, 2]  # stream 3, the ID3 one, gives nothing
    for samples, count in ((streams[1], 20), (streams[2], 8)):
        times = [s[MEDIA_TIME] for s in samples]
        expected = [k * SECONDS / count for k in range(count)]
        assert times == pytest.approx(expected, abs=1e-3)  # the PTS, from the video's start
        assert all(0 <= t < SECONDS for t in times)
        assert {s[CARRIER] for s in samples} == {Carrier.MPEG_TS.value}
    for samples, start in ((streams[1], None), (streams[2], "2024-05-01T11:00:00Z")):
        want = flight(len(samples), *([start] if start else []))
        for name in ("sensor_latitude", "corner_longitude_point_3"):
            got = [s[name] for s in samples]
            assert got == pytest.approx([w[name] for w in want], abs=1e-6)
    track = summarise(telemetry)
    assert track.bounds is not None and track.platform == "TEST-UAV"
    assert track.at(1.05)[0] is not None


def test_synchronous_klv_with_au_cell_headers(tmp_path: Path) -> None:
    path = write_ts(tmp_path / "sync.ts", SECONDS, FPS, [st0601_packets(20)], sync=True)
    (kind, info) = program_streams(path)[0x101]
    assert kind == 0x15 and b"KLVA" in info
    telemetry = read_telemetry(path)
    assert (telemetry.packets, telemetry.bad_packets) == (20, 0)
    times = [s[MEDIA_TIME] for s in telemetry.samples]
    assert times == pytest.approx([k / 10 for k in range(20)], abs=1e-3)
    assert [s["sensor_true_altitude"] for s in telemetry.samples] == pytest.approx(
        [1500.0 + k for k in range(20)], abs=0.2
    )


def test_au_cell_headers_are_stripped_when_the_demuxer_leaves_them() -> None:
    first, second = st0601_packets(2)
    cells = b"".join(
        bytes([0, seq, 0xDF]) + len(p).to_bytes(2, "big") + p
        for seq, p in enumerate((first, second))
    )
    assert strip_au_cells(cells) == first + second
    assert strip_au_cells(first) == first  # a key at 0: no header
    assert strip_au_cells(b"\x00" * 40) == b"\x00" * 40  # no key anywhere: left as it is


def test_packets_split_across_pes_take_the_time_of_the_pes_they_start_in(tmp_path: Path) -> None:
    payloads = []
    for packet in st0601_packets(6):
        payloads += [packet[:30], packet[30:]]  # each packet in two PES, 1/12 s apart
    telemetry = read_telemetry(write_ts(tmp_path / "split.ts", SECONDS, FPS, [payloads]))
    assert (telemetry.packets, telemetry.bad_packets) == (6, 0)
    times = [s[MEDIA_TIME] for s in telemetry.samples]
    assert times == pytest.approx([2 * k * SECONDS / 12 for k in range(6)], abs=1e-3)


def test_a_ts_without_klv_has_empty_telemetry(tmp_path: Path) -> None:
    telemetry = read_telemetry(write_ts(tmp_path / "plain.ts", SECONDS, FPS, [], ID3))
    assert not telemetry and telemetry.standards == [] and telemetry.samples == []


def test_a_truncated_ts_gives_the_packets_before_the_cut(tmp_path: Path) -> None:
    path = write_ts(tmp_path / "whole.ts", SECONDS, FPS, [st0601_packets(20)])
    whole = read_telemetry(path)
    cut = tmp_path / "cut.ts"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10 + 77])  # mid TS packet
    partial = read_telemetry(cut)
    assert 0 < partial.packets < whole.packets
    assert partial.samples == whole.samples[: partial.packets]


def test_bad_checksums_inside_a_ts_are_counted_and_kept(tmp_path: Path) -> None:
    packets = st0601_packets(20)
    for k in (3, 11, 17):
        packets[k] = packets[k][:-1] + bytes([packets[k][-1] ^ 0x01])
    telemetry = read_telemetry(write_ts(tmp_path / "bad.ts", SECONDS, FPS, [packets]))
    assert (telemetry.packets, telemetry.bad_packets) == (20, 3)
    flags = [s["checksum_ok"] for s in telemetry.samples]
    assert [k for k, ok in enumerate(flags) if not ok] == [3, 11, 17]


def test_a_track_read_decodes_one_packet_a_second_and_counts_them_all(tmp_path: Path) -> None:
    packets = st0601_packets(40, rate_hz=10.0)  # 4 s of KLV at 10 Hz, spread over the video
    for k in (3, 11, 39):  # bad checksums: two among the packets left undecoded, and the last
        packets[k] = packets[k][:-1] + bytes([packets[k][-1] ^ 0x01])
    two = [st0601_packets(8, rate_hz=2.0)]  # a second stream at 2 Hz
    path = write_ts(tmp_path / "long.ts", 4.0, FPS, [packets, *two])
    whole, thin = read_telemetry(path), read_telemetry(path, every_s=1.0)
    assert (thin.packets, thin.bad_packets) == (whole.packets, whole.bad_packets) == (48, 3)
    assert thin.standards == whole.standards
    for stream, samples in by_stream(thin.samples).items():
        full = by_stream(whole.samples)[stream]
        expected, slots = [], set()  # the first sample of each second, and the stream's last
        for sample in full:
            if (slot := math.floor(sample[MEDIA_TIME])) not in slots:
                slots.add(slot)
                expected.append(sample)
        if expected[-1] is not full[-1]:
            expected.append(full[-1])
        assert samples == expected and len(samples) < len(full)
    assert summarise(thin) == dataclasses.replace(summarise(whole), samples=len(thin.samples))


def test_not_a_transport_stream_is_a_telemetry_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.ts"
    path.write_text("not a video\n" * 50)
    with pytest.raises(TelemetryError, match="not a readable MPEG transport stream"):
        read_mpegts(path)


def m2ts(ts: Path, path: Path) -> Path:
    """`ts` as M2TS: a 4-byte arrival time stamp before each 188-byte packet."""
    data = ts.read_bytes()
    packets = [data[p : p + 188] for p in range(0, len(data), 188)]
    path.write_bytes(b"".join((300 * k).to_bytes(4, "big") + p for k, p in enumerate(packets)))
    return path


def cut(ts: Path, path: Path) -> Path:
    """`ts` cut inside a TS packet at 60% of its length."""
    path.write_bytes(ts.read_bytes()[: ts.stat().st_size * 6 // 10 + 77])
    return path


def bad_checksums(packets: list[bytes]) -> list[bytes]:
    for k in (3, 11, 17):
        packets[k] = packets[k][:-1] + bytes([packets[k][-1] ^ 0x01])
    return packets


def split(packets: list[bytes]) -> list[bytes]:
    return [part for p in packets for part in (p[:30], p[30:])]


TS_FILES = {  # the transport streams of the tests above
    "two": lambda d: write_ts(
        d / "two.ts", SECONDS, FPS, [st0601_packets(20), eg0104_packets(8)], ID3
    ),
    "sync": lambda d: write_ts(d / "sync.ts", SECONDS, FPS, [st0601_packets(20)], sync=True),
    "split": lambda d: write_ts(d / "split.ts", SECONDS, FPS, [split(st0601_packets(6))]),
    "plain": lambda d: write_ts(d / "plain.ts", SECONDS, FPS, [], ID3),
    "cut": lambda d: cut(write_ts(d / "a.ts", SECONDS, FPS, [st0601_packets(20)]), d / "cut.ts"),
    "sync-cut": lambda d: cut(
        write_ts(d / "a.ts", SECONDS, FPS, [st0601_packets(20)], sync=True), d / "cut.ts"
    ),
    "bad": lambda d: write_ts(d / "bad.ts", SECONDS, FPS, [bad_checksums(st0601_packets(20))]),
    "long": lambda d: write_ts(
        d / "long.ts", 4.0, FPS, [st0601_packets(40), st0601_packets(8, rate_hz=2.0)]
    ),
    "m2ts": lambda d: m2ts(write_ts(d / "a.ts", SECONDS, FPS, [st0601_packets(20)]), d / "a.m2ts"),
}


def read_demuxed(path: Path, every_s: float | None, monkeypatch: pytest.MonkeyPatch) -> Telemetry:
    """`read_mpegts` with every data packet demuxed by PyAV (FFmpeg)."""
    with monkeypatch.context() as patch:
        patch.setattr(mpegts, "_collect_packets", lambda container, path: None)
        return read_mpegts(path, every_s)


@pytest.mark.parametrize("name", sorted(TS_FILES))
def test_the_ts_packets_read_as_ffmpeg_demuxes_them(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = TS_FILES[name](tmp_path)
    with av.open(str(path), format="mpegts") as container:
        collected = mpegts._collect_packets(container, path)
    with av.open(str(path), format="mpegts") as container:
        demuxed = mpegts._collect_demuxed(container)
    assert collected is not None  # a regular stream: read from its TS packets
    assert collected == demuxed  # the same bytes, PES starts and media times
    for every_s in (None, 1.0):
        fast, slow = read_mpegts(path, every_s), read_demuxed(path, every_s, monkeypatch)
        assert fast.samples == slow.samples
        assert (fast.packets, fast.bad_packets) == (slow.packets, slow.bad_packets)
        assert fast.standards == slow.standards
    assert bool(fast) is (name != "plain")


def test_a_ts_with_garbage_inside_is_demuxed_by_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = write_ts(tmp_path / "whole.ts", SECONDS, FPS, [st0601_packets(20)])
    data = whole.read_bytes()
    middle = len(data) // 188 // 2 * 188
    path = tmp_path / "garbage.ts"
    path.write_bytes(data[:middle] + b"\x00garbage" * 30 + data[middle:])
    with av.open(str(path), format="mpegts") as container:
        assert mpegts._collect_packets(container, path) is None  # a sync byte lost
    telemetry, expected = read_mpegts(path), read_mpegts(whole)
    assert (telemetry.packets, telemetry.bad_packets) == (20, 0)
    assert telemetry.samples == expected.samples
    assert telemetry.samples == read_demuxed(path, None, monkeypatch).samples


def test_pes_packets_with_the_pts_clock_wrapping_and_no_pes_header(tmp_path: Path) -> None:
    counters: dict[int, int] = {}
    stamps = [2**33 - 9000, 2**33 - 10, 5, 9000]
    data = b"".join(
        _packets(0x101, _pes(0xFC, t, b"x%d" % k), counters) for k, t in enumerate(stamps)
    )
    data += _packets(0x102, b"\x00\x00\x01\xbf\x00\x03abcdef", counters)  # private_stream_2
    path = tmp_path / "wrap.ts"
    path.write_bytes(data + data[:100])  # a truncated last TS packet: left out
    assert read_pes(path, [0x101, 0x102, 0x103]) == {
        0x101: [Pes(b"x%d" % k, t + (k >= 2) * 2**33) for k, t in enumerate(stamps)],
        0x102: [Pes(b"abc", None)],  # cut to its PES_packet_length
        0x103: [],
    }
    path.write_bytes(data[:300] + b"\x47" + data[300:])
    assert read_pes(path, [0x101]) is None  # not regular


def write_mp4(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for _ in range(5):
            pixels = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode())
    return path


GPX = (
    '<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="46.5" lon="7.5">'
    "<time>2024-05-01T10:00:00Z</time></trkpt></trkseg></trk></gpx>"
)
DRONE_SRT = "1\n00:00:00,000 --> 00:00:00,033\n[latitude: 34.68] [longitude: 135.52]\n"


def test_side_files_with_the_video_stem_are_attached(tmp_path: Path) -> None:
    video = write_mp4(tmp_path / "video.mp4")
    klv = write_raw_klv(tmp_path / "video.KLV", st0601_packets(4))
    srt, gpx = tmp_path / "video.srt", tmp_path / "video.Gpx"
    srt.write_text(DRONE_SRT)
    gpx.write_text(GPX)
    (tmp_path / "other.klv").write_bytes(klv.read_bytes())
    elsewhere = write_raw_klv(tmp_path / "elsewhere.klv", st0601_packets(4))
    write_mp4(tmp_path / "linked.mp4")
    (tmp_path / "linked.klv").symlink_to(elsewhere)  # a link is never a side file
    assert side_files_of(tmp_path / "linked.mp4") == []
    assert side_files_of(video) == [klv, srt, gpx]
    alone = read_telemetry(video, side_files=False)
    assert not alone and alone.sources == [video]
    telemetry = read_telemetry(video)
    assert telemetry.sources == [video, klv, srt, gpx]
    assert telemetry.standards == [Standard.ST0601, Standard.DJI_SRT, Standard.GPX]
    assert telemetry.packets == 6
    carriers = [s[CARRIER] for s in telemetry.samples]
    assert carriers == [Carrier.RAW_KLV.value] * 4 + [Carrier.SRT.value, Carrier.GPX.value]
    assert [s["sensor_latitude"] for s in telemetry.samples] == pytest.approx(
        [s["sensor_latitude"] for s in flight(4)] + [34.68, 46.5], abs=1e-7
    )
    assert read_telemetry(klv).sources == [klv]  # a side file gets no side files of its own
