// Maps that work offline: Leaflet (vendored) with no tile layer at all, a plain background
// and a latitude/longitude graticule, the files' positions as points coloured by context.

import * as api from "./api.js";
import { current, filtersOf, href } from "./route.js";
import { colour, el, fileName, percent, show } from "./util.js";

const MAX_POINTS = 500; // one API page: the map shows the newest this many with a position
const WORLD = "-180,-90,180,90";
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

/** A Leaflet map in `node` with `files` as points (each linking to its detail). */
export function pointMap(node, files, params = new URLSearchParams()) {
  const map = L.map(node, {
    worldCopyJump: true,
    minZoom: 1,
    maxZoom: 18,
    attributionControl: false,
    zoomSnap: 0.5,
  });
  map.setView([20, 0], 1);
  graticule(map);
  const points = [];
  for (const file of files) {
    if (file.latitude === null || file.longitude === null) continue;
    const at = [file.latitude, file.longitude];
    points.push(at);
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
  if (points.length === 1) map.setView(points[0], 9);
  else if (points.length > 1) map.fitBounds(points, { padding: [30, 30], maxZoom: 12 });
  return map;
}

/** The map view: the URL's filtered files that have a position. */
export async function render(container) {
  const { params } = current();
  container.dataset.state = "loading";
  const query = filtersOf(params);
  query.set("bbox", WORLD);
  query.set("page_size", MAX_POINTS);
  const data = await api.files(query);
  const node = el("div", { id: "map", class: "bigmap" });
  const note =
    data.total > data.items.length
      ? `${data.items.length} of ${data.total.toLocaleString("en")} files with a position (the newest)`
      : `${data.total} files with a position`;
  show(container, el("p", { id: "map-count", class: "map-note" }, note), node);
  pointMap(node, data.items, filtersOf(params));
  container.dataset.state = "ready";
}
