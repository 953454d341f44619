"""`landrec archive ...`: the archive service's commands (imported only when run)."""

from __future__ import annotations

import argparse
import json
import os
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
# Read when --db / --broker are not given: a service's unit passes its passwords through the
# environment, not the command line every user of the machine can read.
DB_ENV, BROKER_ENV = "LANDREC_DB", "LANDREC_BROKER"


def _required(q: argparse.ArgumentParser, flag: str, env: str, text: str) -> None:
    """An option that must be given, on the command line or in the variable `env`."""
    q.add_argument(
        flag, required=env not in os.environ, default=os.environ.get(env),
        help=f"{text} (default: ${env})",
    )  # fmt: skip


def add_archive_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="index a storage folder into a searchable archive")
    archive = p.add_subparsers(dest="archive_command", required=True)

    q = archive.add_parser("serve", help="watch the storage, index new files, serve the API")
    _storage_options(q)
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=between(*PORTS), default=8000)
    q.add_argument("--rescan", type=float, default=60.0, help="seconds between full rescans")
    _broker_option(q, "index, previews and retags run in `landrec archive worker`s")
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
    _broker_option(q, "the pending files are sent to the workers")
    q.add_argument(
        "--wait", action="store_true", help="with --broker: until the workers have indexed all"
    )
    q.set_defaults(func=cmd_scan)

    q = archive.add_parser(
        "previews", help="make the pending browser previews (video proxies, display-size stills)"
    )
    q.add_argument(
        "--storage", type=Path,
        help="the indexed folder (not needed with --broker: the workers have theirs)",
    )  # fmt: skip
    q.add_argument(
        "--db", default=os.environ.get(DB_ENV),
        help=f"database URL (default: ${DB_ENV}, else SQLite in a state folder beside it)",
    )  # fmt: skip
    q.add_argument("--retry-failed", action="store_true", help="try the failed ones again too")
    q.add_argument("--json", action="store_true")
    _broker_option(q, "the pending previews are sent to the workers")
    q.set_defaults(func=cmd_previews)

    q = archive.add_parser("retag", help="re-classify the whole archive with a new model")
    _required(q, "--db", DB_ENV, "database URL")
    q.add_argument("--model", required=True, help="run folder, checkpoint or .onnx")
    q.add_argument("--json", action="store_true")
    _broker_option(q, "sent to the workers in batches; --model must be a path they can read")
    q.set_defaults(func=cmd_retag)

    q = archive.add_parser(
        "worker", help="a Celery worker of the distributed mode: indexes, previews, retags"
    )
    _required(q, "--db", DB_ENV, "the archive's PostgreSQL URL")
    _required(q, "--broker", BROKER_ENV, "redis://[:PASSWORD@]HOST:PORT/DB")
    q.add_argument(
        "--storage", type=Path,
        help="where this machine mounts the storage (default: the path the archive records)",
    )  # fmt: skip
    q.add_argument("--state", type=Path, help="the shared state folder (thumbnails, previews)")
    q.add_argument("--model", help="run folder, checkpoint or .onnx (default runs/mobilenet_v2)")
    q.add_argument(
        "--concurrency", type=at_least(1), default=1, help="worker processes (default 1)"
    )
    q.add_argument("--threads", type=at_least(1), help="decoding threads per process")
    q.add_argument(
        "--queues", default="landrec.index,landrec.previews",
        help="the queues taken (default both: landrec.index,landrec.previews)",
    )  # fmt: skip
    q.add_argument("--name", help="the worker's name (default landrec@HOST)")
    q.add_argument(
        "--visibility-timeout", type=float, metavar="S",
        help="seconds before an unacknowledged task goes to another worker (default 3600;"
        " longer than the longest task); the same on every worker and the server",
    )  # fmt: skip
    q.set_defaults(func=cmd_worker)

    q = archive.add_parser("migrate", help="bring the database's schema to this version")
    _required(q, "--db", DB_ENV, "database URL")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_migrate)

    q = archive.add_parser("status", help="rows by status, the workers' progress, the queues")
    _required(q, "--db", DB_ENV, "database URL")
    q.add_argument(
        "--broker", default=os.environ.get(BROKER_ENV), help="also the broker's queue depths"
    )
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_status)

    q = archive.add_parser("export-corrections", help="corrected files as a training folder")
    _required(q, "--db", DB_ENV, "database URL")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--copy", action="store_true", help="copy the files (default: symlinks)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_export_corrections)

    _account_commands(archive)


def _account_commands(archive: argparse._SubParsersAction) -> None:
    token = archive.add_parser("token", help="API tokens for scripts (Authorization: Bearer)")
    tokens = token.add_subparsers(dest="token_command", required=True)
    q = tokens.add_parser("create", help="make a token; prints it (only it) on stdout, once")
    _required(q, "--db", DB_ENV, "database URL")
    q.add_argument("--name", required=True, help="who the token is for (in the audit log)")
    q.add_argument("--role", required=True, choices=ROLES)
    q.set_defaults(func=cmd_token_create)
    q = tokens.add_parser("revoke", help="revoke a token: it answers 401 from now on")
    _required(q, "--db", DB_ENV, "database URL")
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="the token's name")
    which.add_argument("--id", type=at_least(1), help="the token's id")
    q.set_defaults(func=cmd_token_revoke)

    user = archive.add_parser("user", help="users who log in to the GUI")
    users = user.add_subparsers(dest="user_command", required=True)
    q = users.add_parser("add", help="add a user; the password is asked twice (or read from stdin)")
    q.add_argument("name")
    _required(q, "--db", DB_ENV, "database URL")
    q.add_argument("--role", required=True, choices=ROLES)
    q.set_defaults(func=cmd_user_add)


def _storage_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--storage", type=Path, required=True, help="the folder to index")
    q.add_argument(
        "--db", default=os.environ.get(DB_ENV),
        help=f"database URL (default: ${DB_ENV}, else SQLite in a state folder beside it)",
    )  # fmt: skip
    q.add_argument("--model", help="run folder, checkpoint or .onnx (default runs/mobilenet_v2)")
    q.add_argument("--workers", type=at_least(1), help="decoding threads")
    q.add_argument(
        "--state", type=Path,
        help="the state folder: thumbnails, previews (default beside the storage)",
    )  # fmt: skip


def _broker_option(q: argparse.ArgumentParser, what: str) -> None:
    q.add_argument(
        "--broker", metavar="URL", default=os.environ.get(BROKER_ENV),
        help=f"distributed mode (Celery on Redis, redis://HOST:PORT/DB; --db PostgreSQL): {what}",
    )  # fmt: skip
    q.add_argument(
        "--visibility-timeout", type=float, metavar="S",
        help="with --broker: as the workers' (default 3600)",
    )  # fmt: skip


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
    return make_settings(args.storage, args.db, model, args.state, workers=args.workers, **options)


def _distributed(args: argparse.Namespace) -> bool:
    """Whether `--broker` was given; its database checked (PostgreSQL) and its visibility
    timeout set."""
    if not getattr(args, "broker", None):
        return False
    from landrec.archive.queue.app import VISIBILITY_TIMEOUT_S, configure
    from landrec.archive.queue.commands import check_shared_database
    from landrec.archive.settings import ArchiveError

    if not args.db:
        raise ArchiveError(
            f"--broker (or ${BROKER_ENV}) needs the PostgreSQL database every worker reaches:"
            f" give --db postgresql+psycopg://USER@HOST/NAME (or ${DB_ENV}); for the embedded"
            f" mode, unset {BROKER_ENV}"
        )
    check_shared_database(args.db)
    configure(args.broker, args.visibility_timeout or VISIBILITY_TIMEOUT_S)
    return True


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
    distributed = _distributed(args)
    settings = _settings(args, rescan_s=args.rescan, **limits, **_http_settings(args))
    indexer = open_indexer(settings)
    send = None
    if distributed:
        from landrec.archive.queue.commands import dispatcher

        send = dispatcher(indexer.sessions, args.broker, settings.batch_size)
    print(f"archive: {settings.storage} -> http://{args.host}:{args.port}/", file=sys.stderr)
    serve(settings, indexer.sessions, indexer, args.host, args.port, send)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from landrec.archive.commands import scan

    if _distributed(args):
        from landrec.archive.commands import open_storage_database
        from landrec.archive.queue import commands

        settings = _settings(args)
        sessions = open_storage_database(settings)
        with _progress_bar("index") as progress:
            counts = commands.scan(settings, sessions, args.broker, args.wait, progress)
        _print(counts, args.json)
        return 0
    settings = _settings(args)
    with _progress_bar("index") as progress:
        counts = scan(settings, progress, previews=not args.no_previews)
    _print(counts, args.json)
    return 0


def cmd_previews(args: argparse.Namespace) -> int:
    from landrec.archive.commands import previews
    from landrec.archive.settings import ArchiveError, make_settings

    if _distributed(args):
        from landrec.archive.queue import commands

        _print(commands.previews(args.db, args.broker, args.retry_failed), args.json)
        return 0
    if args.storage is None:
        raise ArchiveError("archive previews: give --storage (or --broker: the workers make them)")
    settings = make_settings(args.storage, args.db)
    _print(previews(settings, retry_failed=args.retry_failed), args.json)
    return 0


def cmd_retag(args: argparse.Namespace) -> int:
    from landrec.archive.commands import resolve_model, retag

    if _distributed(args):
        from landrec.archive.queue import commands

        _print(commands.retag(args.db, resolve_model(args.model), args.broker), args.json)
        return 0

    with _progress_bar("retag") as progress:
        result = retag(args.db, resolve_model(args.model), progress=progress)
    _print(result, args.json)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from landrec.archive.commands import resolve_model, storage_of
    from landrec.archive.db.session import open_archive, open_database
    from landrec.archive.queue.commands import check_broker, check_shared_database
    from landrec.archive.queue.tasks import Setup
    from landrec.archive.queue.worker import run_worker
    from landrec.archive.settings import make_settings

    check_shared_database(args.db)
    if args.storage is None:  # the storage's path recorded by the server: an archive's
        sessions = open_archive(args.db)
        storage = storage_of(sessions, args.db)
    else:  # started before the server: the database made (migrated) here
        sessions, storage = open_database(args.db), args.storage
    sessions.kw["bind"].dispose()  # each worker process opens its own
    check_broker(args.broker)
    model = resolve_model(args.model)
    settings = make_settings(storage, args.db, model, args.state, workers=args.threads)
    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    # The pool's processes share the machine's cores: ONNX Runtime's threads divided among them
    model_threads = max(1, (os.cpu_count() or 1) // args.concurrency)
    setup = Setup(settings, model_threads)
    run_worker(setup, args.broker, args.concurrency, queues, args.name, args.visibility_timeout)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from landrec.archive.db.session import migrate

    _print(migrate(args.db), args.json)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from landrec.archive.queue.commands import status

    result = status(args.db, args.broker)
    if args.json:
        print(json.dumps(result))
    else:
        _print_status(result)
    return 0


def _print_status(result: dict) -> None:
    files = ", ".join(f"{n} {s}" for s, n in sorted(result["files"].items())) or "none"
    print(f"files: {files}")
    print(f"pending: {result['pending']} ({result['queued']} sent to the workers)")
    previews = ", ".join(f"{n} {s}" for s, n in sorted(result["previews"].items())) or "none"
    print(f"previews: {previews}")
    if result["queues"] is not None:
        print("queues: " + ", ".join(f"{q} {n}" for q, n in result["queues"].items()))
    for w in result["workers"]:
        doing = w["doing"] or "idle"
        print(
            f"worker {w['name']}: {w['indexed']} indexed ({w['failed']} failed),"
            f" {w['previews']} previews, {w['retagged']} retagged; {doing},"
            f" seen {w['seen_s_ago']:.0f} s ago"
        )


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
