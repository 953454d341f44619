// The filter bar: its fields mirror the URL's filter params; a change rewrites the URL (page
// back to 1), which re-renders the view. A field being typed in is never overwritten by the
// URL, and a half-typed value (a date's year "0002", a confidence of "95" meant as percent)
// is never sent.

import * as api from "./api.js";
import { current, FILTERS, go } from "./route.js";
import { el } from "./util.js";

const form = () => document.getElementById("filters");
const TYPING_DELAY_MS = 300;
const TYPED = new Set(["search", "number"]); // applied after a pause in typing

/** Fill the context, view and format choices from the archive's counts (and the model's
 * classes and views). */
export async function loadChoices() {
  const [stats, classes, views] = await Promise.all([
    api.stats(),
    api.classes().catch(() => []),
    api.views().catch(() => []),
  ]);
  const contexts = new Set([...classes, ...Object.keys(stats.context)]);
  fill(form().elements.context, [...contexts].sort());
  fill(form().elements.view, [...new Set([...views, ...Object.keys(stats.view ?? {})])].sort());
  fill(form().elements.format, Object.keys(stats.format).sort());
  syncFromUrl();
}

function fill(select, names) {
  const kept = select.value;
  select.replaceChildren(
    el("option", { value: "" }, "any"),
    ...names.map((name) => el("option", { value: name }, name)),
  );
  select.value = kept;
}

// A field's value in the URL and in the bar differ for the confidence: a fraction (0.95) in
// the URL and the API, a percent (95) in the bar.
const toField = {
  min_confidence: (v) => (v === "" ? "" : String(+(Number(v) * 100).toFixed(2))),
};
const fromField = {
  min_confidence: (v) => String(+(Number(v) / 100).toFixed(4)),
};

/** A field's value if it is whole and valid, "" if empty, null if not ready to send. */
function valueOf(field) {
  if (field.type === "checkbox") return field.checked ? "true" : "";
  const value = field.value.trim();
  if (!value) return field.validity?.badInput ? null : "";
  if (field.type === "date" && Number(value.slice(0, 4)) < 1000) return null; // year half-typed
  if (field.type === "number" && !field.checkValidity()) return null;
  return fromField[field.name]?.(value) ?? value;
}

/** Set each field from the URL (after a reload, a link or Back), except the one being typed
 * in; the map-area chip shows the URL's bbox. */
export function syncFromUrl() {
  const { params } = current();
  for (const name of FILTERS) {
    const field = form().elements[name];
    if (!field || field === document.activeElement) continue;
    const value = params.get(name) ?? "";
    if (field.type === "checkbox") field.checked = value === "true";
    else if (
      field.tagName === "SELECT" &&
      value &&
      ![...field.options].some((o) => o.value === value)
    ) {
      field.append(el("option", { value }, value)); // a shared link's value not counted yet
      field.value = value;
    } else field.value = toField[name]?.(value) ?? value;
  }
  areaChip(params.get("bbox"));
  const set = FILTERS.filter((name) => params.get(name)).length;
  document.getElementById("filters-toggle").textContent = set ? `Filters (${set} set)` : "Filters";
}

/** The bbox filter (set on the map) as a chip in the bar, with a button that clears it. */
function areaChip(bbox) {
  const chip = document.getElementById("area");
  chip.hidden = !bbox;
  if (!bbox) return;
  const [w, s, e, n] = bbox.split(",").map(Number);
  const deg = (v, pos, neg) => `${Math.abs(v).toFixed(2)}°${v < 0 ? neg : pos}`;
  chip.querySelector(".what").textContent =
    `${deg(s, "N", "S")} ${deg(w, "E", "W")} to ${deg(n, "N", "S")} ${deg(e, "E", "W")}`;
}

function toUrl() {
  const { view, params } = current();
  const next = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form().elements[name];
    if (!field) continue;
    const value = valueOf(field);
    if (value === null) return; // not whole yet: the URL (and the view) stay as they are
    if (value) next.set(name, value);
  }
  if (params.get("sort")) next.set("sort", params.get("sort"));
  go(view === "map" ? "map" : "files", next);
}

export function bind() {
  fill(form().elements.campaign, api.CAMPAIGNS);
  let timer = null;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(toUrl, TYPING_DELAY_MS);
  };
  form().addEventListener("change", (event) => {
    clearTimeout(timer);
    if (event.target.type === "date" && valueOf(event.target) === null) return;
    toUrl();
  });
  form().addEventListener("input", (event) => {
    if (TYPED.has(event.target.type)) later();
  });
  form().addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    toUrl();
  });
  form().addEventListener("reset", () => setTimeout(toUrl));
  const toggle = document.getElementById("filters-toggle");
  toggle.addEventListener("click", () => {
    const open = form().classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.getElementById("clear-area").addEventListener("click", () => {
    form().elements.bbox.value = "";
    toUrl();
    form().elements.camera.focus(); // the chip is gone: focus stays in the bar
  });
}

/** Show the bar only on the views it filters. */
export function visible(on) {
  form().hidden = !on;
}
