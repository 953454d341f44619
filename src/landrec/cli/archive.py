"""`landrec archive ...`: the archive service's commands (imported only when run)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from landrec.cli.options import at_least


def add_archive_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="index a storage folder into a searchable archive")
    archive = p.add_subparsers(dest="archive_command", required=True)

    q = archive.add_parser("serve", help="watch the storage, index new files, serve the API")
    _storage_options(q)
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=at_least(1), default=8000)
    q.add_argument("--rescan", type=float, default=60.0, help="seconds between full rescans")
    q.set_defaults(func=cmd_serve)

    q = archive.add_parser("scan", help="index what is new or changed once, then exit")
    _storage_options(q)
    q.add_argument("--json", action="store_true", help="print the counts by status as JSON")
    q.set_defaults(func=cmd_scan)

    q = archive.add_parser("retag", help="re-classify the whole archive with a new model")
    q.add_argument("--db", required=True, help="database URL")
    q.add_argument("--model", required=True, help="run folder, checkpoint or .onnx")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_retag)

    q = archive.add_parser("export-corrections", help="corrected files as a training folder")
    q.add_argument("--db", required=True, help="database URL")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--copy", action="store_true", help="copy the files (default: symlinks)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_export_corrections)


def _storage_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--storage", type=Path, required=True, help="the folder to index")
    q.add_argument("--db", help="database URL (default: SQLite in a state folder beside it)")
    q.add_argument("--model", help="run folder, checkpoint or .onnx (default runs/mobilenet_v2)")
    q.add_argument("--workers", type=at_least(1), help="decoding threads")


def _settings(args: argparse.Namespace, **options: Any) -> Any:  # ArchiveSettings
    from landrec.archive.commands import resolve_model
    from landrec.archive.settings import make_settings

    model = resolve_model(args.model)
    return make_settings(args.storage, args.db, model, workers=args.workers, **options)


def cmd_serve(args: argparse.Namespace) -> int:
    from landrec.archive.commands import open_indexer
    from landrec.archive.service import serve

    settings = _settings(args, rescan_s=args.rescan)
    indexer = open_indexer(settings)
    print(f"archive: {settings.storage} -> http://{args.host}:{args.port}/", file=sys.stderr)
    serve(settings, indexer.sessions, indexer, args.host, args.port)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from landrec.archive.commands import scan

    settings = _settings(args)
    with _progress_bar("index") as progress:
        counts = scan(settings, progress)
    _print(counts, args.json)
    return 0


def cmd_retag(args: argparse.Namespace) -> int:
    from landrec.archive.commands import resolve_model, retag

    with _progress_bar("retag") as progress:
        result = retag(args.db, resolve_model(args.model), progress=progress)
    _print(result, args.json)
    return 0


def cmd_export_corrections(args: argparse.Namespace) -> int:
    from landrec.archive.commands import export_corrections

    _print(export_corrections(args.db, args.out, args.copy), args.json)
    return 0


@contextmanager
def _progress_bar(desc: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback (done, total) drawing a bar on a terminal's stderr."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="file", disable=not sys.stderr.isatty())

    def progress(n: int, total: int) -> None:
        bar.total = total
        bar.update(n)

    try:
        yield progress
    finally:
        bar.close()


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
