"""A file's campaign (air, land or sea): the first rule, which a user may correct.

The rule, in order:
1. telemetry of an airborne standard (MISB ST 0601 or EG 0104 KLV, a DJI drone's .srt:
   `Standard.airborne`) -> `air`;
2. else a position at sea -> `sea`: the track's first point, else the file's own GPS position
   (EXIF, QuickTime);
3. else `land` when a position exists (a GoPro's or a GPX track on land, a geotagged photo);
4. else None: no position and no airborne telemetry, nothing to say.

Land and sea come from the GLOBE 1 km land mask of the `global-land-mask` package (MIT; most
lakes count as land, a point within about 1 km of a coast may fall either side). The package
decompresses its mask into 933 MB on import; this module streams it into a bit-packed copy
(117 MB, about 3 s) instead, once per process, the first time a position needs it.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landrec.archive.db.models import Campaign

if TYPE_CHECKING:
    from landrec.api.telemetry import Track

MASK_PACKAGE = "global_land_mask"
MASK_FILE = "globe_combined_mask_compressed.npz"  # mask.npy (True: ocean), lat.npy, lon.npy
ROWS_PER_READ = 540  # rows of the 21,600 x 43,200 mask decompressed at a time (23 MB)
_LOAD = threading.Lock()
HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def first_rule(
    track: Track | None, latitude: float | None, longitude: float | None
) -> Campaign | None:
    """The campaign of a file with this track (or none) and this position (or none)."""
    if track is not None and track.airborne:
        return Campaign.AIR
    if track is not None and track.points:
        latitude, longitude = track.points[0].latitude, track.points[0].longitude
    if latitude is None or longitude is None:
        return None
    return Campaign.SEA if ocean_mask().at_sea(latitude, longitude) else Campaign.LAND


class OceanMask:
    """The land mask's ocean cells, one bit each, rows from the first latitude of `lat`."""

    def __init__(self, bits: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> None:
        self.bits, self.lat, self.lon = bits, lat, lon

    def at_sea(self, latitude: float, longitude: float) -> bool:
        """Whether this position (degrees) is in an ocean cell."""
        row = _index(latitude, self.lat)
        column = _index(longitude, self.lon)
        return bool(self.bits[row, column // 8] >> (7 - column % 8) & 1)

    @classmethod
    def read(cls, path: Path) -> OceanMask:
        """The mask of the package's .npz file, decompressed a band of rows at a time."""
        with zipfile.ZipFile(path) as archive:
            lat, lon = (np.load(archive.open(f"{name}.npy")) for name in ("lat", "lon"))
            with archive.open("mask.npy") as stream:
                header = HEADERS[np.lib.format.read_magic(stream)]
                shape, fortran, dtype = header(stream)
                if fortran or dtype != np.bool_ or len(shape) != 2:
                    raise ValueError(f"{path}: not the expected land mask ({dtype}, {shape})")
                rows, columns = shape
                bands = []
                for start in range(0, rows, ROWS_PER_READ):
                    count = min(ROWS_PER_READ, rows - start)
                    band = np.frombuffer(stream.read(count * columns), dtype=np.bool_)
                    bands.append(np.packbits(band.reshape(count, columns), axis=1))
        return cls(np.concatenate(bands), lat, lon)


def _index(value: float, axis: np.ndarray) -> int:
    """The cell of `value` on an evenly spaced axis (clamped to its ends), as the package's
    own `lat_to_index`/`lon_to_index` compute it."""
    value = min(max(value, float(axis.min())), float(axis.max()))
    return min(int((value - axis[0]) / (axis[1] - axis[0])), len(axis) - 1)


@functools.cache
def _cached_mask() -> OceanMask:
    spec = importlib.util.find_spec(MASK_PACKAGE)  # found, not imported: its import loads 933 MB
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{MASK_PACKAGE}: install landrec's archive extra")
    return OceanMask.read(Path(next(iter(spec.submodule_search_locations))) / MASK_FILE)


def ocean_mask() -> OceanMask:
    """The process's ocean mask, read on first use (one reader at a time)."""
    with _LOAD:
        return _cached_mask()
