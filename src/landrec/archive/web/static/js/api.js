// The archive's REST API, as the views use it: JSON in, JSON out, errors thrown with the
// server's `detail`.

/** The server's `detail` as text: a string, or FastAPI's list of field errors
 * ("min_confidence: Input should be less than or equal to 1"). */
export function reason(detail) {
  if (!Array.isArray(detail)) return String(detail);
  return detail.map((e) => `${e.loc?.at(-1) ?? "request"}: ${e.msg ?? e}`).join("; ");
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
  }
}

// Who the page acts as (GET /api/me), asked once: its `csrf` goes with every state-changing
// request made with the login cookie (a Bearer token or an open archive needs none).
let meOnce = null;
export function me() {
  meOnce ??= request("GET", "/api/me");
  return meOnce;
}

/** Whether `who` (GET /api/me, or null) may change the archive: an editor or an admin. */
export const canEdit = (who) => Boolean(who) && who.role !== "viewer";

/** Off to the login page, coming back here afterwards. */
export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.hash)}`);
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") {
    const { csrf } = await me();
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) toLogin();
  if (!response.ok) throw new ApiError(response.status, reason(data.detail ?? response.statusText));
  return data;
}

export const get = (path) => request("GET", path);
export const put = (path, body) => request("PUT", path, body);
export const post = (path, body) => request("POST", path, body);

/** A page of files matching `params` (a URLSearchParams of the list's filters). */
export const files = (params) => get(`/api/files?${params}`);
export const file = (id) => get(`/api/files/${id}`);
export const stats = () => get("/api/stats");
export const health = () => get("/api/health");
export const failures = (limit = 200) => get(`/api/failures?limit=${limit}`);
/** Files per month taken ({year, month, files}, newest first) under the list's filters. */
export const months = (params) => get(`/api/months?${params}`);

let classesOnce = null;
/** The contexts a file can be corrected to (asked once per page load). */
export function classes() {
  classesOnce ??= get("/api/classes");
  return classesOnce;
}

let viewsOnce = null;
/** The views the list can be filtered by: the model's (ground, overhead), asked once. */
export function views() {
  viewsOnce ??= get("/api/views");
  return viewsOnce;
}

export const correct = (id, context) => put(`/api/files/${id}/context`, { context });
/** Undo a correction: the file's context back to the model's label (the FileItem). */
export const uncorrect = (id) => request("DELETE", `/api/files/${id}/context`);
/** One action on many files: `{action: "correct"|"clear"|"reindex", context?, ids | filter}`
 * (the filter: the list's filter keys) -> `{matched, changed}`. */
export const bulk = (body) => post("/api/files/bulk", body);

export const contentUrl = (id) => `/api/files/${id}/content`;
/** The browser-ready rendition: a video's H.264 proxy, a still's display-size copy, or the
 * original when the browser shows that (202 while it is made, 422 when it cannot be). */
export const previewUrl = (id) => `/api/files/${id}/preview`;

/** The file's telemetry track as GeoJSON (404 when it has none). */
export const track = (id) => get(`/api/files/${id}/track`);
/** The tracks of the files matching `params` (the list's filters), one LineString each. */
export const tracks = (params) => get(`/api/tracks?${params}`);
export const setCampaign = (id, campaign) => put(`/api/files/${id}/campaign`, { campaign });
/** The campaigns a file can be corrected to (the API's enum). */
export const CAMPAIGNS = ["air", "land", "sea"];
