"""Every stored file viewable in a browser: the archive's renditions of an odd-format corpus.

corpus     `odd_corpus.py` writes videos (MPEG-TS with KLV, MPEG-2, AVI, 3GP, MKV, HEVC,
           Photo-JPEG, Motion JPEG 2000, WebM, browser-ready, rotated and VFR MP4), stills (a
           4000x3000 JPEG with EXIF orientation 6, 16-bit PNG, TIFFs, HEIC, WebP, GIF, BMP,
           JPEG XL, DNG, 16-bit CMYK PSD) and broken files into an empty storage folder
archive    one `archive scan` pass in-process (no model), then the renditions queue worked
           to its end; the database read back: each file's index status and rendition
goal       every file that Pillow (with its HEIF and JPEG XL plugins), LibRaw (rawpy) or
           FFmpeg (PyAV) decodes, each library asked directly: the share of those files that
           got a rendition (`ready`, or `original`: the browser shows the file as it is)
speed      the archive's proxy function timed directly on each video: seconds of video per
           second of wall time, per source format (the renditions table keeps no timing)
bytes      preview bytes per file (median, max), stills and video proxies apart

  python benchmarks/bench_renditions.py --doc docs/renditions.md   # 1280x720 videos of 10 s
  python benchmarks/bench_renditions.py --quick                    # 160x90 videos of 1 s
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import av

import common
import odd_corpus
from bench_archive import settle

BENCHMARK = "bench_renditions"
VIEWABLE = ("ready", "original")  # rendition statuses a browser can show


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA, help="photos to read")
    p.add_argument("--quick", action="store_true", help="160x90 videos of 1 s, small stills")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--doc", type=Path, default=None, help="also write the Markdown report here")
    return p.parse_args(argv)


# The archive ----------------------------------------------------------------------------------


def run_archive(storage: Path, state: Path) -> dict[str, Any]:
    """Index `storage` (no model), then work the renditions queue to its end; wall times."""
    from landrec.archive.commands import open_indexer
    from landrec.archive.scanner import scan
    from landrec.archive.settings import make_settings

    settings = make_settings(storage, state_dir=state, stable_s=0.0)
    indexer = open_indexer(settings)
    started = time.perf_counter()
    counts = scan(indexer)
    scan_s = time.perf_counter() - started
    started = time.perf_counter()
    renditions = make_renditions(indexer)
    renditions_s = time.perf_counter() - started
    indexer.close()
    return {"counts": counts, "scan_wall_s": scan_s, "renditions": renditions,
            "renditions_wall_s": renditions_s}  # fmt: skip


def make_renditions(indexer: Any) -> dict[str, Any]:
    """The renditions step, as `landrec archive scan` runs it after indexing (`build_pending`)."""
    from landrec.archive.renditions.worker import build_pending

    return dict(build_pending(indexer.settings, indexer.sessions) or {})


def read_rows(state: Path) -> dict[str, dict[str, Any]]:
    """Each file's row and its rendition's, by storage path."""
    query = """
        SELECT f.path, f.kind, f.format, f.mime, f.status, f.error, f.width, f.height,
               f.duration_s, f.size, r.kind, r.status, r.bytes, r.error, r.name
        FROM files f LEFT JOIN renditions r ON r.file_id = f.id ORDER BY f.path"""
    keys = ("path", "index_kind", "index_format", "mime", "index_status", "index_error", "width",
            "height", "duration_s", "size", "rendition_kind", "rendition", "preview_bytes",
            "rendition_error", "rendition_name")  # fmt: skip
    with sqlite3.connect(state / "archive.sqlite3") as db:
        return {row[0]: dict(zip(keys, row, strict=True)) for row in db.execute(query)}


# Figures --------------------------------------------------------------------------------------


def per_file(storage: Path, manifest: list[dict], rows: dict[str, dict]) -> list[dict[str, Any]]:
    """Manifest, decoders' verdicts and the archive's rows, one dict a corpus file."""
    out = []
    for entry in manifest:
        verdicts = odd_corpus.decoded_by(storage / entry["name"])
        decoders = [name for name, why in verdicts.items() if why is None]
        row = rows.get(entry["name"], {})
        out.append(
            entry
            | {"decoders": decoders, "goal": bool(decoders)}
            | {k: v for k, v in row.items() if k != "path"}
            | {"in_index": bool(row)}
        )
    return out


def reason(file: dict[str, Any]) -> str:
    """Why a file has no viewable rendition, as the archive says it."""
    if not file["in_index"]:
        return "not in the index"
    if file.get("rendition") is None:
        status, error = file["index_status"], file["index_error"] or "-"
        return f"no rendition row (index status {status}: {error})"
    return f"rendition {file['rendition']}: {file.get('rendition_error') or '-'}"


def coverage(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The share of indexed files, and of the decodable (goal) files, with a rendition."""
    indexed = [f for f in files if f.get("index_status") == "indexed"]
    goal = [f for f in files if f["goal"]]
    return {
        "files": len(files),
        "indexed": len(indexed),
        "indexed_with_rendition": _viewable(indexed),
        "share_of_indexed": _viewable(indexed) / len(indexed) if indexed else None,
        "goal_files": len(goal),
        "goal_with_rendition": _viewable(goal),
        "share_of_goal": _viewable(goal) / len(goal) if goal else None,
        "viewable_outside_goal": [
            f["name"] for f in files if f.get("rendition") in VIEWABLE and not f["goal"]
        ],
        "without_rendition": {
            f["name"]: reason(f) for f in files if f.get("rendition") not in VIEWABLE
        },
        "by_status": dict(sorted(Counter(f.get("rendition") or "none" for f in files).items())),
    }


def _viewable(files: list[dict[str, Any]]) -> int:
    return sum(f.get("rendition") in VIEWABLE for f in files)


def preview_bytes(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Bytes of the ready renditions per file: median and max, stills and proxies apart."""
    out: dict[str, Any] = {}
    for kind in ("still", "video"):
        made = [f for f in files if f.get("rendition") == "ready" and f["rendition_kind"] == kind]
        sizes = [f["preview_bytes"] for f in made]
        originals = sum(f["bytes"] for f in made)
        out[kind] = {
            "ready": len(sizes),
            "median_bytes": statistics.median(sizes) if sizes else None,
            "max_bytes": max(sizes) if sizes else None,
            "mean_bytes": statistics.fmean(sizes) if sizes else None,
            "total_bytes": sum(sizes),
            "share_of_original_bytes": sum(sizes) / originals if originals else None,
        }
    return out


def video_seconds(path: Path) -> float | None:
    """The video's length as FFmpeg reads it (container, else its first video stream)."""
    with av.open(str(path)) as container:
        if container.duration:
            return container.duration / 1_000_000
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return None


def transcode_speed(storage: Path, files: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """The archive's proxy function on each decodable video, timed: video s per wall s."""
    from landrec.archive.renditions.plan import RenditionError
    from landrec.archive.renditions.video import transcode

    work.mkdir(parents=True, exist_ok=True)
    rows = {}
    for file in files:
        if file["kind"] != "video" or not file["goal"]:
            continue
        source, target = storage / file["name"], work / (file["name"] + ".mp4")
        seconds = video_seconds(source)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            transcode(source, target)
        except RenditionError as exc:  # the file's bytes: the archive says why
            rows[file["name"]] = {"format": file["format"], "error": str(exc)}
            continue
        except Exception as exc:  # a defect of the transcoder: reported, the others still timed
            rows[file["name"]] = {"format": file["format"], "error": f"{type(exc).__name__}: {exc}"}
            continue
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows[file["name"]] = {
            "format": file["format"],
            "video_s": seconds,
            "wall_s": wall,
            "cpu_s": cpu,  # all of this process's threads: less swayed by a busy machine
            "video_s_per_s": seconds / wall if seconds else None,
            "video_s_per_cpu_s": seconds / cpu if seconds and cpu else None,
            "proxy_bytes": target.stat().st_size,
            "source_bytes": source.stat().st_size,
            "archive_made_a_proxy": file.get("rendition") == "ready",
        }
    timed = [r for r in rows.values() if r.get("video_s_per_s")]
    total_s = sum(r["video_s"] for r in timed)
    total_wall = sum(r["wall_s"] for r in timed)
    total_cpu = sum(r["cpu_s"] for r in timed)
    return {
        "videos": rows,
        "overall_video_s_per_s": total_s / total_wall if total_wall else None,
        "overall_video_s_per_cpu_s": total_s / total_cpu if total_cpu else None,
        "median_video_s_per_s": statistics.median(r["video_s_per_s"] for r in timed)
        if timed
        else None,
        "slowest": min(timed, key=lambda r: r["video_s_per_s"])["format"] if timed else None,
    }


# The Markdown report --------------------------------------------------------------------------


def _kib(n: float | None) -> str:
    return "-" if n is None else f"{n / 1024:,.1f}"


def markdown(record: dict[str, Any]) -> str:
    """docs/renditions.md: the figures, the per-file table, the files left without one."""
    r, m = record["results"], record["machine"]
    cov, speed, sizes = r["coverage"], r["transcode"], r["preview_bytes"]
    lines = [
        "# Renditions: every stored file viewable in a browser",
        "",
        "The archive's renditions measured on an odd-format corpus made by "
        "`benchmarks/odd_corpus.py` (no download; picture content read from a few photos of "
        "the data set). Generated by:",
        "",
        f"    {record['command']}",
        "",
        f"on {m['cpu_model']} ({m['cpus_usable']} usable cores; load average "
        f"{_num(m['load_average_at_start'][0])} at the start, "
        f"{_num(r['load_average_at_end'][0])} at the end), {record['date']}, commit "
        f"{m['landrec_commit']}. Raw figures: `docs/benchmarks/{BENCHMARK}.json`.",
        "",
        "## Figures",
        "",
        f"- **Share with a rendition** (ready or original): {cov['goal_with_rendition']} of "
        f"{cov['goal_files']} files that Pillow, LibRaw or FFmpeg decodes "
        f"({_pct(cov['share_of_goal'])}; the goal is all); {cov['indexed_with_rendition']} of "
        f"{cov['indexed']} indexed files ({_pct(cov['share_of_indexed'])}).",
        f"- **Transcoding speed** (the archive's proxy function, 720p H.264/AAC MP4 out): "
        f"{_num(speed['overall_video_s_per_s'])} s of video per second overall "
        f"({_num(speed['overall_video_s_per_cpu_s'])} per CPU second), median "
        f"{_num(speed['median_video_s_per_s'])} across source formats, slowest: "
        f"{speed['slowest']}.",
        f"- **Preview bytes per file**: stills median {_kib(sizes['still']['median_bytes'])} "
        f"KiB, max {_kib(sizes['still']['max_bytes'])} KiB ({sizes['still']['ready']} made); "
        f"video proxies median {_kib(sizes['video']['median_bytes'])} KiB, max "
        f"{_kib(sizes['video']['max_bytes'])} KiB ({sizes['video']['ready']} made).",
        "",
        "## Files",
        "",
        "video s/s: seconds of video per second of wall time (and per CPU second) of the "
        "archive's `transcode()` on that file.",
        "",
        "| file | format | decoded by | index | rendition | preview KiB | video s/s | /CPU s |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    for f in r["files"]:
        timed = speed["videos"].get(f["name"], {})
        lines.append(
            f"| `{f['name']}` | {f['format']} | {', '.join(f['decoders']) or 'none'} "
            f"| {_indexed(f)} | {f.get('rendition') or '-'} "
            f"| {_kib(f.get('preview_bytes'))} | {_num(timed.get('video_s_per_s'))} "
            f"| {_num(timed.get('video_s_per_cpu_s'))} |"
        )
    lines += ["", "## Files without a rendition", ""]
    lines += [f"- `{name}`: {why}" for name, why in cov["without_rendition"].items()] or ["none"]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in record["notes"]]
    return "\n".join(lines) + "\n"


def _indexed(file: dict[str, Any]) -> str:
    if not file["in_index"]:
        return "-"
    return f"{file['index_status']} ({file['index_format'] or 'unknown'})"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


# Main -----------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    storage = root / "storage"
    started = time.perf_counter()
    manifest = odd_corpus.build_corpus(storage, args.quick, args.data)
    corpus_s = time.perf_counter() - started
    settle(storage)
    archive = run_archive(storage, root / "state")
    files = per_file(storage, manifest, read_rows(root / "state"))
    return {
        "corpus_build_s": corpus_s,
        "archive": archive,
        "coverage": coverage(files),
        "transcode": transcode_speed(storage, files, root / "proxies"),
        "preview_bytes": preview_bytes(files),
        "files": files,
        "load_average_at_end": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-renditions-") as tmp:
        results = measure(args, Path(tmp))
    size = odd_corpus.QUICK if args.quick else odd_corpus.FULL
    settings = {
        "quick": args.quick,
        "data": str(args.data),
        "video": f"{size.width}x{size.height}, {size.seconds:g} s at {size.fps} fps",
    }
    notes = [
        "goal: a file counts when Pillow (pillow-heif's and pylibjxl's plugins registered), "
        "LibRaw (rawpy, postprocess) or FFmpeg (PyAV, first video frame) decodes it, each asked "
        "directly by the benchmark, not through the archive",
        "transcoding speed: the archive's transcode() called on each video once more after the "
        "archive's own pass (warm page cache), one process, wall time including the probe",
        "the videos are a slow pan over real photos: easier to encode than camera footage",
    ]
    path = common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results,
                                notes)  # fmt: skip
    if args.doc is not None:
        args.doc.write_text(markdown(json.loads(path.read_text())))
        print(f"wrote {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
