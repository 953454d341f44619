// One file: the image (or the video playing, through the Range-capable content URL), the
// context with its top-k, the correction select, the video's context timeline, a small map
// where the file has a position, and every metadata field.

import * as api from "./api.js";
import { remember } from "./grid.js";
import { pointMap } from "./map.js";
import { metadata } from "./meta.js";
import { current, href } from "./route.js";
import { badge, colour, el, percent, show, when } from "./util.js";
import { timeline } from "./timeline.js";

// What a browser shows itself; other images (TIFF, HEIF, …) are shown by their thumbnail.
const SHOWN = new Set([
  "JPEG image",
  "MPO image",
  "PNG image",
  "GIF image",
  "WEBP image",
  "BMP image",
]);

function media(file) {
  if (file.kind === "video") {
    const video = el("video", {
      id: "player",
      src: api.contentUrl(file.id),
      controls: true,
      preload: "metadata",
      poster: file.thumbnail_url,
      tabindex: "0",
    });
    video.addEventListener("error", () =>
      video.after(
        el(
          "p",
          { class: "note" },
          `This browser cannot play ${file.codec ?? "this"} video; the timeline still lists its segments.`,
        ),
      ),
    );
    return video;
  }
  if (SHOWN.has(file.format))
    return el("img", { id: "picture", src: api.contentUrl(file.id), alt: file.path });
  if (file.thumbnail_url)
    return el("img", { id: "picture", src: file.thumbnail_url, alt: file.path });
  return el("p", { class: "note" }, file.error ? `Not indexed: ${file.error}` : "No preview.");
}

function topK(file) {
  if (!file.top_k?.length) return null;
  return el(
    "section",
    {},
    el("h3", {}, "Top-k"),
    el(
      "ol",
      { class: "topk" },
      ...file.top_k.map((t) =>
        el(
          "li",
          {},
          el("span", { class: "label" }, t.label),
          el(
            "span",
            { class: "bar" },
            el("span", { style: `width:${100 * t.probability}%;background:${colour(t.label)}` }),
          ),
          el("span", { class: "value" }, percent(t.probability)),
        ),
      ),
    ),
  );
}

async function correction(file, onSaved) {
  const names = await api.classes().catch(() => []);
  const select = el(
    "select",
    { id: "correct", "aria-label": "Correct the context" },
    el("option", { value: "" }, "choose…"),
    ...names.map((n) =>
      el("option", { value: n, selected: n === file.context && file.corrected }, n),
    ),
  );
  const message = el("span", { class: "saved", role: "status" });
  const save = el("button", { type: "submit" }, "Save");
  const form = el(
    "form",
    {
      class: "correction",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!select.value) return;
        save.disabled = true;
        try {
          await api.correct(file.id, select.value);
          message.textContent = "saved";
          onSaved();
        } catch (error) {
          message.textContent = `not saved: ${error.message}`;
        } finally {
          save.disabled = false;
        }
      },
    },
    el("label", { for: "correct" }, "Correct to "),
    select,
    save,
    message,
  );
  return el("section", {}, el("h3", {}, "Correction"), form, history(file));
}

function history(file) {
  if (!file.corrections.length) return null;
  return el(
    "ul",
    { class: "history" },
    ...file.corrections.map((c) =>
      el("li", {}, `${when(c.created_at)}: ${c.model_context ?? "–"} → ${c.context}`),
    ),
  );
}

/** Render the detail of the URL's file into `container`. */
export async function render(container) {
  const { id, params } = current();
  remember(id);
  container.dataset.state = "loading";
  const file = await api.file(id);
  const close = el(
    "a",
    { class: "close", href: href("files", params), "aria-label": "Close (Esc)" },
    "✕ back to the list",
  );
  const state = file.corrected
    ? el(
        "span",
        { id: "corrected", class: "corrected" },
        `corrected (model: ${file.model_context ?? "–"})`,
      )
    : null;
  const shown = media(file);
  const head = el(
    "header",
    { class: "detail-head" },
    close,
    el("h2", { title: file.path }, file.path),
    el("span", { id: "context" }, badge(file.context, file.confidence)),
    state,
  );
  const side = el(
    "aside",
    { class: "side" },
    topK(file),
    await correction(file, () => render(container)),
  );
  const place =
    file.latitude !== null && file.longitude !== null
      ? el("div", { id: "minimap", class: "minimap" })
      : null;
  const body = el(
    "div",
    { class: "detail-body" },
    el(
      "div",
      { class: "stage" },
      shown,
      file.kind === "video" ? timeline(file.segments, file.duration_s, shown) : null,
      place,
    ),
    side,
  );
  show(
    container,
    el("article", { class: "detail", "aria-label": file.path }, head, body, metadata(file)),
  );
  if (place) pointMap(place, [file]);
  container.dataset.state = "ready";
}
