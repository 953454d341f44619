"""Where files were shot, as GeoJSON: one file's track (its points and footprints), and the
tracks of the files matching the list's filters, for the main map."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from landrec.archive.db import queries
from landrec.archive.web.deps import RowId, SessionDep, ViewerDep
from landrec.archive.web.errors import responses
from landrec.archive.web.routes_files import file_filter, not_found
from landrec.archive.web.schemas import Feature, TrackMap, TrackOut

router = APIRouter(prefix="/api")


@router.get("/files/{file_id}/track", responses=responses(404))
def track(file_id: RowId, _: ViewerDep, session: SessionDep) -> TrackOut:
    """The file's track: a LineString of its points (1 per second), a Polygon per footprint."""
    row = queries.track_of(session, file_id)
    if row is None:
        raise not_found("track")
    return TrackOut.model_validate(row.geojson)


@router.get("/tracks")
def tracks(
    _: ViewerDep, session: SessionDep, f: Annotated[queries.FileFilter, Depends(file_filter)]
) -> TrackMap:
    """The tracks of the files matching the list's filters (its paging and sort ignored): the
    newest 500 files, each a LineString of at most 200 vertices."""
    rows, truncated = queries.map_tracks(session, f)
    features = [
        Feature(
            geometry=_geometry(r.line),
            properties={
                "id": r.id,
                "path": r.path,
                "context": r.context,
                "campaign": r.campaign,
                "kind": r.kind,
            },
        )
        for r in rows
        if r.line
    ]
    return TrackMap(features=features, truncated=truncated)


def _geometry(line: list[list[float]]) -> dict[str, object]:
    """A LineString, or a Point for a track of one position."""
    if len(line) == 1:
        return {"type": "Point", "coordinates": line[0]}
    return {"type": "LineString", "coordinates": line}
