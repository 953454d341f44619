// One file's card in the grid (thumbnail, context badge and confidence, name), and the grid's
// keys: arrows move between cards, Enter opens one, PageUp/PageDown turn pages.

import { href } from "./route.js";
import { el, fileBadge, fileName, viewPill } from "./util.js";

/** The card of a list item: a list item holding the link to its detail (with the list's
 * `params` kept); the selection puts a checkbox beside the link (an input inside a link is
 * invalid HTML). */
export function card(item, params) {
  const thumb = item.thumbnail_url
    ? el("img", { src: item.thumbnail_url, alt: "", loading: "lazy", decoding: "async" })
    : el("span", { class: "nothumb" }, item.kind === "video" ? "video" : item.status);
  const status =
    item.status === "indexed" ? null : el("span", { class: `status ${item.status}` }, item.status);
  const link = el(
    "a",
    { class: "open", href: href("file", params, item.id), title: item.path },
    el(
      "span",
      { class: "thumb" },
      thumb,
      item.kind === "video" ? el("span", { class: "play" }, "▶") : null,
    ),
    el(
      "span",
      { class: "caption" },
      fileBadge(item),
      viewPill(item.view, item.view_confidence),
      item.corrected ? el("span", { class: "corrected" }, "corrected") : null,
      status,
    ),
    el("span", { class: "name" }, fileName(item.path)),
  );
  return el("div", { class: "card", role: "listitem", dataset: { id: item.id } }, link);
}

/** The links of the grid's cards, in reading order (the grid may hold several groups). */
const targets = (grid) =>
  [...grid.querySelectorAll(".card")].map((c) => (c.matches("a") ? c : c.querySelector("a")));

/** The target in the row above (`down` false) or below `from`, the nearest horizontally. */
function vertical(links, from, down) {
  const at = from.getBoundingClientRect();
  const rows = links
    .map((link) => [link, link.getBoundingClientRect()])
    .filter(([, r]) => (down ? r.top > at.top + 1 : r.top < at.top - 1));
  if (!rows.length) return from;
  const row = down ? Math.min(...rows.map(([, r]) => r.top)) : Math.max(...rows.map(([, r]) => r.top));
  const near = rows.filter(([, r]) => Math.abs(r.top - row) < 1);
  near.sort(([, a], [, b]) => Math.abs(a.left - at.left) - Math.abs(b.left - at.left));
  return near[0][0];
}

/** The grid's keydown handler: arrows move between cards (across date groups), PageUp and
 * PageDown turn pages. */
export function keys(event) {
  const links = targets(event.currentTarget);
  const at = links.indexOf(document.activeElement);
  if (at >= 0 && ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) {
    event.preventDefault();
    const from = links[at];
    const to = {
      ArrowLeft: () => links[Math.max(0, at - 1)],
      ArrowRight: () => links[Math.min(links.length - 1, at + 1)],
      ArrowUp: () => vertical(links, from, false),
      ArrowDown: () => vertical(links, from, true),
    }[event.key]();
    to.focus();
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
