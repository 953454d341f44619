"""Where a file was shot, from its track: the file's position and time where its own metadata
gave none, each video segment's sensor and frame-centre position at its start, and the short
line the main map draws."""

from __future__ import annotations

from typing import Any

from landrec.api.telemetry import Track
from landrec.archive.domain import Outcome, SegmentIn

MAP_VERTICES = 200  # the most vertices of a track's line on the main map


def fill_fields(fields: dict[str, Any], track: Track) -> None:
    """The track's first point and start time in the file's columns that are still empty."""
    if fields.get("latitude") is None or fields.get("longitude") is None:
        first = track.points[0] if track.points else None
        centre = next((f.centre for f in track.footprints if f.centre), None)
        if first is not None:
            fields.update(latitude=first.latitude, longitude=first.longitude)
            fields["altitude"] = first.altitude
        elif centre is not None:
            fields.update(latitude=centre[0], longitude=centre[1], altitude=None)
    if fields.get("taken_at") is None and track.start is not None:
        fields["taken_at"] = track.start


def locate_segments(outcome: Outcome) -> None:
    """Each segment of a video with a track gets the sensor's and the frame centre's position
    at its start."""
    if outcome.track is not None:
        locate(outcome.segments, outcome.track)


def locate(segments: list[SegmentIn], track: Track) -> None:
    """Each segment's sensor and frame-centre position at its start (`Track.at`)."""
    for segment in segments:
        if segment.start_s is None:
            continue
        point, footprint = track.at(segment.start_s)
        if point is not None:
            segment.sensor_latitude, segment.sensor_longitude = point.latitude, point.longitude
        if footprint is not None and footprint.centre is not None:
            segment.frame_center_latitude, segment.frame_center_longitude = footprint.centre


def map_line(track: Track, limit: int = MAP_VERTICES) -> list[list[float]]:
    """The track's [lon, lat] vertices, at most `limit`: evenly spaced, first and last kept."""
    vertices = [[p.longitude, p.latitude] for p in track.points]
    if len(vertices) <= limit:
        return vertices
    step = (len(vertices) - 1) / (limit - 1)
    return [vertices[round(i * step)] for i in range(limit)]
