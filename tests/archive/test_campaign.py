"""The campaign's first rule: airborne telemetry -> air; else a position at sea -> sea; else
land where a position exists; None without one. The land mask read bit-packed agrees with the
package's own lookup."""

from __future__ import annotations

import pytest

from landrec.api.telemetry import Standard, Track, TrackPoint
from landrec.archive.campaign import first_rule, ocean_mask
from landrec.archive.db.models import Campaign

MID_ATLANTIC, PARIS = (45.0, -30.0), (48.85, 2.35)


def track(standard: Standard, *points: tuple[float, float]) -> Track:
    return Track(
        standards=(standard,),
        packets=len(points),
        bad_packets=0,
        points=tuple(TrackPoint(float(i), None, lat, lon) for i, (lat, lon) in enumerate(points)),
    )


@pytest.mark.parametrize(
    ("given", "position", "expected"),
    [
        (track(Standard.ST0601, MID_ATLANTIC), None, Campaign.AIR),  # airborne wins, at sea too
        (track(Standard.EG0104), None, Campaign.AIR),  # no position needed
        (track(Standard.DJI_SRT, PARIS), None, Campaign.AIR),
        (track(Standard.GPX, MID_ATLANTIC), PARIS, Campaign.SEA),  # the track's first point
        (track(Standard.GPMF, PARIS, MID_ATLANTIC), None, Campaign.LAND),
        (track(Standard.GPMF), MID_ATLANTIC, Campaign.SEA),  # no point: the file's GPS
        (None, MID_ATLANTIC, Campaign.SEA),
        (None, PARIS, Campaign.LAND),
        (None, (-33.92, 18.42), Campaign.LAND),  # Cape Town
        (None, (-10.0, 80.0), Campaign.SEA),  # Indian Ocean
        (None, (0.0, 179.99), Campaign.SEA),  # by the antimeridian
        (track(Standard.GPX), None, None),  # neither position nor airborne telemetry
        (None, None, None),
    ],
)
def test_the_first_rule(
    given: Track | None, position: tuple[float, float] | None, expected: Campaign | None
) -> None:
    latitude, longitude = position or (None, None)
    assert first_rule(given, latitude, longitude) is expected


def test_the_mask_is_read_once_and_clamps_the_poles() -> None:
    mask = ocean_mask()
    assert ocean_mask() is mask
    assert mask.bits.shape == (21600, 43200 // 8)
    assert mask.at_sea(90.0, 180.0) and mask.at_sea(89.99, -180.0)  # the Arctic Ocean
    assert not mask.at_sea(-90.0, 0.0)  # Antarctica
