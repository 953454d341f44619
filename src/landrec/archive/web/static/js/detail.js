// One file: its picture or its video playing (the browser-ready preview; see preview.js), the
// context with its top-k, the correction select, the video's context timeline, a small map
// (the file's telemetry track, following the player; else its position) and every metadata
// field, the campaign select among them for an editor.

import * as api from "./api.js";
import { remember } from "./grid.js";
import { pointMap } from "./map.js";
import { metadata } from "./meta.js";
import { viewer } from "./preview.js";
import { current, href } from "./route.js";
import { badge, colour, el, percent, show, when } from "./util.js";
import { timeline } from "./timeline.js";
import { trackMap } from "./track.js";

/** What stands for a file that is neither a picture nor a video (the viewer shows those). */
function note(file) {
  if (file.has_track)
    return el("p", { class: "note" }, "Navigation data: its track and footprints are on the map.");
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

/** A form around `select` (after `before`) whose Save button stores its value with
 * `store(value)`, says whether that worked, then calls `onSaved`. */
function savingForm(className, select, store, onSaved, ...before) {
  const message = el("span", { class: "saved", role: "status" });
  const save = el("button", { type: "submit" }, "Save");
  const submit = async (event) => {
    event.preventDefault();
    if (!select.value) return;
    save.disabled = true;
    try {
      await store(select.value);
      message.textContent = "saved";
      onSaved();
    } catch (error) {
      message.textContent = `not saved: ${error.message}`;
    } finally {
      save.disabled = false;
    }
  };
  return el("form", { class: className, onsubmit: submit }, ...before, select, save, message);
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
  const store = (context) => api.correct(file.id, context);
  const label = el("label", { for: "correct" }, "Correct to ");
  const form = savingForm("correction", select, store, onSaved, label);
  return el("section", {}, el("h3", {}, "Correction"), form, history(file));
}

/** The campaign as a select an editor saves; null for a viewer (the metadata shows the text). */
async function campaignChoice(file, onSaved) {
  const who = await api.me().catch(() => null);
  if (!who || who.role === "viewer") return null;
  const select = el(
    "select",
    { id: "campaign", "aria-label": "Correct the campaign" },
    file.campaign ? null : el("option", { value: "" }, "choose…"),
    ...api.CAMPAIGNS.map((c) => el("option", { value: c, selected: c === file.campaign }, c)),
  );
  const store = (campaign) => api.setCampaign(file.id, campaign);
  const form = savingForm("campaign", select, store, onSaved);
  if (file.campaign_corrected) form.append(el("span", { class: "corrected" }, "corrected"));
  return form;
}

/** The track of a file that has one (null on a 404: the file changed since it was listed). */
async function trackOf(file) {
  if (!file.has_track) return null;
  try {
    return await api.track(file.id);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
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
  const shown = viewer(file);
  const player = shown?.player ?? null;
  const head = el(
    "header",
    { class: "detail-head" },
    close,
    el("h2", { title: file.path }, file.path),
    el("span", { id: "context" }, badge(file.context, file.confidence)),
    state,
  );
  const rerender = () => render(container);
  const side = el("aside", { class: "side" }, topK(file), await correction(file, rerender));
  const track = await trackOf(file);
  const place =
    track || (file.latitude !== null && file.longitude !== null)
      ? el("div", { id: "minimap", class: track ? "minimap tracked" : "minimap" })
      : null;
  const body = el(
    "div",
    { class: "detail-body" },
    el(
      "div",
      { class: "stage" },
      shown?.node ?? note(file),
      player ? timeline(file.segments, file.duration_s, player) : null,
      place,
    ),
    side,
  );
  show(
    container,
    el(
      "article",
      { class: "detail", "aria-label": file.path },
      head,
      body,
      metadata(file, { campaign: await campaignChoice(file, rerender) }),
    ),
  );
  if (track) trackMap(place, track, player);
  else if (place) pointMap(place, [file]);
  shown?.watch();
  container.dataset.state = "ready";
}
