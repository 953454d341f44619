"""A large archive for bench_gui.py, built fast and served as it is in use: a few template
files (real photos, a generated H.264 video, a truncated JPEG, a text file) indexed by the
archive's own indexer (metadata, WebP thumbnails, renditions), then their rows copied to
`rows` rows in bulk (SQLAlchemy core inserts into a database the migrations made), each row a
hard link in the storage to its template, so the service's rescan finds every file in place
(same size and mtime: nothing becomes pending or missing).
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from PIL import Image

from common import REPO, sample_files

sys.path.insert(0, str(REPO / "tests/archive/gui"))
from helpers import write_video

CLASSES = ["coast", "desert", "forest", "glacier", "mountain"]
CLASS_WEIGHTS = [0.26, 0.06, 0.22, 0.22, 0.24]
CAMERAS = [("Canon", "EOS R6"), ("Nikon", "D850"), ("Sony", "ILCE-7M4"), ("Fujifilm", "X-T5")]
DRONE = ("DJI", "FC3411")
PLACES = [(46.5, 8.0), (61.2, 6.9), (64.1, -16.2), (36.1, -112.1), (-41.3, 173.2),
          (27.1, 33.8), (-33.9, 18.4), (47.6, 12.8), (49.7, -125.9), (25.0, 55.2)]  # fmt: skip
SHARE = {"video": 0.08, "gps": 0.30, "corrected": 0.03, "failed": 0.003, "unsupported": 0.002}
BATCH = 5000  # rows per executemany
FIRST_DAY, DAYS = datetime(2019, 1, 1, tzinfo=timezone.utc), 7 * 365  # taken 2019-2025
FILE_KEYS = ("id", "path", "status", "context", "model_context", "corrected")


@dataclass(frozen=True)
class Built:
    """A built archive: where it is, what is in it, how long each step took."""

    storage: Path
    db_url: str
    rows: int
    counts: dict[str, int]  # rows by status, plus "video", "gps", "corrected"
    seconds: dict[str, float]


def write_templates(folder: Path, data: Path) -> dict[str, Path]:
    """The template files: a real photo per class (a generated one without `data`), a video
    of three of them, a truncated JPEG (fails), a text file (unsupported)."""
    folder.mkdir(parents=True, exist_ok=True)
    photos: dict[str, Path] = {}
    real = sample_files(data / "test", len(CLASSES), seed=3) if (data / "test").is_dir() else []
    for i, name in enumerate(CLASSES):
        target = folder / f"{name}.jpg"
        if real:
            Image.open(real[i]).convert("RGB").save(target, "JPEG", quality=90)
        else:
            Image.new("RGB", (150, 150), (40 * i, 120, 200 - 30 * i)).save(target, "JPEG")
        photos[name] = target
    shots = [Image.open(photos[name]) for name in ("coast", "forest", "glacier")]
    photos["flight"] = write_video(folder / "flight.mp4", shots, 2.0, 10, (320, 240))
    photos["failed"] = folder / "failed.jpg"
    photos["failed"].write_bytes(photos["coast"].read_bytes()[:300])
    photos["unsupported"] = folder / "unsupported.txt"
    photos["unsupported"].write_text("field notes\n")
    return photos


def index_templates(
    folder: Path, state_dir: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, dict]]:
    """Index the templates with the archive's own scan (no model: no context) into a
    throw-away database, thumbnails into `state_dir`; their file and rendition rows by name."""
    from sqlalchemy import select

    from landrec.archive.commands import scan
    from landrec.archive.db.models import File, Rendition
    from landrec.archive.db.session import open_archive
    from landrec.archive.settings import make_settings

    url = f"sqlite:///{folder.parent / 'templates.sqlite3'}"
    settings = make_settings(folder, url, None, state_dir=state_dir, max_attempts=1)
    scan(settings)
    with open_archive(url)() as session:
        files = {f.path: f for f in session.scalars(select(File))}
        renditions = {r.file_id: r for r in session.scalars(select(Rendition))}
    columns = [c.key for c in File.__table__.columns]
    rows = {Path(p).stem: {c: getattr(f, c) for c in columns} for p, f in files.items()}
    kept = {}
    for name, row in rows.items():
        r = renditions.get(row["id"])
        if r is not None:
            kept[name] = {c.key: getattr(r, c.key) for c in Rendition.__table__.columns}
    return rows, kept


def template_of(rng: random.Random) -> str:
    """Which template a new row copies: mostly photos, some videos, a few failures."""
    draw = rng.random()
    if draw < SHARE["failed"]:
        return "failed"
    if draw < SHARE["failed"] + SHARE["unsupported"]:
        return "unsupported"
    if draw < SHARE["failed"] + SHARE["unsupported"] + SHARE["video"]:
        return "flight"
    return rng.choices(CLASSES, CLASS_WEIGHTS)[0]


def top_k(rng: random.Random, label: str, confidence: float) -> list[dict[str, Any]]:
    others = rng.sample([c for c in CLASSES if c != label], 2)
    second = (1 - confidence) * rng.uniform(0.5, 0.9)
    return [
        {"label": label, "probability": round(confidence, 4)},
        {"label": others[0], "probability": round(second, 4)},
        {"label": others[1], "probability": round(max(0.0, 1 - confidence - second), 4)},
    ]


def make_row(i: int, rng: random.Random, templates: dict[str, dict]) -> dict[str, Any]:
    """Row `i` (its id): a template's file columns, its own path, time, place, camera, tag."""
    name = template_of(rng)
    row = dict(templates[name])
    taken = FIRST_DAY + timedelta(days=rng.uniform(0, DAYS))
    site = rng.randrange(40)
    suffix = Path(templates[name]["path"]).suffix
    row["id"] = i
    row["path"] = f"site{site:02d}/{taken:%Y/%m}/{name}_{i:06d}{suffix}"
    if row["status"] != "indexed":
        return row
    video = row["kind"] == "video"
    row["camera_make"], row["camera_model"] = DRONE if video else rng.choice(CAMERAS)
    row["taken_at"] = taken
    row["campaign"] = "air" if video else rng.choice(["land", "land", "land", "sea"])
    if rng.random() < SHARE["gps"]:
        lat, lon = rng.choice(PLACES)
        row["latitude"], row["longitude"] = lat + rng.gauss(0, 1.5), lon + rng.gauss(0, 1.5)
    label = name if name in CLASSES else rng.choices(CLASSES, CLASS_WEIGHTS)[0]
    confidence = min(0.99, 0.3 + 0.7 * rng.random() ** 0.6)
    row["model_context"] = row["context"] = label
    row["confidence"], row["top_k"] = confidence, top_k(rng, label, confidence)
    row["model_version"] = "bench"
    if rng.random() < SHARE["corrected"]:
        row["context"] = rng.choice([c for c in CLASSES if c != label])
        row["corrected"] = True
    return row


def link_files(storage: Path, templates: dict[str, Path], rows: list[dict[str, Any]]) -> None:
    """Each row's file: a hard link to its template (same bytes, size and mtime)."""
    folders: set[Path] = set()
    for row in rows:
        target = storage / row["path"]
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        os.link(templates[Path(row["path"]).stem.rsplit("_", 1)[0]], target)


def insert_rows(url: str, rows: list[dict], renditions: dict[str, dict], storage: Path) -> None:
    """The rows, their renditions and their corrections, in bulk, into a migrated database."""
    from sqlalchemy import insert

    from landrec.archive.commands import STORAGE_KEY
    from landrec.archive.db import writes
    from landrec.archive.db.models import Correction, File, Rendition
    from landrec.archive.db.session import open_database

    sessions = open_database(url)  # the archive's migrations make the schema
    with sessions() as session:
        writes.set_info(session, STORAGE_KEY, str(storage.resolve()))
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            session.execute(insert(File), chunk)
            made = []
            for row in chunk:
                template = renditions.get(Path(row["path"]).stem.rsplit("_", 1)[0])
                if template is not None:
                    made.append({**template, "id": row["id"], "file_id": row["id"]})
            if made:
                session.execute(insert(Rendition), made)
            fixed = [
                {
                    "file_id": row["id"],
                    "sha256": row["sha256"],
                    "context": row["context"],
                    "model_context": row["model_context"],
                    "created_at": row["last_processed"],
                }
                for row in chunk
                if row["corrected"]
            ]
            if fixed:
                session.execute(insert(Correction), fixed)
        session.commit()


def build(root: Path, rows: int, data: Path, seed: int = 0) -> Built:
    """`rows` rows in `root/archive.sqlite3` over `root/storage` (state beside it)."""
    from landrec.archive.settings import default_state_dir

    storage = root / "storage"
    storage.mkdir(parents=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    files = write_templates(root / "templates", data)
    templates, renditions = index_templates(root / "templates", default_state_dir(storage))
    seconds["templates"] = time.perf_counter() - started
    rng = random.Random(seed)
    made = [make_row(i, rng, templates) for i in range(1, rows + 1)]
    started = time.perf_counter()
    link_files(storage, files, made)
    seconds["links"] = time.perf_counter() - started
    started = time.perf_counter()
    url = f"sqlite:///{root / 'archive.sqlite3'}"
    insert_rows(url, made, renditions, storage)
    seconds["database"] = time.perf_counter() - started
    counts: dict[str, int] = {}
    for row in made:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    counts["video"] = sum(r["kind"] == "video" for r in made)
    counts["gps"] = sum(r["latitude"] is not None for r in made)
    counts["corrected"] = sum(bool(r["corrected"]) for r in made)
    return Built(storage, url, rows, counts, seconds)
