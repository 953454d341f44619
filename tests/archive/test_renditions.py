"""Browser-ready renditions: video proxies (time-aligned, faststart, <= 720p, constant rate),
display-size stills (EXIF orientation applied), the original when it is fine, the queue's
states through GET /api/files/{id}/preview, and the claim two workers cannot share."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive import commands
from landrec.archive.commands import open_indexer, scan
from landrec.archive.db import writes
from landrec.archive.db.models import File, Rendition, RenditionStatus, Status
from landrec.archive.renditions.video import proxy_size
from landrec.archive.settings import LOCAL_HOSTS, ArchiveSettings, make_settings
from landrec.archive.web import create_app
from landrec.cli.main import main

COLOURS = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 230, 30), (200, 30, 200)]
TS_START_S = 10  # the source's first PTS: well above 0, as a muxer's ~1.4 s
AUDIO_RATE = 48_000


def write_ts(path: Path, seconds: int, fps: int, size: tuple[int, int], audio: bool) -> Path:
    """An MPEG-2 transport stream whose picture changes colour every second (COLOURS), its
    first PTS at TS_START_S, with a 440 Hz AAC tone."""
    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("mpeg2video", rate=fps)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        sound = out.add_stream("aac", rate=AUDIO_RATE) if audio else None
        if sound is not None:
            sound.layout = "stereo"
        for i in range(seconds * fps):
            pixels = np.empty((size[1], size[0], 3), np.uint8)
            pixels[:] = COLOURS[(i // fps) % len(COLOURS)]
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i + TS_START_S * fps
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            for n in range(0, seconds * AUDIO_RATE, 1024):
                t = (np.arange(1024) + n) / AUDIO_RATE
                tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(
                    np.stack([tone, tone]), format="fltp", layout="stereo"
                )
                chunk.sample_rate, chunk.pts = AUDIO_RATE, n + TS_START_S * AUDIO_RATE
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    return path


def write_mp4(path: Path, seconds: int = 2, fps: int = 10) -> Path:
    """A browser-ready H.264 (yuv420p) / AAC MP4."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=AUDIO_RATE)
        for i in range(seconds * fps):
            pixels = np.full((48, 64, 3), 20 * i % 255, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(video.encode())
        for n in range(0, seconds * AUDIO_RATE, 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = AUDIO_RATE, n
            out.mux(sound.encode(chunk))
        out.mux(sound.encode())
    return path


def write_rotated_jpeg(path: Path) -> Path:
    """4000x3000 stored pixels, a red top-left quarter, EXIF orientation 6 (turn 90° clockwise)."""
    pixels = np.full((3000, 4000, 3), (40, 40, 200), np.uint8)
    pixels[:1500, :2000] = (220, 30, 30)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, "JPEG", quality=85, exif=exif.tobytes())
    return path


@pytest.fixture
def settings(tmp_path: Path) -> ArchiveSettings:
    (tmp_path / "storage").mkdir()
    return make_settings(
        tmp_path / "storage",
        state_dir=tmp_path / "state",
        allowed_hosts=(*LOCAL_HOSTS, "testserver"),
    )


@pytest.fixture
def client(settings: ArchiveSettings) -> Iterator[TestClient]:
    indexer = open_indexer(settings)
    indexer.close()
    with TestClient(create_app(settings, indexer.sessions)) as test_client:
        yield test_client


def row_of(settings: ArchiveSettings, path: str) -> tuple[File, Rendition | None]:
    indexer = open_indexer(settings)
    indexer.close()
    with indexer.sessions() as session:
        row = session.scalars(select(File).where(File.path == path)).one()
        made = session.scalars(select(Rendition).where(Rendition.file_id == row.id)).first()
        session.expunge_all()
    return row, made


def frame_at(path: Path, seconds: float, origin: bool) -> tuple[np.ndarray, float]:
    """The picture shown at `seconds` (from the video stream's start when `origin`, else
    from 0), its centre pixel and the stream's start."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.start_time is not None and stream.time_base is not None
        start = float(stream.start_time * stream.time_base) if origin else 0.0
        shown = None
        for frame in container.decode(stream):
            if frame.time > start + seconds + 1e-6:
                break
            shown = frame
        assert shown is not None
        pixels = shown.to_ndarray(format="rgb24")
    return pixels[pixels.shape[0] // 2, pixels.shape[1] // 2].astype(int), start


def test_a_transport_stream_gets_a_time_aligned_faststart_720p_proxy(
    settings: ArchiveSettings, client: TestClient
) -> None:
    fps, seconds = 10, 4
    source = write_ts(settings.storage / "flight.ts", seconds, fps, (1600, 900), audio=True)
    counts = scan(settings)
    assert counts["indexed"] == 1 and counts["previews"] == {"ready": 1}
    row, made = row_of(settings, "flight.ts")
    assert made is not None and made.status == "ready" and made.progress == 1.0
    proxy = settings.previews_dir / str(made.name)
    sha = str(row.sha256)
    assert made.name == f"{sha[:2]}/{sha}.mp4" and made.bytes == proxy.stat().st_size
    data = proxy.read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")  # the index first: +faststart
    with av.open(str(proxy)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.width, video.height) == (1280, 720)
        times = [float(p.pts * p.time_base) for p in container.demux(video) if p.pts is not None]
    times.sort()
    steps = np.diff(times)
    assert np.allclose(steps, 1 / fps, atol=1e-3)  # a constant frame rate
    assert times[0] == 0.0
    assert abs(len(times) / fps - seconds) <= 1 / fps  # the original's duration, within a frame
    original, start = frame_at(source, 2.5, origin=True)
    assert start == pytest.approx(TS_START_S, abs=0.05)
    shown, _ = frame_at(proxy, 2.5, origin=False)
    assert np.abs(shown - original).max() <= 12  # the same colour: blue, not green or yellow
    assert np.abs(original - np.array(COLOURS[2])).max() <= 12

    answer = client.get(f"/api/files/{row.id}/preview")
    assert answer.status_code == 200 and answer.content == data
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["accept-ranges"] == "bytes" and answer.headers["etag"]
    part = client.get(f"/api/files/{row.id}/preview", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    detail = client.get(f"/api/files/{row.id}").json()
    assert (detail["preview_status"], detail["preview_error"]) == ("ready", None)
    listed = client.get("/api/files").json()["items"]
    assert [i["preview_status"] for i in listed] == ["ready"]


def test_a_browser_ready_mp4_is_its_own_preview(
    settings: ArchiveSettings, client: TestClient
) -> None:
    source = write_mp4(settings.storage / "clip.mp4")
    assert scan(settings)["previews"] == {"original": 1}
    row, made = row_of(settings, "clip.mp4")
    assert made is not None and made.status == "original" and made.name is None
    assert not settings.previews_dir.exists() or not any(settings.previews_dir.rglob("*.mp4"))
    answer = client.get(f"/api/files/{row.id}/preview")
    assert answer.status_code == 200 and answer.content == source.read_bytes()
    assert answer.headers["content-type"] == "video/mp4"


def test_a_rotated_photo_gets_an_upright_display_size_webp(
    settings: ArchiveSettings, client: TestClient
) -> None:
    write_rotated_jpeg(settings.storage / "big.jpg")
    assert scan(settings)["previews"] == {"ready": 1}
    row, made = row_of(settings, "big.jpg")
    answer = client.get(f"/api/files/{row.id}/preview")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/webp"
    picture = Image.open(settings.previews_dir / str(made.name) if made else "")
    assert picture.format == "WEBP" and picture.size == (1200, 1600)
    pixels = np.asarray(picture.convert("RGB")).astype(int)
    assert np.abs(pixels[100, 1100] - (220, 30, 30)).max() <= 20  # red: now the top right
    assert np.abs(pixels[100, 100] - (40, 40, 200)).max() <= 20


def test_a_preview_removed_from_its_folder_is_made_again(
    settings: ArchiveSettings, client: TestClient
) -> None:
    write_rotated_jpeg(settings.storage / "big.jpg")
    assert scan(settings)["previews"] == {"ready": 1}
    row, made = row_of(settings, "big.jpg")
    assert made is not None and made.name
    (settings.previews_dir / made.name).unlink()  # a cleanup, a lost disk
    answer = client.get(f"/api/files/{row.id}/preview")
    assert answer.status_code == 202 and row_of(settings, "big.jpg")[1].status == "pending"  # type: ignore[union-attr]
    assert commands.previews(settings)["made"] == {"ready": 1}
    assert client.get(f"/api/files/{row.id}/preview").headers["content-type"] == "image/webp"


def test_a_small_browser_image_needs_no_rendition(settings: ArchiveSettings) -> None:
    Image.new("RGB", (800, 600), (10, 120, 60)).save(settings.storage / "small.png")
    assert scan(settings)["previews"] == {"original": 1}


def test_pending_is_202_with_retry_after_and_scan_can_skip_previews(
    settings: ArchiveSettings, client: TestClient
) -> None:
    write_ts(settings.storage / "wait.ts", 1, 5, (64, 48), audio=False)
    assert "previews" not in scan(settings, previews=False)
    row, _ = row_of(settings, "wait.ts")
    answer = client.get(f"/api/files/{row.id}/preview")
    assert answer.status_code == 202 and answer.headers["retry-after"] == "2"
    assert answer.json() == {"status": "pending", "progress": 0.0}
    assert client.get("/api/files").json()["items"][0]["preview_status"] == "pending"


def test_an_undecodable_video_is_422_with_the_reason(
    settings: ArchiveSettings, client: TestClient
) -> None:
    path = write_ts(settings.storage / "bad.ts", 1, 5, (64, 48), audio=False)
    scan(settings, previews=False)
    stat = path.stat()  # the bytes go bad, the stat stays: the index does not notice
    path.write_bytes(b"\x00" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert commands.previews(settings)["made"] == {"failed": 1}
    row, made = row_of(settings, "bad.ts")
    assert made is not None and made.attempts == 1 and "not a decodable video" in str(made.error)
    answer = client.get(f"/api/files/{row.id}/preview")
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("no preview: not a decodable video")
    assert client.get(f"/api/files/{row.id}").json()["preview_error"] == made.error
    assert not list(settings.previews_dir.rglob(".*"))  # no temporary file left


def test_new_content_makes_the_preview_pending_again_and_same_content_keeps_it(
    settings: ArchiveSettings,
) -> None:
    path = settings.storage / "a.png"
    Image.new("RGB", (2000, 1000), (200, 0, 0)).save(path)
    scan(settings)
    first = row_of(settings, "a.png")[1]
    assert first is not None and first.status == "ready"
    os.utime(path, (1, 1))  # touched, same bytes: re-read, the hash matches
    scan(settings, previews=False)
    assert row_of(settings, "a.png")[1].status == "ready"  # type: ignore[union-attr]
    Image.new("RGB", (2000, 1000), (0, 0, 200)).save(path)
    scan(settings, previews=False)
    row, again = row_of(settings, "a.png")
    assert again is not None and again.id == first.id
    assert (again.status, again.sha256, again.name) == ("pending", row.sha256, None)
    assert again.sha256 != first.sha256
    assert commands.previews(settings)["made"] == {"ready": 1}
    assert row_of(settings, "a.png")[1].status == "ready"  # type: ignore[union-attr]


def test_the_previews_command_builds_what_is_pending_and_retries_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    Image.new("RGB", (2000, 1000), (200, 0, 0)).save(storage / "a.png")
    settings = make_settings(storage)  # the default state folder, as the command finds it
    scan(settings, previews=False)
    command = ["archive", "previews", "--storage", str(storage), "--json"]
    assert main(command) == 0
    assert json.loads(capsys.readouterr().out) == {"made": {"ready": 1}, "queue": {"ready": 1}}
    assert main([*command, "--retry-failed"]) == 0
    assert json.loads(capsys.readouterr().out) == {"made": {}, "queue": {"ready": 1}}


def test_the_scan_makes_previews_after_every_file_is_tagged(
    settings: ArchiveSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        Image.new("RGB", (1800, 900), (60 * i, 0, 0)).save(settings.storage / f"{i}.png")
    seen: list[set[str]] = []
    build = commands.build_pending

    def after_indexing(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> dict:
        with sessions() as session:
            seen.append(set(session.scalars(select(File.status))))
        return build(settings, sessions)

    monkeypatch.setattr(commands, "build_pending", after_indexing)
    assert scan(settings)["previews"] == {"ready": 3}
    assert seen == [{Status.INDEXED.value}]


def test_two_workers_never_take_the_same_row(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(timezone.utc)
    with sessions() as session:
        for i in range(40):
            session.add(
                File(path=f"{i}.jpg", size=1, mtime=0.0, first_seen=now, kind="image",
                     status="indexed", sha256=f"{i:064x}")
            )  # fmt: skip
        session.commit()
        assert writes.queue_renditions(session) == 40
        assert writes.queue_renditions(session) == 0  # queued once
    taken: list[list[int]] = [[], []]
    gate = threading.Barrier(2)

    def work(mine: list[int]) -> None:
        gate.wait()
        while True:
            with sessions() as session:
                job = writes.claim_rendition(session, now.replace(year=2000))
            if job is None:
                return
            mine.append(job.id)

    threads = [threading.Thread(target=work, args=(t,)) for t in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1]) == list(range(1, 41))
    with sessions() as session:
        rows = list(session.scalars(select(Rendition)))
    assert {(r.status, r.attempts) for r in rows} == {(RenditionStatus.RUNNING.value, 1)}


def test_failures_are_retried_up_to_max_attempts(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(timezone.utc)
    with sessions() as session:
        session.add(File(path="x.jpg", size=1, mtime=0.0, first_seen=now, kind="image",
                         status="indexed", sha256="a" * 64))  # fmt: skip
        session.commit()
        writes.queue_renditions(session)
        outcomes = []
        for _ in range(3):
            job = writes.claim_rendition(session, now.replace(year=2000))
            assert job is not None
            outcomes.append(writes.fail_rendition(session, job.id, "disk full", 3, final=False))
        assert writes.claim_rendition(session, now.replace(year=2000)) is None
        assert outcomes[-1] is RenditionStatus.FAILED
        assert outcomes[:2] == [RenditionStatus.PENDING] * 2
        assert writes.retry_failed_renditions(session) == 1


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1920, 1080), (1280, 720)), ((1080, 1920), (720, 1280)), ((640, 360), (640, 360)),
     ((1281, 721), (1278, 720)), ((2000, 2000), (720, 720))],
)  # fmt: skip
def test_proxy_size_keeps_the_aspect_never_upscales_and_is_even(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert proxy_size(*size) == expected
