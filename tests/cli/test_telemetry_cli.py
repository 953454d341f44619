"""`landrec telemetry FILE`: a file's navigation data as JSON, CSV and GeoJSON, and its errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from landrec.cli.main import main
from landrec.data.klv import encode_packet
from telemetry_media import flight, st0601_packets, write_raw_klv, write_ts

# Two packets of a raw .klv: what each holds, and what `--format json` gives for it.
VALUES = [
    {
        "precision_time_stamp": "2024-05-01T10:00:00.250000Z",
        "platform_designation": "MQ-9",
        "sensor_latitude": 47.0,
        "sensor_longitude": 8.0,
        "sensor_true_altitude": 1500.0,
        "platform_heading_angle": 90.0,
        "frame_center_latitude": 47.01,
        "frame_center_longitude": 8.01,
    },
    {
        "precision_time_stamp": "2024-05-01T10:00:02.250000Z",
        "platform_designation": "MQ-9",
        "sensor_latitude": 47.001,
        "sensor_longitude": 8.002,
        "sensor_true_altitude": 1510.0,
        "platform_heading_angle": 91.0,
        "frame_center_latitude": 47.011,
        "frame_center_longitude": 8.012,
        "74": "0a0b0c",  # a tag landrec does not decode (VMTI): kept as hex under its number
    },
]
# What ST 0601's integers keep of each value: half a step (the altitude: 0.15 m; heading)
TOLERANCE = {"sensor_true_altitude": 0.16, "platform_heading_angle": 0.003}


def _run(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def klv_file(tmp_path: Path) -> Path:
    packets = [encode_packet(values) for values in VALUES]
    return write_raw_klv(tmp_path / "flight.klv", packets, garbage=b"junk\x00")


def test_json_has_the_header_and_one_sample_per_packet(
    klv_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["telemetry", klv_file], capsys)
    assert code == 0 and err == ""
    result = json.loads(out)
    assert list(result) == ["path", "standards", "packets", "bad_packets", "samples"]
    assert result["path"] == str(klv_file)
    assert (result["standards"], result["packets"], result["bad_packets"]) == (
        ["MISB ST 0601"],
        2,
        0,
    )
    bookkeeping = {"checksum_ok": True, "media_time_s": None, "carrier": "raw-klv"}
    assert len(result["samples"]) == len(VALUES)
    for sample, values in zip(result["samples"], VALUES, strict=True):
        assert list(sample) == [*values, *bookkeeping]  # stream order, then the reader's keys
        for name, value in values.items():
            if isinstance(value, float):
                assert isinstance(sample[name], float)  # degrees and metres as numbers
                assert sample[name] == pytest.approx(value, abs=TOLERANCE.get(name, 1e-7)), name
            else:
                assert sample[name] == value, name
        assert {k: sample[k] for k in bookkeeping} == bookkeeping


def test_json_to_a_file_equals_stdout(
    klv_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, printed, _ = _run(["telemetry", klv_file], capsys)
    target = tmp_path / "out.json"
    code, out, _ = _run(["telemetry", klv_file, "--output", target], capsys)
    assert code == 0 and out == "" and target.read_text() == printed


def test_csv_has_a_row_per_sample_and_the_standards_names_first(
    klv_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["telemetry", klv_file, "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    names = [name for name in VALUES[0]]
    assert rows[0] == [*names, "checksum_ok", "media_time_s", "carrier", "74"]
    assert len(rows) == 1 + len(VALUES)
    first, second = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert first["precision_time_stamp"] == VALUES[0]["precision_time_stamp"]
    assert float(first["sensor_latitude"]) == pytest.approx(47.0, abs=1e-7)
    assert (first["74"], second["74"]) == ("", "0a0b0c")  # absent: empty
    assert (first["media_time_s"], first["carrier"]) == ("", "raw-klv")  # None: empty


def test_geojson_is_the_track_as_a_line(klv_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["telemetry", klv_file, "--format", "geojson"], capsys)
    assert code == 0
    collection = json.loads(out)
    assert collection["type"] == "FeatureCollection"
    line = collection["features"][0]["geometry"]
    assert line["type"] == "LineString"
    expected = [[v["sensor_longitude"], v["sensor_latitude"]] for v in VALUES]
    assert line["coordinates"] == [pytest.approx(p, abs=1e-7) for p in expected]
    assert collection["properties"]["packets"] == 2


def test_a_missing_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.klv"
    code, out, err = _run(["telemetry", missing], capsys)
    assert code == 2 and out == ""
    assert err.strip() == f"landrec: error: {missing}: no such file"


def test_a_folder_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["telemetry", tmp_path], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"landrec: error: {tmp_path}") and "Traceback" not in err


def test_a_file_without_telemetry_gives_no_samples_and_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "noise.bin"
    garbage.write_bytes(b"\x06\x0e\x2b\x34 not a key \x00\xff" * 200)
    code, out, err = _run(["telemetry", garbage], capsys)
    assert code == 0
    result = json.loads(out)
    assert (result["packets"], result["bad_packets"], result["samples"]) == (0, 0, [])
    assert "no telemetry found" in err and str(garbage) in err
    code, out, _ = _run(["telemetry", garbage, "--format", "csv"], capsys)
    assert code == 0 and out == ""


def test_a_transport_stream_and_its_side_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The KLV data stream of a TS gives media times; the .klv beside it is added unless
    --no-side-files."""
    video = write_ts(tmp_path / "clip.ts", 1.0, 10, [st0601_packets(5)])
    write_raw_klv(tmp_path / "clip.klv", st0601_packets(3, start="2024-05-01T11:00:00.000000Z"))
    code, out, _ = _run(["telemetry", video, "--no-side-files"], capsys)
    assert code == 0
    result = json.loads(out)
    assert (result["standards"], result["packets"]) == (["MISB ST 0601"], 5)
    samples = result["samples"]
    assert [s["carrier"] for s in samples] == ["mpeg-ts"] * 5
    assert [s["media_time_s"] for s in samples] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert [s["precision_time_stamp"] for s in samples] == [
        s["precision_time_stamp"] for s in flight(5)
    ]
    code, out, _ = _run(["telemetry", video], capsys)
    with_side = json.loads(out)
    assert with_side["packets"] == 8
    assert [s["carrier"] for s in with_side["samples"]] == ["mpeg-ts"] * 5 + ["raw-klv"] * 3
