"""The read-only queries on a small, known library, on SQLite and PostgreSQL: every filter,
every sort (empty values last, ties by id), paging, one file, stats, failures, corrections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.models import Correction, File, Kind, Segment, Status
from landrec.archive.db.queries import (
    SORTS,
    FileFilter,
    corrections,
    failures,
    get_by_path,
    get_file,
    months,
    search,
    stats,
)
from landrec.archive.domain import StoragePath

T0 = datetime(2021, 6, 1, 12, 0, tzinfo=timezone.utc)
UTC = timezone.utc
# path, then the columns that differ from a pending, untagged 1 kB file; ids follow this order.
LIBRARY: list[tuple[str, dict[str, Any]]] = [
    ("2019/Forest_01.jpg", dict(status="indexed", kind="image", format="JPEG", context="forest",
        confidence=0.9, camera_make="Canon", camera_model="EOS 5D", size=300,
        taken_at=datetime(2019, 5, 1, 10, tzinfo=UTC), latitude=46.0, longitude=7.0,
        view="ground", view_confidence=0.9)),
    ("2019/coast_02.jpg", dict(status="indexed", kind="image", format="JPEG", context="coast",
        confidence=0.6, camera_make="NIKON CORPORATION", camera_model="D750", size=100,
        taken_at=datetime(2019, 8, 1, tzinfo=UTC), latitude=-33.9, longitude=18.4)),
    ("2020/glacier.png", dict(status="indexed", kind="image", format="PNG", context="glacier",
        confidence=0.95, corrected=True, size=200, model_context="coast",
        taken_at=datetime(2020, 1, 1, tzinfo=UTC), latitude=64.0, longitude=-20.0)),
    ("videos/pacific.mp4", dict(status="indexed", kind="video", format="MP4", context="coast",
        confidence=0.7, camera_model="GoPro HERO9", size=5000, latitude=-17.0, longitude=179.0,
        view="overhead", view_confidence=0.8)),
    ("videos/fiji_50%.mp4", dict(status="indexed", kind="video", format="MP4", context="unknown",
        confidence=0.3, camera_make="100% Cam", size=300, latitude=-18.0, longitude=-179.0)),
    ("broken.jpg", dict(status="failed", kind="image", error="truncated", size=10,
        last_processed=T0 + timedelta(hours=1))),
    ("notes.txt", dict(status="unsupported", kind="other", format="text", size=50)),
    ("new_one.jpg", dict(size=300)),
    ("old_fail.jpg", dict(status="failed", kind="image", error="empty", last_processed=T0)),
]  # fmt: skip


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session on a database holding LIBRARY (and corrections of two of its files)."""
    with sessions() as session:
        files = [File(path=p, mtime=0.0, first_seen=T0, **{"size": 1000, **f}) for p, f in LIBRARY]
        for file in files:  # one by one: ids in LIBRARY's order on both backends
            session.add(file)
            session.flush()
        files[3].segments = [Segment(index=0, context="coast", start_s=0.0, end_s=2.0)]
        session.add_all(
            Correction(file_id=files[i].id, context=c, created_at=T0 + timedelta(minutes=m))
            for i, c, m in [(2, "forest", 1), (2, "glacier", 2), (1, "desert", 1)]
        )
        session.commit()
        session.expunge_all()  # queries below must load what they return
        yield session


def paths(f: FileFilter, session: Session) -> list[str]:
    """The paths `search` returns for `f`, checking that its total counts them all."""
    total, rows = search(session, f)
    assert total == len(rows)
    return [row.path for row in rows]


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (FileFilter(context="coast"), ["videos/pacific.mp4", "2019/coast_02.jpg"]),
        (FileFilter(view="overhead"), ["videos/pacific.mp4"]),
        (FileFilter(view="ground", kind="image"), ["2019/Forest_01.jpg"]),
        (FileFilter(unknown=True), ["videos/fiji_50%.mp4"]),
        (FileFilter(min_confidence=0.9), ["2020/glacier.png", "2019/Forest_01.jpg"]),
        (FileFilter(kind=Kind.VIDEO), ["videos/fiji_50%.mp4", "videos/pacific.mp4"]),
        (FileFilter(kind="other"), ["new_one.jpg", "notes.txt"]),  # the default kind
        (FileFilter(format="PNG"), ["2020/glacier.png"]),
        (FileFilter(camera="nikon"), ["2019/coast_02.jpg"]),  # make, case-insensitive
        (FileFilter(camera="eos 5"), ["2019/Forest_01.jpg"]),  # model
        (FileFilter(camera="gopro"), ["videos/pacific.mp4"]),  # model, no make
        (FileFilter(camera="0%"), ["videos/fiji_50%.mp4"]),  # % is a character, not a pattern
        (FileFilter(status=Status.FAILED), ["old_fail.jpg", "broken.jpg"]),
        (FileFilter(status="pending"), ["new_one.jpg"]),
        (FileFilter(corrected=True), ["2020/glacier.png"]),
        (FileFilter(q="FOREST"), ["2019/Forest_01.jpg"]),
        (FileFilter(q="50%"), ["videos/fiji_50%.mp4"]),
        (FileFilter(q="_0"), ["2019/coast_02.jpg", "2019/Forest_01.jpg"]),  # _ is literal
        (FileFilter(q="2019/"), ["2019/coast_02.jpg", "2019/Forest_01.jpg"]),
        (FileFilter(taken_from=datetime(2019, 8, 1, tzinfo=UTC)),
            ["2020/glacier.png", "2019/coast_02.jpg"]),  # inclusive
        (FileFilter(taken_to=datetime(2019, 8, 1)), ["2019/coast_02.jpg", "2019/Forest_01.jpg"]),
        # 12:00 at +02:00 is 10:00 UTC: the Forest photo's time, inclusive both ends
        (FileFilter(taken_from=datetime(2019, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
            taken_to=datetime(2019, 5, 1, 10, tzinfo=UTC)), ["2019/Forest_01.jpg"]),
        (FileFilter(bbox=(0.0, 40.0, 10.0, 50.0)), ["2019/Forest_01.jpg"]),
        (FileFilter(bbox=(-25.0, -40.0, 20.0, 70.0)),
            ["2020/glacier.png", "2019/coast_02.jpg", "2019/Forest_01.jpg"]),
        (FileFilter(bbox=(170.0, -20.0, -170.0, -10.0)),  # across the antimeridian
            ["videos/fiji_50%.mp4", "videos/pacific.mp4"]),
        (FileFilter(kind="image", context="coast", min_confidence=0.5), ["2019/coast_02.jpg"]),
        (FileFilter(kind="video", unknown=True, camera="gopro"), []),
    ],
)  # fmt: skip
def test_filters(session: Session, f: FileFilter, expected: list[str]) -> None:
    assert paths(f, session) == expected


def test_no_filter_returns_everything_newest_id_first(session: Session) -> None:
    assert paths(FileFilter(), session) == [p for p, _ in reversed(LIBRARY)]
    assert paths(FileFilter(corrected=False), session) == [
        p for p, fields in reversed(LIBRARY) if not fields.get("corrected")
    ]


def expected_order(sort: str) -> list[str]:
    """LIBRARY sorted in Python: by the key, empty values last either way, ties by id."""
    key = sort.lstrip("-")
    rows = [(i + 1, p, {"id": i + 1, "path": p, **f}) for i, (p, f) in enumerate(LIBRARY)]
    values = [(r[2].get(key, 1000 if key == "size" else None), r[0], r[1]) for r in rows]
    present = sorted((v, i, p) for v, i, p in values if v is not None)
    empty = [(v, i, p) for v, i, p in values if v is None]
    if sort.startswith("-"):
        present.reverse()
        empty.reverse()
    return [p for _, _, p in present + empty]


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_puts_empty_values_last_and_breaks_ties_by_id(
    session: Session, sort: str
) -> None:
    assert paths(FileFilter(sort=sort), session) == expected_order(sort)


def test_sizes_tie_so_the_id_decides() -> None:
    """The sort test above has ties to break: three files of 300 bytes."""
    assert [f.get("size") for _, f in LIBRARY].count(300) == 3


def test_pages_split_the_sorted_rows_and_total_counts_them_all(session: Session) -> None:
    everything = expected_order("path")
    pages = []
    for page in (1, 2, 3, 4):
        total, rows = search(session, FileFilter(sort="path", page=page, page_size=4))
        assert total == len(LIBRARY)
        pages.append([row.path for row in rows])
    assert pages == [everything[:4], everything[4:8], everything[8:], []]
    total, rows = search(session, FileFilter(kind="image", page=2, page_size=2))
    assert (total, [row.path for row in rows]) == (5, ["2020/glacier.png", "2019/coast_02.jpg"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sort": "name"}, "invalid sort 'name': use one of id, -id, path"),
        ({"sort": "-"}, "invalid sort"),
        ({"page": 0}, "invalid page 0"),
        ({"page_size": 0}, "invalid page_size 0"),
        ({"page_size": 501}, "invalid page_size 501: use 1 to 500"),
        ({"bbox": (0.0, 50.0, 10.0, 40.0)}, "min lat is above max lat"),
    ],
)
def test_invalid_filters_raise_value_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        FileFilter(**fields)


def test_get_file_loads_segments_and_get_by_path_finds_the_row(
    sessions: sessionmaker[Session], session: Session
) -> None:
    pacific = get_by_path(session, StoragePath("videos/pacific.mp4"))
    assert pacific is not None and pacific.context == "coast"
    assert get_by_path(session, StoragePath("videos/PACIFIC.mp4")) is None  # paths are exact
    with sessions() as other:
        file = get_file(other, pacific.id)
    assert file is not None
    assert [(s.index, s.context, s.end_s) for s in file.segments] == [(0, "coast", 2.0)]
    assert get_file(session, 10_000) is None


def test_stats_count_by_context_view_kind_status_and_format(session: Session) -> None:
    assert stats(session) == {
        "context": {"forest": 1, "coast": 2, "glacier": 1, "unknown": 1},
        "view": {"ground": 1, "overhead": 1},  # the files tagged without a view: uncounted
        "kind": {"image": 5, "video": 2, "other": 2},
        "status": {"indexed": 5, "failed": 2, "unsupported": 1, "pending": 1},
        "format": {"JPEG": 2, "PNG": 1, "MP4": 2, "text": 1},
        "total": 9,
        "pending": 1,
    }


def test_failures_are_the_failed_files_latest_first(session: Session) -> None:
    assert [f.path for f in failures(session)] == ["broken.jpg", "old_fail.jpg"]
    assert [f.path for f in failures(session, limit=1)] == ["broken.jpg"]


def test_corrections_give_each_corrected_file_its_latest(session: Session) -> None:
    found = [(file.path, c.context) for file, c in corrections(session)]
    assert found == [("2019/coast_02.jpg", "desert"), ("2020/glacier.png", "glacier")]


def test_months_count_the_matching_files_by_month_taken_newest_first(session: Session) -> None:
    assert months(session, FileFilter()) == [(2020, 1, 1), (2019, 8, 1), (2019, 5, 1)]
    assert months(session, FileFilter(context="coast")) == [(2019, 8, 1)]
    assert months(session, FileFilter(kind="video")) == []  # no time taken: not counted
