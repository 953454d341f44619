// Maps that work offline: Leaflet (vendored) with no tile layer; under everything a base map
// of Natural Earth's land, coastlines and country borders (world-atlas TopoJSON, vendored,
// each scale fetched and turned into GeoJSON once per page load) and a light latitude/longitude
// graticule; the files' positions as points coloured by context, clustered on the main map
// (vendored Leaflet.markercluster), each a button with a name that opens a popup; their
// telemetry tracks as lines coloured by campaign (else context).

import * as api from "./api.js";
import { current, drawing, filtersOf, go, href } from "./route.js";
import { badge, colour, el, fileName, show, when } from "./util.js";

const MAX_POINTS = 500; // one API page: the map shows the newest this many with a position
const WORLD = "-180,-90,180,90";
const ATLAS = "../vendor/world-atlas/";
// Natural Earth at 1:110m for the world and continents (fast to draw), 1:50m closer in.
const SCALES = [
  ["110m", "countries-110m.json", 4],
  ["50m", "countries-50m.json", Infinity],
]; // [scale, file, below zoom]
const THUMB_WIDTH = 160; // px, the popup's thumbnail
const POPUP = { minWidth: THUMB_WIDTH, autoPanPadding: [20, 20] };
const latLng = ([lon, lat]) => [lat, lon]; // GeoJSON's order to Leaflet's
const STEPS = [
  [3, 30],
  [5, 10],
  [7, 5],
  [9, 1],
  [12, 0.25],
  [99, 0.05],
]; // [max zoom, degrees]
// Panes under the overlays (tracks, 400) and the points (600): the base map, then the grid.
const PANES = { basemap: 250, graticule: 260 };
// The base map's look: land light on a blue-grey sea (the container's background, map.css).
const LAND = { className: "land", stroke: false, fillColor: "#f4f1e8", fillOpacity: 1 };
const COAST = { className: "coast", color: "#6f8798", weight: 1, fill: false };
const BORDER = { className: "border", color: "#a89c8c", weight: 1, fill: false, dashArray: "3 3" };

function graticule(map) {
  const layer = L.layerGroup().addTo(map);
  const renderer = L.svg({ pane: "graticule" });
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
    const style = { className: "graticule", interactive: false, weight: 1, renderer };
    const label = (at, text) =>
      L.marker(at, {
        interactive: false,
        keyboard: false,
        pane: "graticule",
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

/** A line's longitudes made continuous where it crosses the antimeridian (shifted by 360°):
 * world-atlas is drawn on a sphere, Leaflet on a plane. */
function unwrap(line) {
  let shift = 0;
  return line.map(([lon, lat], i) => {
    const step = i ? lon - line[i - 1][0] : 0;
    shift += step > 180 ? -360 : step < -180 ? 360 : 0;
    return [lon + shift, lat];
  });
}

/** A polygon ring unwrapped; one around a pole (Antarctica) closed along the pole. */
function unwrapRing(ring) {
  const out = unwrap(ring);
  const [first, last] = [out[0], out.at(-1)];
  if (first[0] === last[0]) return out;
  const pole = first[1] < 0 ? -90 : 90;
  return [...out, [last[0], pole], [first[0], pole], first];
}

/** A MultiPolygon or MultiLineString of world-atlas ready for a plane: lines unwrapped,
 * rings unwrapped or closed along their pole, rings that are only the pole dropped. */
function planar(geometry) {
  const polar = (ring) => ring.every(([, lat]) => Math.abs(lat) > 89.9);
  const coordinates =
    geometry.type === "MultiPolygon"
      ? geometry.coordinates.map((rings) => rings.filter((r) => !polar(r)).map(unwrapRing))
      : geometry.coordinates.map(unwrap);
  return { type: geometry.type, coordinates };
}

const loaded = new Map(); // file name -> promise of its shapes: fetched once per page load
/** Land, coastlines and borders of one world-atlas file as GeoJSON. */
function atlas(name) {
  if (!loaded.has(name)) {
    const shapes = (async () => {
      const start = performance.now();
      const response = await fetch(new URL(`${ATLAS}${name}`, import.meta.url));
      if (!response.ok) throw new Error(`base map: ${response.status}`);
      const world = await response.json();
      const { land, countries } = world.objects;
      const out = {
        land: planar(topojson.feature(world, land).features[0].geometry),
        coast: planar(topojson.mesh(world, land)),
        border: planar(topojson.mesh(world, countries, (a, b) => a !== b)), // of two countries
      };
      performance.measure("landrec-basemap-load", { start, end: performance.now() });
      return out;
    })();
    shapes.catch(() => loaded.delete(name)); // a later map tries again
    loaded.set(name, shapes);
  }
  return loaded.get(name);
}

/** The base map's layers on `map`, at the scale for its zoom (redrawn when that changes);
 * `data-basemap` on the map's node says ready (or failed: the map works without it) and
 * `data-scale` which scale is shown. */
function drawBase(map, node) {
  let scale = null;
  let drawn = null;
  const renderer = L.svg({ pane: "basemap" });
  const options = { pane: "basemap", renderer, interactive: false };
  const update = async () => {
    const [wanted, name] = SCALES.find(([, , below]) => map.getZoom() < below);
    if (wanted === scale) return;
    scale = wanted;
    let shapes;
    try {
      shapes = await atlas(name);
    } catch {
      node.dataset.basemap = "failed";
      return;
    }
    if (scale !== wanted || !map.getContainer().isConnected) return; // zoomed again, or left
    const start = performance.now();
    drawn?.remove();
    drawn = L.layerGroup([
      L.geoJSON(shapes.land, { ...options, style: LAND }),
      L.geoJSON(shapes.border, { ...options, style: BORDER }),
      L.geoJSON(shapes.coast, { ...options, style: COAST }),
    ]).addTo(map);
    performance.measure("landrec-basemap-draw", { start, end: performance.now() });
    Object.assign(node.dataset, { basemap: "ready", scale });
  };
  map.on("zoomend", update);
  update();
}

/** A Leaflet map in `node`: the whole world, the base map and the graticule, no tiles. */
export function baseMap(node) {
  const map = L.map(node, {
    worldCopyJump: true,
    minZoom: 1,
    maxZoom: 18,
    attributionControl: false,
    zoomSnap: 0.5,
  });
  for (const [name, z] of Object.entries(PANES)) {
    const pane = map.createPane(name);
    pane.classList.add(`leaflet-${name}-pane`);
    pane.style.zIndex = z;
    pane.style.pointerEvents = "none";
  }
  map.setView([20, 0], 1);
  graticule(map);
  drawBase(map, node);
  return map;
}

/** Fit `map` to `bounds` (a Leaflet LatLngBounds), a single place zoomed in moderately; at
 * once (no animation: the first view of a map). */
export function fit(map, bounds) {
  if (!bounds.isValid()) return;
  const now = { animate: false };
  if (bounds.getNorthEast().equals(bounds.getSouthWest())) map.setView(bounds.getCenter(), 9, now);
  else map.fitBounds(bounds, { ...now, padding: [30, 30], maxZoom: 12 });
}

// A marker's icon: a div with an accessible name (Leaflet makes it a focusable button) and,
// for a point, its context's colour in `--dot` (set through the CSSOM: the policy allows it).
const Icon = L.DivIcon.extend({
  createIcon(old) {
    const node = L.DivIcon.prototype.createIcon.call(this, old);
    node.setAttribute("aria-label", this.options.label);
    if (this.options.dot) node.style.setProperty("--dot", this.options.dot);
    return node;
  },
});

/** The popup of a point: the thumbnail, the name linking to the detail, the context and when
 * it was taken. */
function popup(file, params) {
  const name = fileName(file.path);
  const ratio = file.width && file.height ? file.height / file.width : 0.75;
  return el(
    "div",
    { class: "map-popup" },
    file.thumbnail_url
      ? el("img", {
          src: file.thumbnail_url,
          alt: `Thumbnail of ${name}`,
          width: THUMB_WIDTH,
          height: Math.round(THUMB_WIDTH * ratio),
        })
      : null,
    el("a", { class: "name", href: href("file", params, file.id) }, name),
    el("span", { class: "facts" }, badge(file.context, file.confidence), " "),
    el("span", { class: "taken" }, when(file.taken_at)),
  );
}

/** Open the marker's popup from the keyboard (Enter or Space) and move into it; Esc there
 * closes it, and the focus is back on the marker. */
function byKeyboard(marker) {
  const escape = (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    marker.closePopup();
  };
  marker.on("popupopen", () => marker.getPopup().getElement().addEventListener("keydown", escape));
  marker.on("keydown", ({ originalEvent: event }) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault(); // no keypress: Leaflet would take Enter for a click as well
    marker.openPopup();
    marker.getPopup().getElement()?.querySelector("a.name")?.focus({ preventScroll: true });
    marker.once("popupclose", ({ popup }) => {
      const at = document.activeElement; // the popup fades out: it may still hold the focus
      if (at === document.body || popup.getElement()?.contains(at)) marker.getElement()?.focus();
    });
  });
}

/** A marker per file with a position, linking to its detail (with `params`); their bounds. */
function markers(files, params) {
  const out = [];
  const bounds = L.latLngBounds([]);
  for (const file of files) {
    if (file.latitude === null || file.longitude === null) continue;
    const at = [file.latitude, file.longitude];
    bounds.extend(at);
    const label = `${fileName(file.path)}, ${file.context ?? "no context"}`;
    const dot = colour(file.context);
    const icon = new Icon({ className: "point", iconSize: [24, 24], label, dot });
    const marker = L.marker(at, { icon, keyboard: true, riseOnHover: true });
    marker.bindPopup(() => popup(file, params), POPUP);
    byKeyboard(marker);
    out.push(marker);
  }
  return { markers: out, bounds };
}

/** A cluster's icon: its count, named for a screen reader. */
function clusterIcon(cluster) {
  const n = cluster.getChildCount();
  const size = n < 10 ? 34 : n < 100 ? 40 : 46;
  return new Icon({
    className: "cluster",
    iconSize: [size, size],
    html: el("span", {}, String(n)),
    label: `${n} files at one place: Enter shows them`,
  });
}

/** Markers grouped in clusters on `map`; Enter on a cluster zooms into it (or spreads out its
 * files where they share a place) and focuses the first of them. */
function clustered(map, list) {
  const group = L.markerClusterGroup({
    iconCreateFunction: clusterIcon,
    showCoverageOnHover: false,
    maxClusterRadius: 50,
    spiderfyOnMaxZoom: true,
  });
  group.on("clusterkeypress", ({ layer, originalEvent }) => {
    if (originalEvent?.key !== "Enter") return;
    const first = layer.getAllChildMarkers()[0];
    const focus = () => {
      group.off("spiderfied animationend", focus);
      group.getVisibleParent(first)?.getElement()?.focus({ preventScroll: true });
    };
    group.on("spiderfied animationend", focus);
  });
  group.addLayers(list);
  return group.addTo(map);
}

/** A Leaflet map in `node` with `files` as points (each linking to its detail). */
export function pointMap(node, files, params = new URLSearchParams()) {
  const map = baseMap(node);
  const { markers: list, bounds } = markers(files, params);
  for (const marker of list) marker.addTo(map);
  fit(map, bounds);
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

/** The URL's `bbox` (minlon,minlat,maxlon,maxlat) as Leaflet bounds; null without one. */
function boxBounds(bbox) {
  const v = (bbox ?? "").split(",").map(Number);
  if (v.length !== 4 || !v.every(Number.isFinite)) return null;
  const east = v[2] < v[0] ? v[2] + 360 : v[2]; // across the antimeridian
  return L.latLngBounds([v[1], v[0]], [v[3], east]);
}

/** The view's bounds as a `bbox` value: clamped to the valid ranges, 4 decimals, rounded
 * outwards so that what is seen stays inside. */
export function bboxOf(bounds) {
  const clamp = (v, limit) => Math.min(limit, Math.max(-limit, v));
  const down = (v) => Math.floor(v * 1e4) / 1e4;
  const up = (v) => Math.ceil(v * 1e4) / 1e4;
  const [west, east] = [bounds.getWest(), bounds.getEast()].map((v) => clamp(v, 180));
  const [south, north] = [bounds.getSouth(), bounds.getNorth()].map((v) => clamp(v, 90));
  return [down(west), down(south), up(east), up(north)].join(",");
}

/** The map view: the URL's filtered files that have a position (within its `bbox`, fitted to
 * it, if given), and those with a track; a button that filters the grid to the area seen. */
export async function render(container, live = drawing()) {
  const { params } = current();
  container.dataset.state = "loading";
  const filters = filtersOf(params);
  const query = filtersOf(params);
  if (!query.get("bbox")) query.set("bbox", WORLD);
  query.set("page_size", MAX_POINTS);
  const [data, tracks] = await Promise.all([
    api.files(query),
    api.tracks(filters).catch(() => null), // the points are still worth showing
  ]);
  if (!live()) return; // another view was opened meanwhile
  const node = el("div", { id: "map", class: "bigmap" });
  const note =
    data.total > data.items.length
      ? `${data.items.length} of ${data.total.toLocaleString("en")} files with a position (the newest)`
      : `${data.total} files with a position`;
  const area = el("button", { type: "button", id: "map-area" }, "Filter the grid to this area");
  show(
    container,
    el(
      "div",
      { class: "map-bar" },
      el(
        "p",
        { class: "map-note" },
        el("span", { id: "map-count" }, note),
        ", ",
        el("span", { id: "map-tracks" }, trackNote(tracks)),
      ),
      area,
    ),
    node,
  );
  const map = baseMap(node);
  const linked = new URLSearchParams(filters);
  linked.set("back", "map"); // Esc on the detail comes back here
  const { markers: list, bounds } = markers(data.items, linked);
  if (tracks) bounds.extend(addTracks(map, tracks, linked));
  const box = boxBounds(params.get("bbox"));
  if (box) map.fitBounds(box, { animate: false });
  else fit(map, bounds);
  clustered(map, list); // once the view is set: no clusters of the world view fading out
  area.addEventListener("click", () => {
    const next = new URLSearchParams(filters);
    next.set("bbox", bboxOf(map.getBounds()));
    go("files", next);
  });
  container.dataset.state = "ready";
  container.dataset.total = data.total; // files with a position matching the filters
}
