"""What navigation data adds to a video's ingest: the archive indexing the same MPEG-TS videos
with KLV, with and without the telemetry extractor, in alternating rounds of one process.

Each video is 640x360 MPEG-2 (`--video mpeg2-360p`, cheap to decode: the telemetry's largest
share) or 1280x720 H.264 (`--video h264-720p`, as airborne full-motion video usually comes) at
25 fps in an MPEG-TS with one asynchronous KLV data stream of full ST 0601 packets (every tag of
landrec's table) at KLV_HZ. A round indexes the folder into a
fresh database (detect, hash, metadata, thumbnail, [telemetry], classify frames, commit); the
model is loaded once. The goal: the track adds at most 10% to the ingest time.

    python benchmarks/bench_telemetry.py --run RUN            # 4 videos of 20 s, 3 rounds each
    python benchmarks/bench_telemetry.py --run RUN --video h264-720p --rounds 8
    python benchmarks/bench_telemetry.py --run RUN --quick    # 1 video of 10 s, 2 rounds
    python benchmarks/bench_telemetry.py --run none           # no model: metadata-only ingest
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

import bench_klv
import common
from bench_archive import settle
from landrec.data.klv import encode_packet

BENCHMARK = "bench_telemetry"
KLV_HZ = 30  # packets a second: ST 0601 streams run at 1-60 Hz, 30 is common
TS_CLOCK = 90_000
GOAL = 0.10


CODECS = {  # --video: (codec, width, height)
    "mpeg2-360p": ("mpeg2video", 640, 360),  # cheap to decode: the telemetry's worst share
    "h264-720p": ("libx264", 1280, 720),  # as airborne full-motion video is usually carried
}


def write_video(path: Path, seconds: int, video: str, fps: int = 25) -> int:
    """One MPEG-TS video with a KLV data stream; returns its packet count."""
    codec, width, height = CODECS[video]
    packets = [encode_packet(bench_klv.packet_values(i)) for i in range(seconds * KLV_HZ)]
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        data = out.add_data_stream("klv")
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i * 4, axis=1), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        for k, payload in enumerate(packets):
            packet = av.Packet(payload)
            packet.stream, packet.time_base = data, Fraction(1, TS_CLOCK)
            packet.pts = packet.dts = k * TS_CLOCK // KLV_HZ
            out.mux(packet)
    return len(packets)


def index_once(
    storage: Path, state: Path, model: tuple[Path, Any] | None, telemetry: bool
) -> dict[str, Any]:
    """One scan of `storage` into a fresh database in `state`; `model`: (run, its Predictor)."""
    from landrec.archive.db.session import open_database
    from landrec.archive.extract import EXTRACTORS, Registry
    from landrec.archive.indexer import Indexer
    from landrec.archive.scanner import scan
    from landrec.archive.settings import make_settings

    run, predictor = model if model is not None else (None, None)
    settings = make_settings(storage, model=run, state_dir=state, stable_s=0.0)
    kept = (e for e in EXTRACTORS.extractors if telemetry or e.name != "telemetry")
    indexer = Indexer(settings, open_database(settings.db_url), predictor, Registry(tuple(kept)))
    started, cpu = time.perf_counter(), time.process_time()
    counts = scan(indexer)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    steps = dict(indexer.seconds)
    indexer.close()
    return {"wall_s": wall, "cpu_s": cpu, "counts": counts, "step_seconds_summed": steps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="run folder or checkpoint; 'none': no model")
    p.add_argument("--videos", type=int, default=None, help="default 4 (quick: 1)")
    p.add_argument("--seconds", type=int, default=None, help="per video; default 20 (quick: 10)")
    p.add_argument("--rounds", type=int, default=None, help="per variant; default 3 (quick: 2)")
    p.add_argument("--video", choices=sorted(CODECS), default="mpeg2-360p")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out-dir", default=None)
    args = p.parse_args()
    videos = args.videos or (1 if args.quick else 4)
    seconds = args.seconds or (10 if args.quick else 20)
    rounds = args.rounds or (2 if args.quick else 3)
    model = None
    if args.run != "none":
        from landrec.api import Predictor

        model = (Path(args.run), Predictor(Path(args.run), batch_size=32))
    walls: dict[str, list[float]] = {"with": [], "without": []}
    cpus: dict[str, list[float]] = {"with": [], "without": []}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        storage = Path(tmp) / "storage"
        storage.mkdir()
        packets = sum(
            write_video(storage / f"flight{v}.ts", seconds, args.video) for v in range(videos)
        )
        settle(storage)
        index_once(storage, Path(tmp) / "warm-up", model, True)  # imports, first model calls
        for r in range(rounds):
            for variant in ("with", "without") if r % 2 == 0 else ("without", "with"):
                state = Path(tmp) / f"state-{variant}-{r}"
                result = index_once(storage, state, model, variant == "with")
                walls[variant].append(result["wall_s"])
                cpus[variant].append(result["cpu_s"])
                runs.append({"round": r, "variant": variant, **result})
    with_s, without_s = statistics.median(walls["with"]), statistics.median(walls["without"])
    overhead = with_s / without_s - 1
    cpu_with, cpu_without = statistics.median(cpus["with"]), statistics.median(cpus["without"])
    cpu_overhead = cpu_with / cpu_without - 1
    telemetry_s = [r["step_seconds_summed"].get("telemetry", 0.0) for r in runs]
    results = {
        "videos": videos,
        "video_seconds": videos * seconds,
        "klv_packets": packets,
        "median_wall_s_with_telemetry": with_s,
        "median_wall_s_without": without_s,
        "overhead": overhead,
        "median_cpu_s_with_telemetry": cpu_with,
        "median_cpu_s_without": cpu_without,
        "cpu_overhead": cpu_overhead,
        "telemetry_step_s_per_round": max(telemetry_s),
        "goal_overhead": GOAL,
        "meets_goal_wall": overhead <= GOAL,
        "meets_goal_cpu": cpu_overhead <= GOAL,
        "runs": runs,
    }
    settings = {
        "run": args.run,
        "quick": args.quick,
        "rounds": rounds,
        "klv_hz": KLV_HZ,
        "video": args.video,
    }
    notes = [
        "rounds alternate the two variants (with/without first) in one process; medians",
        "each round indexes into a fresh database; the model is loaded once, and one untimed"
        " round warms up imports and the model first",
        "telemetry_step_s_per_round: the extractor's seconds (it runs in the indexer's threads)",
        "cpu: the process's CPU seconds (every thread, the model's included): steadier than wall"
        " time when other jobs share the machine",
    ]
    name = BENCHMARK if args.video == "mpeg2-360p" else f"{BENCHMARK}_{args.video}"
    common.write_results(
        name, common.out_dir_for(args), common.machine_info(), settings, results, notes
    )
    print(f"ingest wall {without_s:.2f} s -> {with_s:.2f} s with telemetry: {overhead:+.1%}")
    print(f"ingest CPU {cpu_without:.2f} s -> {cpu_with:.2f} s with telemetry: {cpu_overhead:+.1%}")


if __name__ == "__main__":
    main()
