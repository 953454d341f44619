"""Which MISB ST 0601 decoder landrec keeps: ours (`landrec.data.klv`) against pymisb,
stanag4609 and klvdata, on the standard's example, round trips, a corrupt packet, damaged
streams and speed.

    python benchmarks/bench_klv_parsers.py            # 1,000 round trips, 5,000 packets timed
    python benchmarks/bench_klv_parsers.py --quick    # 20 round trips, 200 packets

For each decoder:
(a) MISB ST 0601.8's example packet against its published values: per tag the absolute error,
    and the count within the tag's resolution (one LSB, or the printed precision if coarser);
(b) round trips: random in-range values encoded by each encoder (ours, pymisb's, stanag4609's;
    klvdata has none) and decoded: the share of values recovered within one LSB;
(c) a packet with one value byte changed: is it flagged or rejected;
(d) damaged streams: garbage between packets, truncated packets, a tag > 127 (a 2-byte
    BER-OID), nested local sets (48: ST 0102 security, 74: ST 0903 VMTI), the "no value" marker;
(e) packets/s of a whole stream on one core (the process is pinned to one CPU).
A package that is not installed (`pip install '.[klv-compare]'`) is skipped with a note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import common
from bench_klv import packet_values
from landrec.data.klv import BY_NAME, BY_TAG, EPOCH, TAGS, UAS_LS_KEY, Kind, decode_stream
from landrec.data.klv import encode_packet as landrec_encode

BENCHMARK = "bench_klv_parsers"
OURS = "landrec"
SECURITY_TAG, VMTI_TAG, HIGH_TAG = 48, 74, 144  # 144: a tag > 127, as a 2-byte BER-OID

# MISB ST 0601.8's example packet (tests/data/test_klv.py holds the same bytes).
STANDARD_PACKET = bytes.fromhex(
    "060E2B34020B01010E0103010100000081D2020800046050584E0180030A4D697373696F6E20"
    "3132050271C20602FD3D070208B80A085072656461746F720B07454F204E6F73650C0E47656F"
    "64657469632057475338340D045595B66D0E045B5360C40F02C2211002CD9C1102D917120472"
    "4A0A20130487F84B86140400000000150403830926160212811704F101A229180414BC082B19"
    "0234F3301C01010102010703052F2F5553410C01070D060055005300411602000A4101065E22"
    "0170F592F02373364AF8AA9162C00F2EB2DA16B74341000841A0BE365B5AB96A36450102AA43"
)
# Its published values, as the standard prints them (the printed digits set the tolerance of
# values printed coarser than their tag's resolution: tag 21 is printed to the centimetre).
PUBLISHED: dict[int, str] = {
    2: "2009-01-12T22:08:22.000000Z",
    3: "Mission 12",
    5: "159.9744",
    6: "-0.4315251",
    7: "3.405814",
    10: "Predator",
    11: "EO Nose",
    12: "Geodetic WGS84",
    13: "60.1768229669783",
    14: "128.426759042045",
    15: "14190.72",
    16: "144.5713",
    17: "152.6436",
    18: "160.719211474396",
    19: "-168.792324833941",
    20: "0.0",
    21: "68590.98",
    22: "722.8199",
    23: "-10.5423886331461",
    24: "29.157890122923",
    25: "3216.037",
    65: "6",
}
TEXT_TAGS = {3, 10, 11, 12}
TIME_TAG = 2
SCALES = {22: 10_000 / 65535}  # tag 22 (target width, 0..10,000 m as uint16)
# ST 0903 VMTI, as embedded in ST 0601: version 5, 0 targets detected, 0 reported
VMTI_VALUE = bytes.fromhex("040105050100060100")


@dataclass
class Packet:
    """One decoded packet: values by tag (times as microseconds since 1970, text as str)."""

    values: dict[int, Any] = field(default_factory=dict)
    checksum_ok: bool | None = None  # None: the parser does not check it
    rejected: str | None = None  # why the parser refused the packet (its exception)


@dataclass(frozen=True)
class Parser:
    name: str
    decode: Callable[[bytes], list[Packet]]
    encode: Callable[[random.Random], tuple[bytes, dict[int, Any]]] | None = None
    version: str | None = None
    note: str = ""


def plain(value: Any) -> Any:
    """A decoded value as the comparisons take it: datetimes as microseconds, bytes as hex,
    a special ("no value") marker as None."""
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, Enum) and not isinstance(value, int):
        return None  # stanag4609's SpecialValue: the standard's "no value" markers
    return value


def micros(text: str) -> int:
    return (dt.datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) // dt.timedelta(
        microseconds=1
    )


# --- the decoders, each behind the same small interface ------------------------------------


def landrec_decode(data: bytes) -> list[Packet]:
    packets = []
    for sample in decode_stream(data).samples:
        values: dict[int, Any] = {}
        for name, value in sample.items():
            if name.isdigit():
                values[int(name)] = value
            elif name in BY_NAME:
                spec = BY_NAME[name]
                is_time = spec.kind is Kind.TIME and isinstance(value, str) and value[-1:] == "Z"
                values[spec.tag] = micros(value) if is_time else value  # else: hex of bad size
        packets.append(Packet(values, bool(sample["checksum_ok"])))
    return packets


def _klvdata_style(stream_parser: Any) -> Callable[[bytes], list[Packet]]:
    """A decoder of klvdata's design (pymisb vendors it): 1-byte tags, no checksum check."""

    def decode(data: bytes) -> list[Packet]:
        packets = []
        for element in stream_parser(data):
            items = getattr(element, "items", None)
            if items is None:  # a key it does not know (garbage read as a key): skipped
                continue
            values = {
                int.from_bytes(key, "big"): plain(getattr(item.value, "value", item.value))
                for key, item in items.items()
            }
            packets.append(Packet(values))
        return packets

    return decode


def _stanag4609_decode(data: bytes) -> list[Packet]:
    from stanag4609.errors import ChecksumError, DecodeError
    from stanag4609.klv.stream import KLVStreamParser
    from stanag4609.st0601 import ST0601_KEY, FieldDecodingMode, decode_uas_local_set

    parser = KLVStreamParser(key_prefix=ST0601_KEY, recover=True)
    found = parser.feed(data)
    tail: list[Packet] = []
    try:
        found += parser.finish()
    except DecodeError as exc:  # a truncated packet at the end
        tail.append(Packet(rejected=type(exc).__name__))
    packets = []
    for klv_packet in found:
        try:
            uas = decode_uas_local_set(klv_packet, field_decoding=FieldDecodingMode.PRESERVE)
        except ChecksumError as exc:
            packets.append(Packet(checksum_ok=False, rejected=type(exc).__name__))
            continue
        except DecodeError as exc:
            packets.append(Packet(rejected=type(exc).__name__))
            continue
        values = {f.definition.tag: plain(f.value) for f in uas.fields if f.definition.tag != 1}
        packets.append(Packet(values, checksum_ok=True))
    return packets + tail


# --- the encoders: random in-range values, and what each packet should decode to ------------


def random_value(spec: Any, rng: random.Random) -> Any:
    if spec.kind is Kind.TEXT:
        words = ("".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", k=6)) for _ in "12")
        return " ".join(words)  # no space at either end: ST 0107's "trimmed" text
    if spec.kind is Kind.TIME:
        return rng.randrange(946_684_800_000_000, 1_893_456_000_000_000)  # 2000..2030
    if not spec.scaled:
        return rng.randrange(1, 20)
    low = -spec.high if spec.error is not None else spec.low
    return rng.uniform(low, spec.high)


def _random_values(rng: random.Random) -> dict[int, Any]:
    """A value for every tag of our table, the time stamp first."""
    return {spec.tag: random_value(spec, rng) for spec in TAGS}


def _iso(microseconds: int) -> str:
    return (EPOCH + dt.timedelta(microseconds=microseconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def landrec_random_packet(rng: random.Random) -> tuple[bytes, dict[int, Any]]:
    values = _random_values(rng)
    named = {BY_TAG[tag].name: value for tag, value in values.items()}
    named["precision_time_stamp"] = _iso(values[TIME_TAG])
    return landrec_encode(named), values


def _stanag4609_random_packet(rng: random.Random) -> tuple[bytes, dict[int, Any]]:
    from stanag4609.st0601 import encode_uas_local_set

    values = _random_values(rng)
    wire = {**values, TIME_TAG: EPOCH + dt.timedelta(microseconds=values[TIME_TAG])}
    return encode_uas_local_set(wire), values


# pymisb's encoder takes its own names for a subset of tags (and writes fixed FOVs, version)
PYMISB_NAMES = {
    5: "platform_heading", 6: "platform_pitch", 7: "platform_roll", 13: "sensor_lat",
    14: "sensor_lon", 15: "sensor_alt", 18: "sensor_rel_az", 19: "sensor_rel_el",
    20: "sensor_rel_roll", 21: "slant_range", 23: "fc_lat", 24: "fc_lon", 25: "fc_elev",
}  # fmt: skip


def _pymisb_random_packet(rng: random.Random) -> tuple[bytes, dict[int, Any]]:
    from pymisb.common.encoder import build_st0601_packet
    from pymisb.constants import HFOV_DEG, ST0601_VERSION, VFOV_DEG

    values = {tag: random_value(BY_TAG[tag], rng) for tag in (TIME_TAG, *PYMISB_NAMES)}
    wire = {name: values[tag] for tag, name in PYMISB_NAMES.items()}
    packet = build_st0601_packet({"timestamp_us": values[TIME_TAG], **wire})
    return packet, {**values, 16: HFOV_DEG, 17: VFOV_DEG, 65: ST0601_VERSION}


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def parsers() -> tuple[list[Parser], dict[str, str]]:
    """The decoders that import here, and why each other one is missing."""
    found = [Parser(OURS, landrec_decode, landrec_random_packet, _version("landrec"))]
    missing: dict[str, str] = {}
    try:
        from pymisb.klvdata import StreamParser as PymisbStream

        note = ""
        if sys.version_info < (3, 12):
            note = "declares Requires-Python >=3.12; installed with --ignore-requires-python"
        found.append(
            Parser(
                "pymisb",
                _klvdata_style(PymisbStream),
                _pymisb_random_packet,
                _version("pymisb"),
                note,
            )
        )
    except ImportError as exc:
        needs = "; pymisb 2.0.2 needs Python >= 3.12" if sys.version_info < (3, 12) else ""
        missing["pymisb"] = f"not importable ({exc}){needs}"
    try:
        import stanag4609  # noqa: F401

        found.append(
            Parser(
                "stanag4609",
                _stanag4609_decode,
                _stanag4609_random_packet,
                _version("stanag4609"),
                "decode_uas_local_set(field_decoding=PRESERVE) per packet of "
                "KLVStreamParser(recover=True)",
            )
        )
    except ImportError as exc:
        missing["stanag4609"] = f"not importable ({exc})"
    try:
        from klvdata import StreamParser as KlvdataStream

        found.append(
            Parser(
                "klvdata", _klvdata_style(KlvdataStream), None, _version("klvdata"), "no encoder"
            )
        )
    except ImportError as exc:
        missing["klvdata"] = f"not importable ({exc})"
    return found, missing


# --- comparisons ----------------------------------------------------------------------------


def lsb(tag: int) -> float:
    """One step of the tag's integer: the tolerance of a round trip."""
    spec = BY_TAG.get(tag)
    if tag in SCALES:
        return SCALES[tag]
    if spec is not None and spec.kind is Kind.TIME:
        return 1.0  # a microsecond
    if spec is None or not spec.scaled:
        return 0.0  # integers: exact
    return spec.scale


def close(tag: int, got: Any, want: Any, tolerance: float) -> bool:
    if want is None or isinstance(want, str):
        return got == want
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    return abs(got - want) <= tolerance * (1 + 1e-9) + 1e-12


def run_safely(parser: Parser, data: bytes) -> tuple[list[Packet], str | None]:
    try:
        return parser.decode(data), None
    except Exception as exc:  # what a parser does with bad input is the measurement
        return [], f"{type(exc).__name__}: {str(exc)[:120]}"


def standard_packet(parser: Parser) -> dict[str, Any]:
    """(a) The example packet: each published value, its error and whether it is within the
    tag's resolution (one LSB, or half the printed last digit where that is coarser)."""
    packets, crash = run_safely(parser, STANDARD_PACKET)
    got = packets[0].values if packets else {}
    tags: dict[str, Any] = {}
    for tag, printed in PUBLISHED.items():
        value = got.get(tag)
        if tag in TEXT_TAGS:
            want: Any = printed
            value = value if isinstance(value, str) else None
            tags[str(tag)] = {"value": value, "match": value == want}
            continue
        want = micros(printed) if tag == TIME_TAG else float(printed)
        digits = len(printed.partition(".")[2])
        tolerance = max(lsb(tag), 0.5 * 10**-digits if tag != TIME_TAG else 0.0)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        error = abs(value - want) if number else None
        tags[str(tag)] = {
            "value": value if number else None,
            "abs_error": error,
            "match": close(tag, value, want, tolerance),
        }
    return {
        "crash": crash,
        "checksum_ok": packets[0].checksum_ok if packets else None,
        "matched": sum(t["match"] for t in tags.values()),
        "published": len(PUBLISHED),
        "not_matched": [int(tag) for tag, t in tags.items() if not t["match"]],
        "tags": tags,
    }


def round_trips(encoder: Parser, decoders: list[Parser], count: int, seed: int) -> dict:
    """(b) `count` packets of random values by `encoder`, decoded by each decoder: the share
    of values within one LSB, and the tags it missed."""
    rng = random.Random(seed)
    stream, expected = [], []
    for _ in range(count):
        assert encoder.encode is not None
        packet, values = encoder.encode(rng)
        stream.append(packet)
        expected.append(values)
    data = b"".join(stream)
    out: dict[str, Any] = {}
    for decoder in decoders:
        packets, crash = run_safely(decoder, data)
        total = good = 0
        missed: set[int] = set()
        for i, values in enumerate(expected):
            got = packets[i].values if i < len(packets) else {}
            for tag, want in values.items():
                total += 1
                if close(tag, plain(got.get(tag)), want, lsb(tag)):
                    good += 1
                else:
                    missed.add(tag)
        out[decoder.name] = {
            "values": total,
            "recovered": good,
            "share": good / total if total else None,
            "tags_missed": sorted(missed),
            "crash": crash,
        }
    return out


def _base_values(index: int) -> dict[str, Any]:
    return {
        "precision_time_stamp": f"2024-05-01T12:00:{index:02d}.250000Z",
        "sensor_latitude": 45.0 + index / 1000,
        "sensor_longitude": 7.0 + index / 1000,
        "uas_ls_version_number": 19,
    }


def _expected(values: dict[str, Any]) -> dict[int, Any]:
    """What a packet of `values` should decode to, the version left out: (a) and (b) check it,
    and pymisb, which does not decode it, would fail every case for it alone."""
    out = {}
    for name, value in values.items():
        if name in BY_NAME and name != "uas_ls_version_number":
            spec = BY_NAME[name]
            out[spec.tag] = micros(value) if spec.kind is Kind.TIME else value
    return out


def _with_item(values: dict[str, Any], tag: int, value: bytes) -> dict[str, Any]:
    """The values with an item inserted after the latitude (before the longitude)."""
    out: dict[str, Any] = {}
    for name, v in values.items():
        if name == "sensor_longitude":
            out[str(tag)] = value.hex()
        out[name] = v
    return out


def damaged_streams(seed: int) -> dict[str, tuple[bytes, list[dict[int, Any]], str]]:
    """(d) Name -> (stream, the packets it should decode to, what is in it)."""
    rng = random.Random(seed)
    one, two = _base_values(1), _base_values(2)
    p1, p2 = landrec_encode(one), landrec_encode(two)
    garbage = bytes(rng.randrange(256) for _ in range(61)) + UAS_LS_KEY[:9]
    security = STANDARD_PACKET[STANDARD_PACKET.index(b"\x30\x1c") + 2 :][:28]
    no_value = dict(one, sensor_latitude=None)
    nested = _with_item(_with_item(one, SECURITY_TAG, security), VMTI_TAG, VMTI_VALUE)
    return {
        "garbage_between": (
            b"junk" + p1 + garbage + p2 + b"tail",
            [_expected(one), _expected(two)],
            "garbage (61 random bytes and a partial key) before, between, after two packets",
        ),
        "truncated_last": (
            p1 + p2[: len(p2) // 2],
            [_expected(one)],
            "a good packet, then half a packet at the end",
        ),
        "truncated_then_good": (
            p1[: len(p1) // 2] + p2,
            [_expected(two)],
            "half a packet, then a good one",
        ),
        "tag_over_127": (
            landrec_encode(_with_item(one, HIGH_TAG, b"\x0a\x0b\x0c")) + p2,
            [_expected(one), _expected(two)],
            f"tag {HIGH_TAG} as a 2-byte BER-OID (81 10) between latitude and longitude",
        ),
        "nested_sets": (
            landrec_encode(nested) + p2,
            [_expected(one), _expected(two)],
            "tag 48 (ST 0102 security set of the standard's example) and tag 74 (ST 0903 VMTI)",
        ),
        "no_value_marker": (
            landrec_encode(no_value),
            [_expected(no_value)],
            "latitude 0x80000000, the standard's 'no value'",
        ),
    }


def robustness(parser: Parser, cases: dict) -> dict[str, Any]:
    out = {}
    for name, (data, expected, _) in cases.items():
        packets, crash = run_safely(parser, data)
        decoded = [p for p in packets if p.rejected is None]
        want = sum(len(values) for values in expected)
        good = 0
        for i, values in enumerate(expected):
            got = decoded[i].values if i < len(decoded) else {}
            good += sum(close(t, plain(got.get(t)), v, lsb(t)) for t, v in values.items())
        if crash:
            verdict = "crash"
        elif good == want and len(decoded) == len(expected):
            verdict = "ok"
        elif good == want:
            verdict = "extra packets"
        else:
            verdict = "values lost or wrong"
        out[name] = {
            "verdict": verdict,
            "values_ok": good,
            "values_expected": want,
            "packets_decoded": len(decoded),
            "packets_rejected": len(packets) - len(decoded),
            "crash": crash,
        }
    return out


def checksum_check(parser: Parser) -> dict[str, Any]:
    """(c) One byte of the latitude changed, the checksum left as it was."""
    good = landrec_encode(_base_values(1))
    at = good.index(b"\x0d\x04") + 3  # a byte inside the latitude's value
    bad = good[:at] + bytes([good[at] ^ 0x5A]) + good[at + 1 :]
    packets, crash = run_safely(parser, bad)
    if crash:
        verdict = "crash"
    elif not packets or packets[0].checksum_ok is False or packets[0].rejected:
        verdict = "rejected" if not packets or packets[0].rejected else "flagged"
    else:
        verdict = "not detected"
    return {"verdict": verdict, "crash": crash}


def speed(parser: Parser, stream: bytes, count: int, repeats: int) -> dict[str, Any]:
    """(e) Packets/s of decoding the whole stream to values, best of `repeats`."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        packets = parser.decode(stream)
        seconds.append(time.perf_counter() - started)
    assert len(packets) == count, (parser.name, len(packets))
    best = min(seconds)
    return {"packets": count, "best_seconds": best, "packets_per_s": count / best}


def pin_one_core() -> int | None:
    """Pin this process to its first allowed CPU; that CPU's number (None where unsupported)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def machine(cpu: int | None) -> dict[str, Any]:
    """The CPU (from /proc/cpuinfo), the core the run was pinned to, Python and the OS."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    model = next((ln.partition(":")[2].strip() for ln in lines if ln.startswith("model name")), "")
    return {
        "cpu_model": model or platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "pinned_cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def table(results: dict[str, Any]) -> str:
    """The Markdown table of docs/telemetry.md."""
    names = list(results["parsers"])
    encoders = list(results["round_trips"])
    head = ["", *names]
    rows = [head, ["---"] * len(head)]
    parsers = [results["parsers"][n] for n in names]
    rows.append(["version", *(str(p["version"]) for p in parsers)])
    example = (_matched(p["standard_packet"]) for p in parsers)
    rows.append(["(a) ST 0601.8 example: published values matched", *example])
    for encoder in encoders:
        cells = results["round_trips"][encoder]
        label = f"(b) round trip, {encoder}'s encoder: values within 1 LSB"
        rows.append([label, *(_share(cells.get(n)) for n in names)])
    rows.append(["(c) corrupted packet", *(p["checksum"]["verdict"] for p in parsers)])
    for case in results["damaged_streams"]:
        rows.append([f"(d) {case}", *(_verdict(p["robustness"][case]) for p in parsers)])
    speeds = (f"{p['speed']['packets_per_s']:,.0f}" for p in parsers)
    rows.append(["(e) packets/s, one core", *speeds])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def _matched(example: dict[str, Any]) -> str:
    text = f"{example['matched']}/{example['published']}"
    return text + (f" (not tags {example['not_matched']})" if example["not_matched"] else "")


def _share(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    if cell["crash"]:
        return "crash"
    text = f"{cell['share']:.1%}"
    return text + (f" (missed tags {cell['tags_missed']})" if cell["tags_missed"] else "")


def _verdict(cell: dict[str, Any]) -> str:
    if cell["verdict"] in ("ok", "crash"):
        return cell["verdict"]
    return f"{cell['verdict']} ({cell['values_ok']}/{cell['values_expected']} values)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--round-trips", type=int, default=None, help="packets per encoder [1000]")
    p.add_argument("--packets", type=int, default=None, help="packets timed [5000]")
    p.add_argument("--repeats", type=int, default=None, help="timed runs, best kept [3]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="20 round trips, 200 packets, 1 run")
    p.add_argument("--out-dir", default=None)
    args = p.parse_args()
    trips = args.round_trips or (20 if args.quick else 1000)
    count = args.packets or (200 if args.quick else 5000)
    repeats = args.repeats or (1 if args.quick else 3)
    cpu = pin_one_core()
    found, missing = parsers()
    cases = damaged_streams(args.seed)
    stream = b"".join(landrec_encode(packet_values(i)) for i in range(count))
    results: dict[str, Any] = {"parsers": {}, "missing": missing}
    results["round_trips"] = {
        encoder.name: round_trips(encoder, found, trips, args.seed)
        for encoder in found
        if encoder.encode is not None
    }
    results["damaged_streams"] = {name: about for name, (_, _, about) in cases.items()}
    for parser in found:
        results["parsers"][parser.name] = {
            "version": parser.version,
            "note": parser.note,
            "standard_packet": standard_packet(parser),
            "checksum": checksum_check(parser),
            "robustness": robustness(parser, cases),
            "speed": speed(parser, stream, count, repeats),
        }
    results["table"] = table(results)
    settings = {"quick": args.quick, "round_trips": trips, "packets": count, "repeats": repeats}
    notes = [f"{name} skipped: {why}" for name, why in missing.items()]
    notes.append("(e): one core, pure Python each; decoding the whole stream to values")
    common.write_results(
        BENCHMARK, common.out_dir_for(args), machine(cpu), settings, results, notes
    )
    print(results["table"], file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


if __name__ == "__main__":
    main()
