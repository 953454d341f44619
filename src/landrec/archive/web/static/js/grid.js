// The grid: one page of thumbnails (context badge + confidence on each), the total, paging
// above and below. Sorted by when a file was taken (newest first) unless the URL says
// otherwise; then a heading per month, and a jump to any month of the matching files.
// The server pages by ids first, so page 2,000 of 100,000 rows costs about what page 1 does.

import * as api from "./api.js";
import { card, keys } from "./card.js";
import { attach } from "./select.js";
import { current, drawing, filtersOf, go, href } from "./route.js";
import { el, show } from "./util.js";

export const PAGE_SIZE = 60;
export const DEFAULT_SORT = "-taken_at";
const SORTS = [
  ["-taken_at", "taken: newest"],
  ["taken_at", "taken: oldest"],
  ["-id", "added: newest"],
  ["id", "added: oldest"],
  ["-confidence", "confidence ↓"],
  ["confidence", "confidence ↑"],
  ["path", "name"],
  ["-size", "size ↓"],
];
const BY_DATE = new Set(["-taken_at", "taken_at"]);
let lastOpened = null; // the id whose detail was open: focused again on return
let jumpedTo = null; // the month ("2024-06") a jump asked for: its heading is shown and focused

export function remember(id) {
  lastOpened = id;
}

/** The sort the URL asks for, else the default. */
export const sortOf = (params) => params.get("sort") || DEFAULT_SORT;

/** The /api/files query of page `page` of the list the URL's `params` describe: its filters,
 * its sort, the grid's page size (the grid and a detail's previous / next ask the same). */
export function listQuery(params, page) {
  const query = filtersOf(params);
  query.set("sort", sortOf(params));
  query.set("page", page);
  query.set("page_size", PAGE_SIZE);
  return query;
}

const monthKey = (iso) => (iso ? iso.slice(0, 7) : "");
function monthName(key) {
  if (!key) return "Date unknown";
  const [year, month] = key.split("-").map(Number);
  const day = new Date(Date.UTC(year, month - 1, 1));
  return day.toLocaleString("en", { month: "long", year: "numeric", timeZone: "UTC" });
}

function withParam(params, key, value) {
  const next = new URLSearchParams(params);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
}

function sortChoice(params) {
  return el(
    "label",
    {},
    "sort ",
    el(
      "select",
      {
        id: "sort",
        onchange: (e) => go("files", withParam(withParam(params, "sort", e.target.value), "page", null)),
      },
      ...SORTS.map(([value, label]) =>
        el("option", { value, selected: sortOf(params) === value }, label),
      ),
    ),
  );
}

/** A select of the months holding matching files ("June 2024 (12)"): choosing one opens the
 * page where that month starts (the files are sorted by date, undated ones last). */
function monthJump(months, params) {
  if (!months?.length) return null;
  const ordered = sortOf(params) === "taken_at" ? [...months].reverse() : months;
  let before = 0;
  const options = ordered.map((m) => {
    const key = `${m.year}-${String(m.month).padStart(2, "0")}`;
    const option = el(
      "option",
      { value: key, dataset: { page: 1 + Math.floor(before / PAGE_SIZE) } },
      `${monthName(key)} (${m.files.toLocaleString("en")})`,
    );
    before += m.files;
    return option;
  });
  const select = el(
    "select",
    {
      id: "jump",
      onchange: (e) => {
        const chosen = e.target.selectedOptions[0];
        if (!chosen?.dataset.page) return;
        jumpedTo = chosen.value;
        const next = withParam(params, "page", chosen.dataset.page);
        if (href("files", next) === location.hash) showMonth(document.getElementById("grid"));
        else go("files", next);
      },
    },
    el("option", { value: "" }, "choose…"),
    ...options,
  );
  return el("label", {}, "jump to ", select);
}

function pager(total, page, params, extra = []) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const to = (p) => href("files", withParam(params, "page", p));
  const top = extra.length > 0;
  const jump = el("input", {
    type: "number",
    min: 1,
    max: pages,
    value: page,
    "aria-label": top ? "Page" : "Page (below the grid)",
    onchange: (e) => {
      const p = Math.min(pages, Math.max(1, Number(e.target.value) || 1));
      go("files", withParam(params, "page", p));
    },
  });
  return el(
    "nav",
    { class: "pager", "aria-label": top ? "Pages" : "Pages (below the grid)" },
    top ? el("span", { id: "total", class: "total" }, `${total.toLocaleString("en")} files`) : null,
    page > 1
      ? el("a", { href: to(page - 1), rel: "prev" }, "‹ prev")
      : el("span", { class: "off" }, "‹ prev"),
    el("label", {}, "page ", jump, ` of ${pages.toLocaleString("en")}`),
    page < pages
      ? el("a", { href: to(page + 1), rel: "next" }, "next ›")
      : el("span", { class: "off" }, "next ›"),
    ...extra,
  );
}

/** The page's cards, in a group per month taken (with its heading) when sorted by date. */
function groups(items, params) {
  const dated = BY_DATE.has(sortOf(params));
  const runs = [];
  for (const item of items) {
    const key = dated ? monthKey(item.taken_at) : null;
    if (!runs.length || runs.at(-1).key !== key) runs.push({ key, items: [] });
    runs.at(-1).items.push(item);
  }
  return runs.map(({ key, items: run }) =>
    el(
      "section",
      { class: "group", dataset: { month: key ?? "" } },
      dated
        ? el("h2", { class: "date-heading", id: `month-${key || "none"}`, tabindex: "-1" }, monthName(key))
        : null,
      el("div", { class: "cards", role: "list" }, ...run.map((item) => card(item, params))),
    ),
  );
}

/** Bring the heading of the month a jump asked for into view, focused. */
function showMonth(grid) {
  const heading = jumpedTo && grid?.querySelector(`#month-${jumpedTo}`);
  jumpedTo = null;
  if (!heading) return false;
  heading.scrollIntoView({ block: "start" });
  heading.focus({ preventScroll: true });
  return true;
}

/** Render the grid for the URL's filters and page into `container`, unless another view
 * starts drawing first (`live` turns false). */
export async function render(container, live = drawing()) {
  const { params } = current();
  const page = Math.max(1, Number(params.get("page")) || 1);
  performance.mark("grid-request");
  container.dataset.state = "loading";
  const dated = BY_DATE.has(sortOf(params));
  const [data, months] = await Promise.all([
    api.files(listQuery(params, page)),
    dated ? api.months(filtersOf(params)).catch(() => null) : null,
  ]);
  if (!live()) return;
  // Focus goes to the first card on a page's first load or when paging from the grid itself,
  // never away from a field being typed in.
  const active = document.activeElement;
  const hadFocus = !active || active === document.body || container.contains(active);
  const grid = el("div", { id: "grid", class: "grid", onkeydown: keys }, ...groups(data.items, params));
  const empty = data.items.length
    ? null
    : el("p", { class: "empty" }, "No file matches these filters.");
  const top = pager(data.total, page, params, [sortChoice(params), monthJump(months, params)]);
  const bottom = data.total > PAGE_SIZE ? pager(data.total, page, params) : null;
  show(container, top, grid, empty, bottom);
  await attach(grid, data, params, () => render(container)); // an editor's selection
  if (!live()) return;
  container.dataset.state = "ready";
  container.dataset.total = data.total;
  document.getElementById("announce").textContent =
    `${data.total.toLocaleString("en")} files${page > 1 ? `, page ${page}` : ""}`;
  requestAnimationFrame(() => {
    performance.mark("grid-paint");
    performance.measure("grid", "grid-request", "grid-paint");
  });
  const back = lastOpened && grid.querySelector(`[data-id="${lastOpened}"]`);
  lastOpened = null;
  if (showMonth(grid)) return;
  const link = (node) => (node?.matches("a") ? node : node?.querySelector("a"));
  if (back) link(back)?.focus();
  else if (hadFocus) {
    window.scrollTo(0, 0);
    link(grid.querySelector(".card"))?.focus({ preventScroll: true });
  } else window.scrollTo(0, 0);
}
