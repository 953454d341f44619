// The grid: one page of thumbnails (context badge + confidence on each), the total, paging.
// The server pages by ids first, so page 2,000 of 100,000 rows costs about what page 1 does.
// Keys: arrows move between cards, Enter opens one, PageUp/PageDown turn pages.

import * as api from "./api.js";
import { current, go, href } from "./route.js";
import { badge, el, fileName, show } from "./util.js";

export const PAGE_SIZE = 60;
let lastOpened = null; // the id whose detail was open: focused again on return
let generation = 0; // a newer render wins over a slower, older one

export function remember(id) {
  lastOpened = id;
}

function card(item, params) {
  const thumb = item.thumbnail_url
    ? el("img", { src: item.thumbnail_url, alt: "", loading: "lazy", decoding: "async" })
    : el("span", { class: "nothumb" }, item.kind === "video" ? "video" : item.status);
  const status =
    item.status === "indexed" ? null : el("span", { class: `status ${item.status}` }, item.status);
  return el(
    "a",
    {
      class: "card",
      href: href("file", params, item.id),
      dataset: { id: item.id },
      title: item.path,
    },
    el(
      "span",
      { class: "thumb" },
      thumb,
      item.kind === "video" ? el("span", { class: "play" }, "▶") : null,
    ),
    el(
      "span",
      { class: "caption" },
      badge(item.context, item.confidence),
      item.corrected ? el("span", { class: "corrected" }, "corrected") : null,
      status,
    ),
    el("span", { class: "name" }, fileName(item.path)),
  );
}

function pager(total, page, params) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const to = (p) => {
    const next = new URLSearchParams(params);
    next.set("page", p);
    return href("files", next);
  };
  const jump = el("input", {
    type: "number",
    min: 1,
    max: pages,
    value: page,
    "aria-label": "Page",
    onchange: (e) => {
      const next = new URLSearchParams(params);
      next.set("page", Math.min(pages, Math.max(1, Number(e.target.value) || 1)));
      go("files", next);
    },
  });
  const sort = el(
    "select",
    {
      "aria-label": "Sort",
      onchange: (e) => {
        const next = new URLSearchParams(params);
        next.set("sort", e.target.value);
        next.delete("page");
        go("files", next);
      },
    },
    ...[
      ["-id", "newest"],
      ["id", "oldest"],
      ["-taken_at", "taken (newest)"],
      ["taken_at", "taken (oldest)"],
      ["-confidence", "confidence ↓"],
      ["confidence", "confidence ↑"],
      ["path", "name"],
      ["-size", "size ↓"],
    ].map(([value, label]) =>
      el("option", { value, selected: (params.get("sort") || "-id") === value }, label),
    ),
  );
  return el(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    el("span", { id: "total", class: "total" }, `${total.toLocaleString("en")} files`),
    page > 1
      ? el("a", { href: to(page - 1), rel: "prev" }, "‹ prev")
      : el("span", { class: "off" }, "‹ prev"),
    el("label", {}, "page ", jump, ` of ${pages.toLocaleString("en")}`),
    page < pages
      ? el("a", { href: to(page + 1), rel: "next" }, "next ›")
      : el("span", { class: "off" }, "next ›"),
    el("label", {}, "sort ", sort),
  );
}

/** Render the grid for the URL's filters and page into `container`. */
export async function render(container) {
  const mine = ++generation;
  const { params } = current();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const query = new URLSearchParams(params);
  query.set("page", page);
  query.set("page_size", PAGE_SIZE);
  performance.mark("grid-request");
  container.dataset.state = "loading";
  const data = await api.files(query);
  if (mine !== generation) return;
  const grid = el("div", { id: "grid", class: "grid", role: "list", onkeydown: keys });
  grid.append(...data.items.map((item) => card(item, params)));
  const empty = data.items.length
    ? null
    : el("p", { class: "empty" }, "No file matches these filters.");
  show(container, pager(data.total, page, params), grid, empty);
  container.dataset.state = "ready";
  container.dataset.total = data.total;
  requestAnimationFrame(() => {
    performance.mark("grid-paint");
    performance.measure("grid", "grid-request", "grid-paint");
  });
  const back = lastOpened && grid.querySelector(`[data-id="${lastOpened}"]`);
  (back || grid.firstElementChild)?.focus({ preventScroll: !back });
  lastOpened = null;
}

function columns(grid) {
  const cards = grid.children;
  const top = cards[0]?.offsetTop;
  let n = 0;
  while (n < cards.length && cards[n].offsetTop === top) n += 1;
  return Math.max(1, n);
}

function keys(event) {
  const grid = event.currentTarget;
  const cards = [...grid.children];
  const at = cards.indexOf(document.activeElement);
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(grid), ArrowDown: columns(grid) }[
    event.key
  ];
  if (step !== undefined && at >= 0) {
    event.preventDefault();
    cards[Math.min(cards.length - 1, Math.max(0, at + step))].focus();
    return;
  }
  if (event.key === "PageDown" || event.key === "PageUp") {
    const link = document.querySelector(
      event.key === "PageDown" ? ".pager [rel=next]" : ".pager [rel=prev]",
    );
    if (link) {
      event.preventDefault();
      location.hash = link.getAttribute("href");
    }
  }
}
