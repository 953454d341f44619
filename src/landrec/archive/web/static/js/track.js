// A file's telemetry on the detail page's minimap (GET /api/files/{id}/track, GeoJSON): the
// track as a line and, beside a player, the platform's position and the current frame's
// footprint following the video; without a player (a raw telemetry file), every footprint.
// The map's container says what it shows in data attributes, for tests and tools:
// `data-points`, `data-footprints` (counts), `data-position="lat,lon"`,
// `data-footprint="lat,lon lat,lon lat,lon lat,lon"` (6 decimals) and `data-t` (seconds).

import { baseMap, fit } from "./map.js";

const LINE = { className: "track", color: "#35508c", weight: 3, opacity: 0.9 };
const POSITION = {
  className: "position",
  radius: 6,
  color: "#fff",
  weight: 2,
  fillColor: "#9b2c4a",
  fillOpacity: 1,
};
const SEEN = { className: "footprint", color: "#8a4b08", weight: 1, fillOpacity: 0.15 };
const NOW = { ...SEEN, className: "footprint current", weight: 2, fillOpacity: 0.3 };

const latLng = ([lon, lat]) => [lat, lon];
const text = (points) =>
  points.map(([lat, lon]) => `${lat.toFixed(6)},${lon.toFixed(6)}`).join(" ");

/** The index of the last of `times` (ascending, nulls skipped) at or before `t`; else 0, the
 * first (as the server's `Track.at`). */
function lastAt(times, t) {
  let found = 0;
  for (let i = 0; i < times.length; i += 1) {
    if (times[i] === null || times[i] === undefined) continue;
    if (times[i] > t) break;
    found = i;
  }
  return found;
}

/** The track line's vertices and times, and the footprints' corner rings and times. */
function parts(collection) {
  const line = collection.features.find((f) => f.properties?.kind === "track");
  const footprints = collection.features.filter((f) => f.properties?.kind === "footprint");
  return {
    path: line ? line.geometry.coordinates.map(latLng) : [],
    times: line?.properties.t ?? [],
    rings: footprints.map((f) => f.geometry.coordinates[0].slice(0, -1).map(latLng)),
    ringTimes: footprints.map((f) => f.properties.t),
  };
}

/** The collection's `bbox` as Leaflet bounds, else the bounds of what was drawn. */
function boundsOf(collection, track) {
  const box = collection.bbox;
  if (box?.length === 4) return L.latLngBounds([box[1], box[0]], [box[3], box[2]]);
  return L.latLngBounds([...track.path, ...track.rings.flat()]);
}

/** Move the position marker and the current footprint to the player's time, on every
 * `timeupdate` and `seeked`. */
function follow(map, node, track, player) {
  const marker = track.path.length ? L.circleMarker(track.path[0], POSITION).addTo(map) : null;
  const shape = track.rings.length ? L.polygon(track.rings[0], NOW).addTo(map) : null;
  const update = () => {
    const t = player.currentTime;
    if (marker) {
      const at = track.path[lastAt(track.times, t)];
      marker.setLatLng(at);
      node.dataset.position = text([at]);
    }
    if (shape) {
      const ring = track.rings[lastAt(track.ringTimes, t)];
      shape.setLatLngs(ring);
      node.dataset.footprint = text(ring);
    }
    node.dataset.t = t.toFixed(3);
  };
  player.addEventListener("timeupdate", update);
  player.addEventListener("seeked", update);
  update();
}

/** A map in `node` of a track collection; `player`: the `<video>` to follow, or null. */
export function trackMap(node, collection, player = null) {
  const map = baseMap(node);
  const track = parts(collection);
  if (track.path.length) L.polyline(track.path, LINE).addTo(map);
  if (player) follow(map, node, track, player);
  else for (const ring of track.rings) L.polygon(ring, SEEN).addTo(map);
  node.dataset.points = track.path.length;
  node.dataset.footprints = track.rings.length;
  fit(map, boundsOf(collection, track));
  return map;
}
