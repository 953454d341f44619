// The filter bar: its fields mirror the URL's filter params; a change rewrites the URL (page
// back to 1), which re-renders the view.

import * as api from "./api.js";
import { current, FILTERS, go } from "./route.js";
import { el } from "./util.js";

const form = () => document.getElementById("filters");
const TYPING_DELAY_MS = 300;

/** Fill the context and format choices from the archive's counts (and the model's classes). */
export async function loadChoices() {
  const [stats, classes] = await Promise.all([api.stats(), api.classes().catch(() => [])]);
  const contexts = new Set([...classes, ...Object.keys(stats.context)]);
  fill(form().elements.context, [...contexts].sort());
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

/** Set each field from the URL (after a reload, a link or Back). */
export function syncFromUrl() {
  const { params } = current();
  for (const name of FILTERS) {
    const field = form().elements[name];
    if (!field) continue;
    const value = params.get(name) ?? "";
    if (field.type === "checkbox") field.checked = value === "true";
    else if (
      field.tagName === "SELECT" &&
      value &&
      ![...field.options].some((o) => o.value === value)
    ) {
      field.append(el("option", { value }, value)); // a shared link's value not counted yet
      field.value = value;
    } else field.value = value;
  }
}

function toUrl() {
  const { view, params } = current();
  const next = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form().elements[name];
    const value = field.type === "checkbox" ? (field.checked ? "true" : "") : field.value.trim();
    if (value) next.set(name, value);
  }
  if (params.get("sort")) next.set("sort", params.get("sort"));
  go(view === "map" ? "map" : "files", next);
}

export function bind() {
  fill(form().elements.campaign, api.CAMPAIGNS);
  let timer = null;
  form().addEventListener("change", () => {
    clearTimeout(timer);
    toUrl();
  });
  form().addEventListener("input", (event) => {
    if (event.target.type !== "search") return;
    clearTimeout(timer);
    timer = setTimeout(toUrl, TYPING_DELAY_MS);
  });
  form().addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    toUrl();
  });
  form().addEventListener("reset", () => setTimeout(toUrl));
}

/** Show the bar only on the views it filters. */
export function visible(on) {
  form().hidden = !on;
}
