"""How fast MISB ST 0601 KLV packets decode: packets/s of `decode_stream` on one core.

    python benchmarks/bench_klv.py            # 20,000 packets, best of 5 runs
    python benchmarks/bench_klv.py --quick    # 2,000 packets, best of 2

The stream is made by `encode_packet`: every decoded tag of the table, one packet after another,
the time stamp and position changing per packet. The goal is 20,000 packets/s.
"""

from __future__ import annotations

import argparse
import time

import common
from landrec.data.klv import TAGS, decode_stream, encode_packet

BENCHMARK = "bench_klv"
TARGET_PACKETS_PER_S = 20_000


def packet_values(index: int) -> dict:
    """A full packet's values: every tag of the table, mid-range, varying with `index`."""
    values: dict = {spec.name: (spec.low + spec.high) / 2 for spec in TAGS}
    values.update(
        precision_time_stamp=f"2024-05-01T12:{index // 60 % 60:02d}:{index % 60:02d}.5Z",
        mission_id="BENCH",
        platform_designation="MQ-9",
        image_source_sensor="EO",
        uas_ls_version_number=19,
        sensor_latitude=45.0 + index * 1e-5,
        sensor_longitude=7.0 + index * 1e-5,
    )
    return values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packets", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="2,000 packets, best of 2")
    p.add_argument("--out-dir", default=None)
    args = p.parse_args()
    count = args.packets or (2_000 if args.quick else 20_000)
    repeats = args.repeats or (2 if args.quick else 5)
    stream = b"".join(encode_packet(packet_values(i)) for i in range(count))
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = decode_stream(stream)
        seconds.append(time.perf_counter() - started)
    assert result.packets == count and result.bad_packets == 0
    best = min(seconds)
    results = {
        "packets": count,
        "stream_bytes": len(stream),
        "tags_per_packet": len(TAGS) + 1,
        "best_seconds": best,
        "packets_per_s": count / best,
        "target_packets_per_s": TARGET_PACKETS_PER_S,
        "meets_target": count / best >= TARGET_PACKETS_PER_S,
    }
    settings = {"quick": args.quick, "packets": count, "repeats": repeats}
    notes = ["one core, pure Python; best of the repeats; checksum verified per packet"]
    common.write_results(
        BENCHMARK, common.out_dir_for(args), common.machine_info(), settings, results, notes
    )


if __name__ == "__main__":
    main()
