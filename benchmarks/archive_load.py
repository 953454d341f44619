"""Helpers of bench_archive.py: generated videos, a synthetic 100k-row database, and
concurrent API clients against the real service (uvicorn in a subprocess).

  python benchmarks/archive_load.py serve --storage DIR --db URL --port P   # the API alone
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

CONTEXTS = ["coast", "desert", "forest", "glacier", "mountain", "unknown"]


def write_videos(folder: Path, count: int, seconds: int = 20, fps: int = 25) -> float:
    """`count` mpeg4 640x360 videos of drifting colours; returns their total seconds."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for v in range(count):
        with av.open(str(folder / f"clip{v}.mp4"), "w") as container:
            stream = container.add_stream("mpeg4", rate=fps)
            stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
            base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
            for i in range(seconds * fps):
                frame = np.roll(base, i * 4, axis=1)
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return float(count * seconds)


def synthetic_database(url: str, rows: int) -> None:
    """`rows` indexed-looking rows (random context, confidence, size, date, position)."""
    from sqlalchemy import insert

    from landrec.archive.db.models import File
    from landrec.archive.db.session import open_database

    sessions = open_database(url)
    rng = random.Random(0)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    batch = []
    with sessions() as session:
        for i in range(rows):
            context = rng.choice(CONTEXTS)
            batch.append(
                {
                    "path": f"campaign{i % 50}/sensor{i % 7}/img{i:07d}.jpg",
                    "size": rng.randint(50_000, 5_000_000),
                    "mtime": 1.7e9 + i,
                    "sha256": f"{i:064x}",
                    "kind": "image",
                    "format": "JPEG image",
                    "status": "indexed",
                    "attempts": 0,
                    "first_seen": now,
                    "last_processed": now,
                    "width": 1920,
                    "height": 1080,
                    "camera_model": f"cam{i % 13}",
                    "taken_at": start + timedelta(minutes=i * 7),
                    "latitude": rng.uniform(-60, 70),
                    "longitude": rng.uniform(-180, 180),
                    "context": context,
                    "model_context": context,
                    "confidence": rng.uniform(0.3, 1.0),
                    "corrected": False,
                }
            )
            if len(batch) == 5000:
                session.execute(insert(File), batch)
                batch = []
        if batch:
            session.execute(insert(File), batch)
        session.commit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(port: int, requests: int, seed: int, out: list[float], errors: list[str]) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(requests):
        query = f"/api/files?context={rng.choice(CONTEXTS)}&page={rng.randint(1, 20)}&page_size=50"
        started = time.perf_counter()
        conn.request("GET", query)
        response = conn.getresponse()
        body = response.read()
        out.append(time.perf_counter() - started)
        if response.status != 200 or not json.loads(body)["items"]:
            errors.append(f"{query}: {response.status}")
    conn.close()


@contextmanager
def synthetic_service(root: Path, rows: int) -> Iterator[tuple[int, float]]:
    """`rows` synthetic rows in a SQLite file under `root`, served by the real app in a
    subprocess until the block ends: (its port, seconds the database took to build)."""
    (root / "storage").mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'api.sqlite3'}"
    started = time.perf_counter()
    synthetic_database(url, rows)
    build_s = time.perf_counter() - started
    port = free_port()
    command = [sys.executable, __file__, "serve", "--storage", str(root / "storage")]
    server = subprocess.Popen([*command, "--db", url, "--port", str(port)])
    try:
        _wait_until_up(port)
        yield port, build_s
    finally:
        server.terminate()
        server.wait(30)


def api_latency(root: Path, rows: int, clients: int, requests: int) -> dict[str, Any]:
    with synthetic_service(root, rows) as (port, build_s):
        results = {"python_clients": python_clients(port, clients, requests)}
        if shutil.which("wrk"):
            results["wrk"] = wrk(port, clients, seconds=15)
    return {"rows": rows, "synthetic": True, "build_s": build_s, "clients": clients, **results}


def python_clients(port: int, clients: int, requests: int) -> dict[str, Any]:
    """`clients` threads of this process, each a keep-alive connection (the clients' own
    CPU shares the machine with the server: an upper bound)."""
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=client, args=(port, requests, i, latencies, errors))
        for i in range(clients)
    ]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "n_errors": len(errors),
        "errors": errors[:5],
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "requests_per_s": len(latencies) / wall,
    }


WRK_SCRIPT = """
local contexts = {"coast", "desert", "forest", "glacier", "mountain", "unknown"}
math.randomseed(1)
request = function()
  local page = math.random(20)
  local path = "/api/files?context=" .. contexts[math.random(#contexts)] .. "&page=" .. page
  return wrk.format("GET", path .. "&page_size=50")
end
"""


def wrk(port: int, clients: int, seconds: int) -> dict[str, Any]:
    """wrk (one thread, `clients` connections): latency percentiles from its --latency."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", script.name]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    Path(script.name).unlink()

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out.stdout).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))
    return {
        "p50_ms": ms("50"),
        "p90_ms": ms("90"),
        "p99_ms": ms("99"),
        "requests_per_s": rate,
        "non_2xx": "Non-2xx" in out.stdout,
        "command": " ".join(command),
    }


def _wait_until_up(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the API did not start")


def serve(argv: list[str]) -> None:
    import uvicorn

    from landrec.archive.db.session import open_database
    from landrec.archive.settings import make_settings
    from landrec.archive.web.app import create_app

    p = argparse.ArgumentParser()
    p.add_argument("--storage", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    settings = make_settings(args.storage, args.db)
    app = create_app(settings, open_database(args.db))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
