"""The archive's distributed mode (PostgreSQL + Celery workers on Redis) against the embedded
mode (SQLite), in one run on one machine, and what PostgreSQL pays per indexed file.

ingest     the photos of DATA (all splits) copied into a temporary storage folder outside the
           repository, then indexed from an empty database and an empty state folder, each way:
             embedded     `archive scan` in-process (SQLite), as bench_archive.py does
             1 worker     `landrec archive worker --concurrency 1`
             1x2          one worker, `--concurrency 2` (a prefork pool of 2 processes)
             2 workers    two worker processes, `--concurrency 1` each
           the distributed ones timed from `landrec archive scan --broker URL --wait` started
           to every file final; CPU seconds (user + sys, from /proc) of each process tree:
           workers, postgres (by role), redis, the dispatcher, and the whole machine's
postgres   per indexed file: statements by kind (pg_stat_statements: calls, execution ms),
           transactions, rows, blocks (pg_stat_database), WAL bytes and fsyncs (pg_stat_wal,
           pg_current_wal_lsn), database bytes per 1,000 files
capacity   what this PostgreSQL takes on this machine: commits/s (pgbench, one-row insert
           transactions, 1 and 8 clients) and WAL MB/s (a bulk insert)
estimate   on paper, from those: worker machines and hours for 10 million files, and where the
           bottleneck moves

PostgreSQL (durable: fsync and synchronous_commit on, full-page writes on, as in production)
and Redis (append-only, fsync each second) come from Debian's packages, started here by
tests/archive/servers.py; the workers are subprocesses (tests/archive/distributed/workers.py).

  python benchmarks/bench_distributed.py --run /work/runs/base_mnv2          # 7,444 photos
  python benchmarks/bench_distributed.py --run /work/runs/base_mnv2 --quick  # 300 photos
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

import common
from bench_archive import copy_photos, settle

sys.path.insert(0, str(common.REPO / "tests/archive"))
sys.path.insert(0, str(common.REPO / "tests/archive/distributed"))
from servers import Postgres, Redis
from workers import Worker

BENCHMARK = "bench_distributed"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_EXTRA = (
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.track=all",
    "track_wal_io_timing=on",  # pg_stat_wal's write and fsync times
    "track_io_timing=on",
    "max_connections=200",
)
TARGET_FILES = 10_000_000


@dataclass(frozen=True)
class Mode:
    name: str
    workers: int  # worker processes (0: embedded)
    concurrency: int = 1  # pool processes per worker


MODES = {
    "embedded": Mode("embedded (SQLite, in-process scan)", 0),
    "1 worker": Mode("1 worker, --concurrency 1", 1, 1),
    "1 worker x2": Mode("1 worker, --concurrency 2", 1, 2),
    "2 workers": Mode("2 workers, --concurrency 1 each", 2, 1),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder, checkpoint or .onnx")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--photos", type=int, default=None, help="at most this many (default all)")
    p.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    p.add_argument("--capacity-s", type=float, default=15.0, help="seconds per pgbench run")
    p.add_argument("--quick", action="store_true", help="300 photos, 3 s pgbench runs")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


# --- CPU seconds from /proc ------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, CPU s of its reaped children) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return int(fields[1]), (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def _role(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().split()
    except OSError:
        return "?"
    if words and words[0].startswith("postgres:"):  # "postgres: 15/main: walwriter"
        role = " ".join(words[1:])
        return "backend" if "127.0.0.1" in role or "idle" in role else role.split(":")[-1].strip()
    return "children"


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds (user + sys) of `root` and its descendants, by role, the reaped ones
    included (in their parent's counts): a difference of two readings is what the tree used."""
    parents: dict[int, int] = {}
    own: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents[int(entry)] = stat[0]
            own[int(entry)] = stat[1] + stat[2]
    out: dict[str, float] = {}
    for pid in own:
        p = pid
        while p not in (root, 0, 1) and p in parents:
            p = parents[p]
        if p == root:
            role = "main (and the children it reaped)" if pid == root else _role(pid)
            out[role] = out.get(role, 0.0) + own[pid]
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, seconds elapsed on its clock)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLK_TCK, time.monotonic()


def diff(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0.0), 3) for k, v in after.items()}


# --- PostgreSQL's statistics --------------------------------------------------------------------


def pg(server: Postgres, dbname: str = "postgres") -> psycopg.Connection:
    dsn = server.dsn.replace("dbname=postgres", f"dbname={dbname}")
    return psycopg.connect(dsn, autocommit=True)


def one(connection: psycopg.Connection, sql: str, params: tuple = ()) -> tuple[Any, ...]:
    """The single row a statistics query returns."""
    row = connection.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row: {sql}")
    return tuple(row)


def kind_of(query: str) -> str:
    """A statement's kind: its first keyword, with the table for writes."""
    words = query.strip().split()
    head = words[0].upper() if words else "?"
    if head in ("INSERT", "DELETE") and len(words) > 2:
        return f"{head} {words[2].strip(chr(34))}"
    if head == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1].strip(chr(34))}"
    if head in ("SELECT", "WITH"):
        table = re.search(r"\bFROM\s+(?:ONLY\s+)?\"?(?:public\"?\.\"?)?(\w+)", query, re.I)
        check = " (foreign-key check)" if "FOR KEY SHARE" in query else ""
        return f"SELECT {table.group(1)}{check}" if table else "SELECT"
    return head


def pg_snapshot(server: Postgres, dbname: str) -> dict[str, Any]:
    with pg(server) as connection:
        row = one(
            connection,
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted,"
            " tup_returned, tup_fetched, blks_read, blks_hit, blk_write_time"
            " FROM pg_stat_database WHERE datname = %s",
            (dbname,),
        )
        names = ["xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted"]
        names += ["tup_returned", "tup_fetched", "blks_read", "blks_hit", "blk_write_time_ms"]
        database = dict(zip(names, (float(v) for v in row), strict=True))
        wal = one(
            connection,
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, wal_records, wal_fpi, wal_write,"
            " wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal",
        )
        names = ["wal_bytes", "wal_records", "wal_fpi", "wal_write", "wal_sync"]
        names += ["wal_write_time_ms", "wal_sync_time_ms"]
        wal_stats = dict(zip(names, (float(v) for v in wal), strict=True))
        (size,) = one(connection, "SELECT pg_database_size(%s)", (dbname,))
    return {"database": database, "wal": wal_stats, "database_bytes": int(size)}


def statements(server: Postgres, dbname: str) -> tuple[dict[str, dict[str, float]], list]:
    """pg_stat_statements of `dbname` since the last reset, summed by statement kind, and
    the 12 most called statements as they are."""
    with pg(server) as connection:
        rows = connection.execute(
            "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
            (dbname,),
        ).fetchall()
    kinds: dict[str, dict[str, float]] = {}
    for query, calls, ms, n in rows:
        entry = kinds.setdefault(kind_of(query), {"calls": 0, "exec_ms": 0.0, "rows": 0})
        entry["calls"] += calls
        entry["exec_ms"] += ms
        entry["rows"] += n
    top = sorted(rows, key=lambda r: -r[1])[:12]
    shown = [{"query": q[:240], "calls": c, "exec_ms": ms, "rows": n} for q, c, ms, n in top]
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]["calls"])), shown


def reset_statements(server: Postgres) -> None:
    with pg(server) as connection:
        connection.execute("SELECT pg_stat_statements_reset()")


def per_file(before: dict[str, Any], after: dict[str, Any], files: int) -> dict[str, Any]:
    database = {k: (v - before["database"][k]) / files for k, v in after["database"].items()}
    wal = {k: (v - before["wal"][k]) / files for k, v in after["wal"].items()}
    grown = after["database_bytes"] - before["database_bytes"]
    return {
        "database_per_file": database,
        "wal_per_file": wal,
        "wal_fsync_ms_each": wal["wal_sync_time_ms"] / max(wal["wal_sync"], 1e-9),
        "files_per_wal_fsync": 1 / max(wal["wal_sync"], 1e-9),
        "database_bytes_empty": before["database_bytes"],  # the migrated, empty database
        "database_bytes": after["database_bytes"],
        "database_kib_per_1000_files": grown / 1024 / files * 1000,
    }


# --- the modes ----------------------------------------------------------------------------------


def fresh_state(root: Path, name: str) -> Path:
    state = root / f"state-{name.replace(' ', '-')}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    return state


def cpu_bound(ours: float, wall: float, photos: int) -> dict[str, float]:
    """Our processes' CPU: how many cores they got, and what 2 cores of their own would give
    if the mode stays CPU-bound (an extrapolation, not a measurement)."""
    return {
        "ours_cpu_s": ours,
        "ours_cores": ours / wall,
        "ours_cpu_s_per_photo": ours / photos,
        "photos_per_s_if_2_cores_were_ours": 2 * photos / ours,
    }


def thumbnail_bytes(state: Path) -> int:
    return sum(p.stat().st_size for p in (state / "thumbs").rglob("*") if p.is_file())


def embedded(storage: Path, run: Path, state: Path, photos: int) -> dict[str, Any]:
    """One `scan` pass in this process, as bench_archive.py makes it (the model loaded first,
    outside the measured time and CPU)."""
    from landrec.archive.commands import open_indexer
    from landrec.archive.scanner import scan
    from landrec.archive.settings import make_settings

    indexer = open_indexer(make_settings(storage, model=run, state_dir=state, stable_s=0.0))
    load = os.getloadavg()
    busy0, t0 = machine_cpu()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    counts = scan(indexer)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1, t1 = machine_cpu()
    indexer.close()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    result = {"wall_s": t1 - t0, "counts": counts, "step_seconds_summed": dict(indexer.seconds)}
    database = state / "archive.sqlite3"
    return {
        "load_average_at_start": list(load),
        "wall_s": result["wall_s"],
        "photos_per_s": photos / result["wall_s"],
        "counts": result["counts"],
        "cpu_s": {"scan process": round(cpu, 3)},
        "cpu_s_per_photo": {"scan process": cpu / photos},
        "machine_busy_s": busy1 - busy0,
        "machine_busy_cores": (busy1 - busy0) / (t1 - t0),
        "others_cpu_s": (busy1 - busy0) - cpu,
        **cpu_bound(cpu, result["wall_s"], photos),
        "step_seconds_summed": result["step_seconds_summed"],
        "database_bytes": database.stat().st_size,
        "thumbnail_bytes": thumbnail_bytes(state),
    }


def landrec(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "landrec.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)


def dispatch(storage: Path, db: str, broker: str, run: Path, state: Path) -> dict[str, Any]:
    """`landrec archive scan --broker --wait`: its wall time, output and CPU (rusage)."""
    command = [
        sys.executable, "-m", "landrec.cli.main", "archive", "scan", "--storage", str(storage),
        "--db", db, "--broker", broker, "--model", str(run), "--state", str(state), "--wait",
        "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    started_wall = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=3600)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"scan failed ({process.returncode}):\n{err.decode()}")
    return {"wall_s": wall, "started": started_wall, "counts": json.loads(out)}


@contextmanager
def workers(
    mode: Mode, db: str, broker: str, args: list[str], logs: Path
) -> Iterator[list[Worker]]:
    options = [*args, "--concurrency", str(mode.concurrency)]
    started = [
        Worker(db, broker, logs / f"worker{i}.log", *options, name=f"w{i}")
        for i in range(mode.workers)
    ]
    try:
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        for worker in started:
            worker.stop()


def final_times(server: Postgres, dbname: str, started: float) -> dict[str, float]:
    """Seconds from the dispatch to the first and the last file processed (the database's
    clock; the same machine)."""
    with pg(server, dbname) as connection:
        first, last = one(
            connection,
            "SELECT extract(epoch FROM min(last_processed)),"
            " extract(epoch FROM max(last_processed)) FROM files",
        )
    return {"first_file_s": float(first) - started, "last_file_s": float(last) - started}


def distributed(
    key: str, storage: Path, run: Path, root: Path, servers: tuple[Postgres, Redis], photos: int
) -> dict[str, Any]:
    postgres, redis = servers
    mode = MODES[key]
    dbname = "bench_" + re.sub(r"\W", "_", key)
    postgres.drop_database(dbname)
    db = postgres.create_database(dbname)
    flush(redis)
    state = fresh_state(root, key)
    landrec("archive", "migrate", "--db", db, "--json")
    logs = root / f"logs-{dbname}"
    logs.mkdir(exist_ok=True)
    options = ["--storage", str(storage), "--state", str(state), "--model", str(run)]
    with workers(mode, db, redis.url, options, logs) as started:
        reset_statements(postgres)
        load = os.getloadavg()
        pg0, pids = pg_snapshot(postgres, dbname), [w.process.pid for w in started]
        cpu0 = {
            "postgres": tree_cpu(postgres.process.pid),
            "redis": tree_cpu(redis.process.pid),
            **{f"worker {i}": tree_cpu(pid) for i, pid in enumerate(pids)},
        }
        busy0, t0 = machine_cpu()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        scan = dispatch(storage, db, redis.url, run, state)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the scan (workers still alive)
        busy1, t1 = machine_cpu()
        cpu1 = {
            "postgres": tree_cpu(postgres.process.pid),
            "redis": tree_cpu(redis.process.pid),
            **{f"worker {i}": tree_cpu(pid) for i, pid in enumerate(pids)},
        }
        pg1 = pg_snapshot(postgres, dbname)
        kinds, top = statements(postgres, dbname)
    by_role = {name: diff(cpu1[name], cpu0[name]) for name in cpu1}
    cpu = {name: sum(roles.values()) for name, roles in by_role.items()}
    cpu["dispatcher (scan --wait)"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    workers_cpu = sum(v for k, v in cpu.items() if k.startswith("worker"))
    wall, ours = scan["wall_s"], sum(cpu.values())
    return {
        "mode": mode.name,
        "load_average_at_start": list(load),
        "wall_s": wall,
        "photos_per_s": photos / wall,
        **final_times(postgres, dbname, scan["started"]),
        "counts": scan["counts"],
        "cpu_s": cpu,
        "cpu_s_by_role": by_role,
        "cpu_s_per_photo": {k: v / photos for k, v in cpu.items()},
        "workers_cpu_s_per_photo": workers_cpu / photos,
        "cpu_share_of_ours": {k: v / ours for k, v in cpu.items()},
        **cpu_bound(ours, wall, photos),
        "machine_busy_s": busy1 - busy0,
        "machine_busy_cores": (busy1 - busy0) / (t1 - t0),
        "others_cpu_s": (busy1 - busy0) - ours,
        "statements": kinds,
        "statements_per_file": {k: v["calls"] / photos for k, v in kinds.items()},
        "statements_most_called": top,
        "statement_calls_per_file": sum(v["calls"] for v in kinds.values()) / photos,
        "statement_exec_ms_per_file": sum(v["exec_ms"] for v in kinds.values()) / photos,
        "postgres": per_file(pg0, pg1, photos),
        "thumbnail_bytes": thumbnail_bytes(state),
    }


def flush(redis: Redis) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", redis.port), 5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        if not sock.recv(16).startswith(b"+OK"):
            raise RuntimeError("redis FLUSHALL failed")


# --- PostgreSQL's capacity on this machine ------------------------------------------------------

INSERT_SCRIPT = "INSERT INTO bench_commits (payload) VALUES (repeat('x', 600));\n"


def pgbench(postgres: Postgres, clients: int, seconds: float, script: Path) -> dict[str, Any]:
    command = [
        str(postgres.bindir / "pgbench"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U",
        "postgres", "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T",
        str(max(1, round(seconds))), "-f", str(script), "capacity",
    ]  # fmt: skip
    before = pg_snapshot(postgres, "capacity")
    cpu0 = sum(tree_cpu(postgres.process.pid).values())
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    cpu = sum(tree_cpu(postgres.process.pid).values()) - cpu0
    after = pg_snapshot(postgres, "capacity")
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps:\n{done.stdout}")
    tps = float(found.group(1))
    commits = after["database"]["xact_commit"] - before["database"]["xact_commit"]
    wal = after["wal"]["wal_bytes"] - before["wal"]["wal_bytes"]
    syncs = after["wal"]["wal_sync"] - before["wal"]["wal_sync"]
    return {
        "clients": clients,
        "commits_per_s": tps,
        "wal_mb_per_s": wal / 1e6 / seconds,
        "commits_per_fsync": commits / max(syncs, 1),
        "postgres_cpu_s_per_commit": cpu / max(commits, 1),
    }


def bulk_wal(postgres: Postgres, rows: int) -> dict[str, Any]:
    """WAL MB/s of one large insert (rows of ~600 bytes, durable commit)."""
    with pg(postgres, "capacity") as connection:
        lsn0 = one(connection, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0]
        started = time.perf_counter()
        connection.execute(
            "INSERT INTO bench_commits (payload) SELECT repeat(md5(g::text), 19)"
            " FROM generate_series(1, %s) g",
            (rows,),
        )
        seconds = time.perf_counter() - started
        lsn1 = one(connection, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0]
    return {"rows": rows, "seconds": seconds, "wal_mb_per_s": float(lsn1 - lsn0) / 1e6 / seconds}


def fdatasync_latency(folder: Path, seconds: float) -> dict[str, float]:
    """8 kB written and fdatasync'ed in a loop in `folder` (the cluster's disk), as a WAL
    flush: what one durable commit waits for at least."""
    path = folder / "fsync-test"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    block, n = os.urandom(8192), 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            n += 1
    finally:
        os.close(fd)
        path.unlink()
    elapsed = time.perf_counter() - started
    return {"fdatasyncs_per_s": n / elapsed, "ms_each": 1000 * elapsed / n}


def capacity(postgres: Postgres, root: Path, seconds: float, rows: int) -> dict[str, Any]:
    postgres.create_database("capacity")
    with pg(postgres, "capacity") as connection:
        connection.execute("CREATE TABLE bench_commits (id bigserial PRIMARY KEY, payload text)")
    script = root / "insert.sql"
    script.write_text(INSERT_SCRIPT)
    out = {
        "load_average_at_start": list(os.getloadavg()),
        "disk_fdatasync_8k": fdatasync_latency(postgres.root, min(seconds, 5.0)),
        "pgbench_one_row_insert": [pgbench(postgres, c, seconds, script) for c in (1, 8)],
        "bulk_insert": bulk_wal(postgres, rows),
    }
    postgres.drop_database("capacity")
    return out


# --- the estimate -------------------------------------------------------------------------------


# From docs/archive.md ("Previews"), not measured here: a 20 s 1280x720 MPEG-2 TS to the 720p
# H.264 proxy at 2.0 s of video per second on a 2-core machine (load average 8-10).
TRANSCODE_VIDEO_S_PER_S = 2.0
REAL_PHOTO_BYTES = 5e6  # an assumption: a 20-24 MP camera JPEG
STORAGE_BYTES_PER_S = 1.25e9  # an assumption: storage read over 10 GbE
VIDEO_SHARE, VIDEO_MEAN_S = 0.01, 60.0  # an assumption for the example: 1% minute-long videos
MACHINES = (1, 4, 16, 32, 64)


def estimate(results: dict[str, Any], photo_bytes: float) -> dict[str, Any]:
    """10 million files on paper, from the measured rates; every step written out."""
    dist = {k: v for k, v in results["modes"].items() if k != "embedded"}
    basis = min(dist, key=lambda k: dist[k]["workers_cpu_s_per_photo"])
    worker_cpu = dist[basis]["workers_cpu_s_per_photo"]
    measured = max(v["photos_per_s"] for v in dist.values())
    node_rate = 2 / worker_cpu  # a 2-core worker machine, CPU-bound, nothing else on it
    one = dist.get("1 worker", dist[basis])
    pg_cost = one["postgres"]
    commits = pg_cost["database_per_file"]["xact_commit"]
    wal = pg_cost["wal_per_file"]["wal_bytes"]
    pg_cpu = one["cpu_s_per_photo"]["postgres"]
    cap = results["postgres_capacity"]
    commit_cap = max(r["commits_per_s"] for r in cap["pgbench_one_row_insert"])
    wal_cap = cap["bulk_insert"]["wal_mb_per_s"]
    limits = {  # files/s that one PostgreSQL like this one (2 cores) takes
        "commits": commit_cap / commits,
        "wal": wal_cap * 1e6 / wal,
        "postgres_cpu_2_cores": 2 / pg_cpu,
    }
    db_limit = min(limits.values())
    db_bound = min(limits, key=lambda k: limits[k])
    hours_one = TARGET_FILES / node_rate / 3600
    storage_limit = STORAGE_BYTES_PER_S / REAL_PHOTO_BYTES
    table = []
    for n in MACHINES:
        rate = min(n * node_rate, db_limit)
        bound = "workers" if n * node_rate < db_limit else f"postgres ({db_bound})"
        table.append(
            {
                "worker_machines": n,
                "files_per_s": rate,
                "hours": TARGET_FILES / rate / 3600,
                "bound": bound,
                "commits_per_s": rate * commits,
                "wal_mb_per_s": rate * wal / 1e6,
                "storage_read_mb_per_s_at_5mb": rate * REAL_PHOTO_BYTES / 1e6,
            }
        )
    video_s = TARGET_FILES * VIDEO_SHARE * VIDEO_MEAN_S
    transcode_h = video_s / TRANSCODE_VIDEO_S_PER_S / 3600
    lines = [
        f"worker CPU per photo (user+sys, lowest of the distributed modes: {basis}):"
        f" {worker_cpu * 1000:.1f} ms -> a 2-core worker machine, CPU-bound:"
        f" 2 / {worker_cpu:.4f} s = {node_rate:.0f} photos/s"
        f" (measured on this shared machine, PostgreSQL, Redis and the dispatcher beside the"
        f" workers: {measured:.1f} photos/s at best)",
        f"10M / {node_rate:.0f} photos/s / 3600 = {hours_one:.1f} h on one such machine;"
        f" N machines: {hours_one:.1f} / N h while the database keeps up",
        f"PostgreSQL per file (1 worker run): {commits:.3f} commits (xact_commit),"
        f" {wal:.0f} B of WAL, {pg_cpu * 1000:.2f} ms of its CPU",
        f"this PostgreSQL on this machine's 2 cores: {commit_cap:.0f} commits/s (pgbench,"
        f" one-row inserts, 8 clients) / {commits:.3f} = {limits['commits']:.0f} files/s;"
        f" {wal_cap:.0f} MB/s of WAL (bulk insert) / {wal:.0f} B = {limits['wal']:.0f} files/s;"
        f" its CPU: 2 cores / {pg_cpu * 1000:.2f} ms = {limits['postgres_cpu_2_cores']:.0f}"
        f" files/s",
        f"the database is the bottleneck ({db_bound}) from {db_limit:.0f} files/s ="
        f" {db_limit:.0f} / {node_rate:.0f} = {db_limit / node_rate:.1f} worker machines;"
        f" 10M files at that rate: 10M / {db_limit:.0f} / 3600 ="
        f" {TARGET_FILES / db_limit / 3600:.2f} h",
        f"storage reads: {photo_bytes / 1e3:.1f} kB per photo here (small photos) ->"
        f" {node_rate * photo_bytes / 1e6:.2f} MB/s per worker machine; at"
        f" {REAL_PHOTO_BYTES / 1e6:.0f} MB per real photo (assumed) a"
        f" {STORAGE_BYTES_PER_S / 1e9:.2f} GB/s storage (assumed, 10 GbE) feeds"
        f" {storage_limit:.0f} photos/s = {storage_limit / node_rate:.1f} worker machines"
        " (and decoding a 20 MP JPEG costs more CPU than these 150 px ones: not measured here)",
        f"videos (transcode speed from docs/archive.md, not measured here:"
        f" {TRANSCODE_VIDEO_S_PER_S} s of video/s on 2 cores): if {VIDEO_SHARE:.0%} of 10M"
        f" files were {VIDEO_MEAN_S:.0f} s videos needing a proxy:"
        f" {video_s:.0f} s / {TRANSCODE_VIDEO_S_PER_S} / 3600 = {transcode_h:.0f}"
        f" machine-hours, against {hours_one:.0f} for all the photos' indexing",
    ]
    return {
        "basis_mode": basis,
        "worker_cpu_s_per_photo": worker_cpu,
        "worker_machine_photos_per_s": node_rate,
        "measured_best_photos_per_s": measured,
        "hours_one_worker_machine": hours_one,
        "postgres_commits_per_file": commits,
        "postgres_wal_bytes_per_file": wal,
        "postgres_cpu_s_per_file": pg_cpu,
        "postgres_limits_files_per_s": limits,
        "database_bound_from_worker_machines": db_limit / node_rate,
        "hours_at_database_limit": TARGET_FILES / db_limit / 3600,
        "by_worker_machines": table,
        "storage_limit_photos_per_s_assumed": storage_limit,
        "video_transcode_machine_hours_example": transcode_h,
        "assumptions": {
            "real_photo_bytes": REAL_PHOTO_BYTES,
            "storage_bytes_per_s": STORAGE_BYTES_PER_S,
            "video_share": VIDEO_SHARE,
            "video_mean_s": VIDEO_MEAN_S,
            "transcode_video_s_per_s (docs/archive.md)": TRANSCODE_VIDEO_S_PER_S,
        },
        "arithmetic": lines,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    limit = 300 if args.quick and args.photos is None else args.photos
    seconds = 3.0 if args.quick else args.capacity_s
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        root = Path(tmp)
        storage = root / "storage"
        storage.mkdir()
        photos, copy_s = copy_photos(args.data, storage, limit)
        results: dict[str, Any] = {"photos": photos, "copy_s": copy_s, "modes": {}}
        settle(storage)
        photo_bytes = sum(p.stat().st_size for p in storage.rglob("*") if p.is_file()) / photos
        common.read_all(storage)
        results["photo_bytes_mean"] = photo_bytes
        if "embedded" in args.modes:
            state = fresh_state(root, "embedded")
            results["modes"]["embedded"] = embedded(storage, args.run, state, photos)
        postgres = Postgres(settings=(), extra=PG_EXTRA).start()
        redis = Redis().start()
        try:
            with pg(postgres) as connection:
                connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            for key in args.modes:
                if key != "embedded":
                    results["modes"][key] = distributed(
                        key, storage, args.run, root, (postgres, redis), photos
                    )
            rows = 20_000 if args.quick else 200_000
            results["postgres_capacity"] = capacity(postgres, root, seconds, rows)
        finally:
            redis.close()
            postgres.close()
    if len(results["modes"]) > 1:
        results["estimate_10M"] = estimate(results, photo_bytes)
    notes = [
        "every mode: an empty database and an empty state folder; the same copied storage",
        "PostgreSQL durable (fsync, synchronous_commit, full_page_writes on): a cost measurement",
        "distributed wall: from `archive scan --broker --wait` started to its exit (it polls"
        " every 1 s); last_file_s: the last file's last_processed, on the same clock",
        "each worker process loads the model at its first task: inside the measured time"
        " (embedded: loaded before the measured scan)",
        "ours_cores: our processes' CPU seconds / wall; photos_per_s_if_2_cores_were_ours:"
        " 2 / our CPU per photo, an extrapolation for a CPU-bound mode, not a measurement",
        "CPU seconds: user + sys from /proc, each process tree (reaped children included);"
        " others_cpu_s: the machine's busy time minus ours (other jobs on the shared cores)",
        "videos: none here; for their transcode speed see docs/archive.md (Previews)",
    ]
    settings = {
        "run": str(args.run),
        "data": str(args.data),
        "quick": args.quick,
        "modes": args.modes,
        "capacity_s": seconds,
        "postgres_settings": list(PG_EXTRA),
    }
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
