"""`landrec telemetry FILE`: a file's navigation data (MISB ST 0601 / EG 0104 KLV in a transport
stream or a raw .klv, GoPro GPMF, a drone's .srt, .gpx) as JSON, CSV or GeoJSON.

Output is written sample by sample, so a long flight's samples are never held as one string.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

FORMATS = ("json", "csv", "geojson")
# Keys a sample has besides the standard's names (the decoder's and the reader's own): in CSV
# they follow the standard's names, as do unknown tags kept under their number ("48").
BOOKKEEPING = ("checksum_ok", "media_time_s", "carrier")

DESCRIPTION = """\
Print the navigation data of FILE, found by its content: the KLV data streams of an MPEG
transport stream (MISB ST 0601 and EG 0104), a raw .klv file, the GoPro GPMF track of an MP4,
a drone's .srt subtitles or a .gpx track; with a video, also its side files of the same stem
(FILE's stem + .klv, .srt, .gpx) unless --no-side-files.

formats:
  json     (default) one object: path, standards, packets, bad_packets, and samples: one
           object per decoded packet in stream order, named as in MISB ST 0601
           (precision_time_stamp as ISO 8601 UTC, degrees and metres as numbers)
  csv      one row per sample; the columns: the standard's names in first-seen order, then
           the others (checksum_ok, media_time_s, carrier, unknown tags by number)
  geojson  the track (a LineString thinned to 1 point a second) and the sensor footprints

A file with no telemetry prints an empty result (json: packets 0, samples []) and a note on
stderr; exit code 0. A missing or unreadable file: exit code 2."""


def add_telemetry_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "telemetry",
        help="print a file's navigation data (KLV, GPMF, SRT, GPX) as JSON, CSV or GeoJSON",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="video, .klv, .srt or .gpx file")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format [json]")
    p.add_argument(
        "--no-side-files",
        dest="side_files",
        action="store_false",
        help="read FILE alone, not the .klv/.srt/.gpx files beside it",
    )
    p.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_telemetry)


def cmd_telemetry(args: argparse.Namespace) -> int:
    from landrec.api import UserError
    from landrec.api.telemetry import read_telemetry

    try:
        telemetry = read_telemetry(args.file, side_files=args.side_files)
    except UserError:
        raise
    except OSError as exc:  # unreadable (permissions, a folder, an I/O error): the user's input
        raise UserError(f"{args.file}: cannot read: {exc.strerror or exc}") from exc
    if not telemetry.samples:
        bad = f" ({telemetry.bad_packets} bad packets)" if telemetry.bad_packets else ""
        print(f"landrec: note: {args.file}: no telemetry found{bad}", file=sys.stderr)
    try:
        _write(telemetry, args, out_format=args.format)
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's exit flush is quiet
    return 0


def _write(telemetry: Any, args: argparse.Namespace, out_format: str) -> None:
    from landrec.api.telemetry import summarise

    with _opened(args.output, out_format) as out:
        if out_format == "csv":
            write_csv(telemetry.samples, out)
        elif out_format == "geojson":
            json.dump(summarise(telemetry).geojson(), out, indent=2, default=str)
            out.write("\n")
        else:
            head = {
                "path": str(args.file),
                "standards": [standard.value for standard in telemetry.standards],
                "packets": telemetry.packets,
                "bad_packets": telemetry.bad_packets,
            }
            write_json(head, telemetry.samples, out)


@contextmanager
def _opened(path: Path | None, fmt: str) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8", newline="" if fmt == "csv" else None) as out:
        yield out


def _finite(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample with NaN and infinities as None (JSON has no such numbers)."""
    return {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in sample.items()
    }


def write_json(head: dict[str, Any], samples: list[dict[str, Any]], out: TextIO) -> None:
    """One object: `head`'s keys, then "samples", one sample a line."""
    out.write(json.dumps(head)[:-1] + ', "samples": [')
    for i, sample in enumerate(samples):
        out.write(",\n" if i else "\n")
        out.write(json.dumps(_finite(sample), default=str))
    out.write("\n]}\n" if samples else "]}\n")


def columns(samples: list[dict[str, Any]]) -> list[str]:
    """Every key of the samples, in first-seen order: the standard's names, then the others."""
    seen = list(dict.fromkeys(key for sample in samples for key in sample))
    other = [key for key in seen if key in BOOKKEEPING or key.isdigit()]
    return [key for key in seen if key not in other] + other


def write_csv(samples: list[dict[str, Any]], out: TextIO) -> None:
    """One row per sample under `columns(samples)`; an absent or None value is empty."""
    if not samples:
        return
    writer = csv.DictWriter(out, fieldnames=columns(samples), restval="")
    writer.writeheader()
    for sample in samples:
        writer.writerow({k: "" if v is None else v for k, v in sample.items()})
