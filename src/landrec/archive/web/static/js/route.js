// The URL is the state: `#/files?context=coast&page=2`, `#/file/12?context=coast` (the list's
// filters kept, so Esc returns to the same page), `#/map?...`, `#/stats`, `#/ingest`.
// A reload or a shared link opens the same view with the same filters.

export const FILTERS = [
  "context",
  "view",
  "kind",
  "campaign",
  "format",
  "camera",
  "from",
  "to",
  "min_confidence",
  "corrected",
  "unknown",
  "q",
  "status",
  "bbox",
];
export const LIST_KEYS = [...FILTERS, "page", "sort"];
// A detail's URL also says which view opened it (`back=map`), where Esc and ✕ return.
const DETAIL_KEYS = [...LIST_KEYS, "back"];

/** {view, id, params} of the current (or a given) hash. */
export function current(hash = location.hash) {
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?");
  const [view, id] = path.split("/");
  return { view: view || "files", id: id ? Number(id) : null, params: new URLSearchParams(query) };
}

/** The hash of a view with these params (empty values dropped). */
export function href(view, params = new URLSearchParams(), id = null) {
  const kept = new URLSearchParams();
  const keys = view === "file" ? DETAIL_KEYS : LIST_KEYS;
  for (const [key, value] of params) if (value !== "" && keys.includes(key)) kept.set(key, value);
  const query = kept.toString();
  return `#/${view}${id === null ? "" : `/${id}`}${query ? `?${query}` : ""}`;
}

/** The view a detail returns to: the map when it was opened there, else the grid. */
export const backView = (params) => (params.get("back") === "map" ? "map" : "files");

let drawn = 0;

/** A view starts drawing: the test returned stays true until another starts. A slower, older
 * render checks it after each wait and draws nothing once it is false. */
export function drawing() {
  const mine = ++drawn;
  return () => mine === drawn;
}

export function go(view, params, id = null) {
  const target = href(view, params, id);
  if (location.hash !== target) location.hash = target;
}

/** The filter params only (no page, no sort): what the map and the grid share. */
export function filtersOf(params) {
  const out = new URLSearchParams();
  for (const key of FILTERS) if (params.get(key)) out.set(key, params.get(key));
  return out;
}
