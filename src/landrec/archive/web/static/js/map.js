// Maps that work offline: Leaflet (vendored) with no tile layer at all, a plain background
// and a latitude/longitude graticule; the files' positions as points coloured by context,
// their telemetry tracks as lines coloured by campaign (else context).

import * as api from "./api.js";
import { current, filtersOf, href } from "./route.js";
import { colour, el, fileName, percent, show } from "./util.js";

const MAX_POINTS = 500; // one API page: the map shows the newest this many with a position
const WORLD = "-180,-90,180,90";
const latLng = ([lon, lat]) => [lat, lon]; // GeoJSON's order to Leaflet's
const STEPS = [
  [3, 30],
  [5, 10],
  [7, 5],
  [9, 1],
  [12, 0.25],
  [99, 0.05],
]; // [max zoom, degrees]

function graticule(map) {
  const layer = L.layerGroup().addTo(map);
  const draw = () => {
    layer.clearLayers();
    const step = STEPS.find(([zoom]) => map.getZoom() <= zoom)[1];
    const b = map.getBounds();
    // Multiples of the step that cover the view (parallels to ±85°, the map's edge).
    const from = (v, low) => Math.ceil(Math.max(low, v) / step) * step;
    const upTo = (v, high) => Math.floor(Math.min(high, v) / step) * step;
    const [south, north] = [from(b.getSouth() - step, -85), upTo(b.getNorth() + step, 85)];
    const [west, east] = [from(b.getWest() - step, -180), upTo(b.getEast() + step, 180)];
    // Lines run across the whole view, clamped to the map's edges.
    const edge = (v, limit) => (limit < 0 ? Math.max(limit, v) : Math.min(limit, v));
    const style = { className: "graticule", interactive: false, weight: 1 };
    const label = (at, text) =>
      L.marker(at, {
        interactive: false,
        keyboard: false,
        icon: L.divIcon({ className: "grid-label", html: text, iconSize: null }),
      }).addTo(layer);
    const inset = map.containerPointToLatLng([4, map.getSize().y - 18]); // bottom-left corner
    const range = (a, b) =>
      Array.from({ length: Math.round((b - a) / step) + 1 }, (_, i) => a + i * step);
    for (const lon of range(west, east)) {
      L.polyline(
        [
          [edge(b.getSouth(), -85), lon],
          [edge(b.getNorth(), 85), lon],
        ],
        style,
      ).addTo(layer);
      label([inset.lat, lon], `${+lon.toFixed(2)}°`);
    }
    for (const lat of range(south, north)) {
      L.polyline(
        [
          [lat, edge(b.getWest(), -180)],
          [lat, edge(b.getEast(), 180)],
        ],
        style,
      ).addTo(layer);
      label([lat, inset.lng], `${+lat.toFixed(2)}°`);
    }
  };
  map.on("moveend", draw);
  draw();
}

/** An empty Leaflet map in `node`: the whole world and the graticule, no tiles. */
export function baseMap(node) {
  const map = L.map(node, {
    worldCopyJump: true,
    minZoom: 1,
    maxZoom: 18,
    attributionControl: false,
    zoomSnap: 0.5,
  });
  map.setView([20, 0], 1);
  graticule(map);
  return map;
}

/** Fit `map` to `bounds` (a Leaflet LatLngBounds), a single place zoomed in moderately. */
export function fit(map, bounds) {
  if (!bounds.isValid()) return;
  if (bounds.getNorthEast().equals(bounds.getSouthWest())) map.setView(bounds.getCenter(), 9);
  else map.fitBounds(bounds, { padding: [30, 30], maxZoom: 12 });
}

/** Points of `files` on `map` (each linking to its detail); their bounds. */
function addPoints(map, files, params) {
  const bounds = L.latLngBounds([]);
  for (const file of files) {
    if (file.latitude === null || file.longitude === null) continue;
    const at = [file.latitude, file.longitude];
    bounds.extend(at);
    L.circleMarker(at, {
      radius: 7,
      color: "#fff",
      weight: 2,
      fillColor: colour(file.context),
      fillOpacity: 0.95,
      className: "point",
    })
      .bindPopup(
        el(
          "a",
          { href: href("file", params, file.id) },
          `${fileName(file.path)} — ${file.context ?? "–"} ${percent(file.confidence)}`,
        ),
      )
      .addTo(map);
  }
  return bounds;
}

/** A Leaflet map in `node` with `files` as points (each linking to its detail). */
export function pointMap(node, files, params = new URLSearchParams()) {
  const map = baseMap(node);
  fit(map, addPoints(map, files, params));
  return map;
}

/** The tracks of a /api/tracks collection on `map`, lines (a point where a track has one
 * position) of class `track` with `data-id`, each linking to its detail; their bounds. */
function addTracks(map, collection, params) {
  const bounds = L.latLngBounds([]);
  for (const { geometry, properties: p } of collection.features) {
    const style = { color: colour(p.campaign ?? p.context), weight: 3, opacity: 0.9 };
    const coordinates = geometry.type === "Point" ? [geometry.coordinates] : geometry.coordinates;
    if (!["Point", "LineString"].includes(geometry.type) || !coordinates.length) continue;
    const points = coordinates.map(latLng);
    const layer =
      points.length > 1
        ? L.polyline(points, { ...style, className: "track" })
        : L.circleMarker(points[0], { ...style, radius: 4, className: "track" });
    const label = `${fileName(p.path)} — ${p.campaign ?? "–"}, ${p.context ?? "–"}`;
    layer.bindPopup(el("a", { href: href("file", params, p.id) }, label)).addTo(map);
    layer.getElement().dataset.id = p.id;
    bounds.extend(points);
  }
  return bounds;
}

function trackNote(collection) {
  if (!collection) return "tracks could not be loaded";
  const more = collection.truncated ? " (the newest; more match)" : "";
  return `${collection.features.length} with a track${more}`;
}

/** The map view: the URL's filtered files that have a position, and those with a track. */
export async function render(container) {
  const { params } = current();
  container.dataset.state = "loading";
  const query = filtersOf(params);
  query.set("bbox", WORLD);
  query.set("page_size", MAX_POINTS);
  const [data, tracks] = await Promise.all([
    api.files(query),
    api.tracks(filtersOf(params)).catch(() => null), // the points are still worth showing
  ]);
  const node = el("div", { id: "map", class: "bigmap" });
  const note =
    data.total > data.items.length
      ? `${data.items.length} of ${data.total.toLocaleString("en")} files with a position (the newest)`
      : `${data.total} files with a position`;
  show(
    container,
    el(
      "p",
      { class: "map-note" },
      el("span", { id: "map-count" }, note),
      ", ",
      el("span", { id: "map-tracks" }, trackNote(tracks)),
    ),
    node,
  );
  const map = baseMap(node);
  const bounds = addPoints(map, data.items, filtersOf(params));
  if (tracks) bounds.extend(addTracks(map, tracks, filtersOf(params)));
  fit(map, bounds);
  container.dataset.state = "ready";
}
