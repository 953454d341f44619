"""`landrec archive ...`: the archive service's commands (imported only when run)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from landrec.cli.options import at_least, between

PORTS = (1, 65535)  # the TCP ports a service can listen on
OPEN_NOTE = (
    "no user and no token yet: open to anyone on this machine, so bound to loopback only; "
    "`landrec archive token create --db URL --name NAME --role admin` or "
    "`landrec archive user add NAME --db URL --role admin` secures it"
)
ROLES = ("viewer", "editor", "admin")


def add_archive_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="index a storage folder into a searchable archive")
    archive = p.add_subparsers(dest="archive_command", required=True)

    q = archive.add_parser("serve", help="watch the storage, index new files, serve the API")
    _storage_options(q)
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=between(*PORTS), default=8000)
    q.add_argument("--rescan", type=float, default=60.0, help="seconds between full rescans")
    q.add_argument(
        "--max-upload-bytes", type=at_least(1), default=2 * 1024**3,
        help="largest file an upload may store (default 2 GiB; over it: 413)",
    )  # fmt: skip
    q.add_argument(
        "--max-parallel-uploads", type=at_least(1), default=4,
        help="uploads received at once (default 4); one more gets 503 with Retry-After",
    )  # fmt: skip
    _http_options(q)
    q.set_defaults(func=cmd_serve)

    q = archive.add_parser("scan", help="index what is new or changed once, then exit")
    _storage_options(q)
    q.add_argument("--json", action="store_true", help="print the counts by status as JSON")
    q.add_argument(
        "--no-previews", action="store_true",
        help="skip making the browser previews (video proxies, display-size stills) after it",
    )  # fmt: skip
    q.set_defaults(func=cmd_scan)

    q = archive.add_parser(
        "previews", help="make the pending browser previews (video proxies, display-size stills)"
    )
    q.add_argument("--storage", type=Path, required=True, help="the indexed folder")
    q.add_argument("--db", help="database URL (default: SQLite in a state folder beside it)")
    q.add_argument("--retry-failed", action="store_true", help="try the failed ones again too")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_previews)

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

    _account_commands(archive)


def _account_commands(archive: argparse._SubParsersAction) -> None:
    token = archive.add_parser("token", help="API tokens for scripts (Authorization: Bearer)")
    tokens = token.add_subparsers(dest="token_command", required=True)
    q = tokens.add_parser("create", help="make a token; prints it (only it) on stdout, once")
    q.add_argument("--db", required=True, help="database URL")
    q.add_argument("--name", required=True, help="who the token is for (in the audit log)")
    q.add_argument("--role", required=True, choices=ROLES)
    q.set_defaults(func=cmd_token_create)
    q = tokens.add_parser("revoke", help="revoke a token: it answers 401 from now on")
    q.add_argument("--db", required=True, help="database URL")
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="the token's name")
    which.add_argument("--id", type=at_least(1), help="the token's id")
    q.set_defaults(func=cmd_token_revoke)

    user = archive.add_parser("user", help="users who log in to the GUI")
    users = user.add_subparsers(dest="user_command", required=True)
    q = users.add_parser("add", help="add a user; the password is asked twice (or read from stdin)")
    q.add_argument("name")
    q.add_argument("--db", required=True, help="database URL")
    q.add_argument("--role", required=True, choices=ROLES)
    q.set_defaults(func=cmd_user_add)


def _storage_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--storage", type=Path, required=True, help="the folder to index")
    q.add_argument("--db", help="database URL (default: SQLite in a state folder beside it)")
    q.add_argument("--model", help="run folder, checkpoint or .onnx (default runs/mobilenet_v2)")
    q.add_argument("--workers", type=at_least(1), help="decoding threads")


def _http_options(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--allowed-host", action="append", default=[], metavar="HOST",
        help="a name clients reach the service by (the Host header; others get 400), repeatable;"
        " localhost, 127.0.0.1, ::1 and --host always; *.example.org: its subdomains",
    )  # fmt: skip
    q.add_argument(
        "--cors-origin", action="append", default=[], metavar="URL", type=_origin,
        help="a site whose pages may call the API (CORS), e.g. https://app.example.org;"
        " repeatable; none: CORS off",
    )  # fmt: skip
    q.add_argument(
        "--proxy-headers", action="store_true",
        help="behind a reverse proxy: trust its X-Forwarded-Proto/For (from --forwarded-allow-ips)",
    )  # fmt: skip
    q.add_argument(
        "--forwarded-allow-ips", default="127.0.0.1", metavar="IPS",
        help="the reverse proxy's addresses or networks, comma-separated (default 127.0.0.1)",
    )  # fmt: skip


def _origin(text: str) -> str:
    """A web origin, `scheme://host[:port]`, as a browser sends it."""
    from urllib.parse import urlsplit

    parts = urlsplit(text.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"{text!r}: give an origin, like https://app.example.org")
    return f"{parts.scheme}://{parts.netloc}"


def _http_settings(args: argparse.Namespace) -> dict[str, Any]:
    """`serve`'s HTTP hardening: the address bound is an allowed host unless it is a wildcard."""
    from landrec.archive.settings import LOCAL_HOSTS

    bound = [] if args.host in ("", "0.0.0.0", "::") else [args.host]
    ips = [ip.strip() for ip in args.forwarded_allow_ips.split(",") if ip.strip()]
    return {
        "allowed_hosts": tuple(dict.fromkeys([*LOCAL_HOSTS, *bound, *args.allowed_host])),
        "cors_origins": tuple(dict.fromkeys(args.cors_origin)),
        "proxy_headers": args.proxy_headers,
        "forwarded_allow_ips": tuple(ips),
    }


def _settings(args: argparse.Namespace, **options: Any) -> Any:  # ArchiveSettings
    from landrec.archive.commands import resolve_model
    from landrec.archive.settings import make_settings

    model = resolve_model(args.model)
    return make_settings(args.storage, args.db, model, workers=args.workers, **options)


def cmd_serve(args: argparse.Namespace) -> int:
    from landrec.archive.accounts import check_binding
    from landrec.archive.commands import check_port, open_indexer
    from landrec.archive.service import serve

    if not check_binding(args.host, args.db, args.storage):  # before anything else
        print(f"archive: {OPEN_NOTE}", file=sys.stderr)
    check_port(args.host, args.port)  # before the model loads and the storage is indexed
    limits = {
        "max_upload_bytes": args.max_upload_bytes,
        "max_parallel_uploads": args.max_parallel_uploads,
    }
    settings = _settings(args, rescan_s=args.rescan, **limits, **_http_settings(args))
    indexer = open_indexer(settings)
    print(f"archive: {settings.storage} -> http://{args.host}:{args.port}/", file=sys.stderr)
    serve(settings, indexer.sessions, indexer, args.host, args.port)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from landrec.archive.commands import scan

    settings = _settings(args)
    with _progress_bar("index") as progress:
        counts = scan(settings, progress, previews=not args.no_previews)
    _print(counts, args.json)
    return 0


def cmd_previews(args: argparse.Namespace) -> int:
    from landrec.archive.commands import previews
    from landrec.archive.settings import make_settings

    settings = make_settings(args.storage, args.db)
    _print(previews(settings, retry_failed=args.retry_failed), args.json)
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


def cmd_token_create(args: argparse.Namespace) -> int:
    from landrec.archive.accounts import token_create
    from landrec.archive.db.models import Role

    print(token_create(args.db, args.name, Role(args.role)))  # the token alone: `$(...)` it
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from landrec.archive.accounts import token_revoke

    token_revoke(args.db, args.name, args.id)
    print(f"revoked token {args.name if args.name is not None else '#' + str(args.id)}",
          file=sys.stderr)  # fmt: skip
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from landrec.archive.accounts import user_add
    from landrec.archive.db.models import Role

    user_add(args.db, args.name, Role(args.role), _password())
    print(f"added user {args.name} ({args.role})", file=sys.stderr)
    return 0


def _password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    from landrec.archive.settings import ArchiveError

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ArchiveError("the two passwords differ")
    return first


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
