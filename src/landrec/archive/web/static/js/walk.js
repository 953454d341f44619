// Previous and next on the detail page: the files beside this one in the list the detail was
// opened from (its URL keeps the list's filters, sort and page), across the list's page edges;
// as buttons, keys (←/→ and k/j) and a finger's swipe on the stage.

import * as api from "./api.js";
import { listQuery, PAGE_SIZE } from "./grid.js";
import { current, go } from "./route.js";
import { el, fileName } from "./util.js";

const SWIPE_PX = 50; // a finger's horizontal travel that counts as a swipe
const CONTROLS_PX = 48; // the bottom of a video, where its own controls take a swipe
// Where keys and swipes are the control's own: typing, playing, panning a map, a dialog.
const OWN_KEYS = "input, select, textarea, video, [contenteditable], .leaflet-container, .zoom";
const OWN_SWIPES = "input, select, textarea, .leaflet-container, .timeline";
const KEYS = { ArrowLeft: "previous", k: "previous", ArrowRight: "next", j: "next" };

let shown = null; // {id, near} of the detail on the page: what the keys move from

/** Page `page` (1-based) of the list that `params` describe, as the grid asks for it. */
function listPage(params, page) {
  return api.files(listQuery(params, page));
}

/** {previous, next} of file `id` in the list of `params`: each {item, page} or null (at an end,
 * or when the file is not on the URL's page: it no longer matches, or was not opened there). */
export async function neighbours(id, params) {
  const page = Math.max(1, Number(params.get("page")) || 1);
  const here = await listPage(params, page);
  const at = here.items.findIndex((item) => item.id === id);
  if (at < 0) return { previous: null, next: null };
  const last = Math.ceil(here.total / PAGE_SIZE);
  const beside = async (step) => {
    const inPage = here.items[at + step];
    if (inPage) return { item: inPage, page };
    if (page + step < 1 || page + step > last) return null;
    const items = (await listPage(params, page + step)).items;
    const item = step < 0 ? items.at(-1) : items[0];
    return item ? { item, page: page + step } : null;
  };
  const [previous, next] = await Promise.all([beside(-1), beside(1)]);
  return { previous, next };
}

/** Open a neighbour's detail, the URL's page the one that holds it (so Esc returns there). */
function open(link, params) {
  const next = new URLSearchParams(params);
  if (link.page > 1) next.set("page", link.page);
  else next.delete("page");
  go("file", next, link.item.id);
}

/** Open the detail `way` ("previous" or "next") of the shown one, if there is one. */
function step(way) {
  const link = shown?.near[way];
  if (!link || current().id !== shown.id) return false;
  open(link, current().params);
  return true;
}

function onKey(event) {
  const way = KEYS[event.key];
  if (!way || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  if (current().view !== "file" || event.target.closest?.(OWN_KEYS)) return;
  if (step(way)) event.preventDefault();
}

/** Swipes on `stage` (touch events, or pointer events of a finger or pen): to the left the
 * next file, to the right the previous. */
export function swipeOn(stage) {
  let start = null;
  const begin = (x, y, target) => {
    const video = target.closest?.("video");
    const onControls = video && y > video.getBoundingClientRect().bottom - CONTROLS_PX;
    start = target.closest?.(OWN_SWIPES) || onControls ? null : { x, y };
  };
  const end = (x, y) => {
    if (!start) return;
    const [dx, dy] = [x - start.x, y - start.y];
    start = null;
    if (Math.abs(dx) >= SWIPE_PX && Math.abs(dx) > 2 * Math.abs(dy))
      step(dx < 0 ? "next" : "previous");
  };
  const passive = { passive: true };
  stage.addEventListener(
    "touchstart",
    (e) => {
      if (e.touches.length === 1) begin(e.touches[0].clientX, e.touches[0].clientY, e.target);
      else start = null; // two fingers: a pinch
    },
    passive,
  );
  stage.addEventListener("touchend", (e) => {
    const touch = e.changedTouches[0];
    if (touch) end(touch.clientX, touch.clientY);
  });
  stage.addEventListener("touchcancel", () => (start = null));
  stage.addEventListener("pointerdown", (e) => {
    if (e.pointerType !== "mouse" && e.isPrimary) begin(e.clientX, e.clientY, e.target);
  });
  stage.addEventListener("pointerup", (e) => {
    if (e.pointerType !== "mouse") end(e.clientX, e.clientY);
  });
}

function button(way, link) {
  const [text, name] = way === "next" ? ["next ›", "Next file"] : ["‹ previous", "Previous file"];
  const title = link ? fileName(link.item.path) : null;
  return el(
    "button",
    {
      type: "button",
      class: `walk-${way}`,
      "aria-label": title ? `${name}: ${title}` : `${name} (none)`,
      title,
      disabled: !link,
      onclick: () => step(way),
    },
    text,
  );
}

let bound = false;

/** The previous and next buttons of file `id` (its neighbours `near`); the keys follow them
 * (and swipes on a stage given to `swipeOn`). */
export function walker(id, near) {
  shown = { id, near };
  if (!bound) document.addEventListener("keydown", onKey);
  bound = true;
  return el(
    "nav",
    { class: "walk", "aria-label": "Previous and next in the list" },
    button("previous", near.previous),
    button("next", near.next),
  );
}
