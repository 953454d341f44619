// One file: its picture or its video playing (the browser-ready preview; see preview.js), the
// context with its top-k, the correction select (and its undo), the video's context timeline, a
// small map (the file's telemetry track, following the player; else its position) and every
// metadata field, the campaign select among them for an editor. Previous and next walk the list
// the detail was opened from (walk.js); ✕ and Esc return to it (the grid, or the map).

import * as api from "./api.js";
import { remember } from "./grid.js";
import { pointMap } from "./map.js";
import { metadata } from "./meta.js";
import { describe, viewer } from "./preview.js";
import { backView, current, drawing, href } from "./route.js";
import { badge, colour, el, fileBadge, percent, show, viewPill, when } from "./util.js";
import { timeline } from "./timeline.js";
import { trackMap } from "./track.js";
import { neighbours, swipeOn, walker } from "./walk.js";

const NOWHERE = { previous: null, next: null };

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

/** The context as the head shows it: a user's label alone (the model's confidence is not its),
 * and beside it the model's label and confidence. */
function contextLine(file) {
  if (!file.corrected) return [el("span", { id: "context" }, fileBadge(file))];
  const model = `${file.model_context ?? "–"} ${percent(file.confidence)}`;
  return [
    el("span", { id: "context" }, badge(file.context, null)),
    el("span", { id: "corrected", class: "corrected" }, `corrected (model: ${model})`),
  ];
}

/** One step of the history, when it was made: a correction (the model's label → the user's), or
 * its undoing (back to the model's label). */
function step(c) {
  const what =
    c.context === (c.model_context ?? "")
      ? `back to the model's label, ${c.context || "none"}`
      : `${c.model_context ?? "–"} → ${c.context}`;
  return el("li", {}, `${when(c.created_at)}: ${what}`);
}

/** A form around `select` (after `before`) whose Save button stores its value with
 * `store(value)` and says whether that worked; the focus stays on the select. */
function savingForm(className, select, store, ...before) {
  const message = el("span", { class: "saved", role: "status" });
  const save = el("button", { type: "submit" }, "Save");
  const submit = async (event) => {
    event.preventDefault();
    if (!select.value) return;
    save.disabled = true;
    try {
      message.textContent = (await store(select.value)) ?? "saved";
    } catch (error) {
      message.textContent = `not saved: ${error.message}`;
    } finally {
      save.disabled = false;
      select.focus(); // a disabled button loses the focus to the body
    }
  };
  const form = el("form", { class: className, onsubmit: submit }, ...before, select, save, message);
  return { form, message };
}

/** The correction: a select of the classes (the file's context chosen), Save, Undo while the file
 * is corrected, the history. `changed(file)` is told the file as it is after each step. */
function correction(file, names, changed) {
  const select = el(
    "select",
    { id: "correct" },
    names.includes(file.context) ? null : el("option", { value: "" }, "choose…"),
    ...names.map((n) => el("option", { value: n, selected: n === file.context }, n)),
  );
  const label = el("label", { for: "correct" }, "Correct to ");
  const history = el("ul", { class: "history", "aria-label": "History of the corrections" });
  const undo = el("button", { type: "button", id: "undo" }, "Undo the correction");
  const update = (fresh) => {
    select.value = names.includes(fresh.context) ? fresh.context : "";
    undo.hidden = !fresh.corrected;
    history.replaceChildren(...fresh.corrections.map(step));
    history.hidden = !fresh.corrections.length;
    changed(fresh);
  };
  const store = async (context) => {
    await api.correct(file.id, context);
    const fresh = await api.file(file.id);
    update(fresh);
    return fresh.corrected ? "saved" : "saved: the model's label, not a correction";
  };
  const { form, message } = savingForm("correction", select, store, label);
  form.append(undo);
  undo.addEventListener("click", async () => {
    undo.disabled = true;
    try {
      await api.uncorrect(file.id);
      select.focus(); // before Undo hides itself
      update(await api.file(file.id));
      message.textContent = "undone: the model's label again";
    } catch (error) {
      message.textContent = `not undone: ${error.message}`;
    } finally {
      undo.disabled = false;
    }
  });
  update(file);
  return el("section", {}, el("h3", {}, "Correction"), form, history);
}

/** The campaign as a select an editor saves; null for a viewer (the metadata shows the text). */
function campaignChoice(file, who) {
  if (!api.canEdit(who)) return null;
  const select = el(
    "select",
    { id: "campaign", "aria-label": "Correct the campaign" },
    file.campaign ? null : el("option", { value: "" }, "choose…"),
    ...api.CAMPAIGNS.map((c) => el("option", { value: c, selected: c === file.campaign }, c)),
  );
  const mark = el("span", { class: "corrected" }, "corrected");
  const store = async (campaign) => {
    await api.setCampaign(file.id, campaign);
    form.append(mark);
  };
  const { form } = savingForm("campaign", select, store);
  if (file.campaign_corrected) form.append(mark);
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

/** The ✕ link back to the view the detail was opened from (the map's `back=map`, else the grid). */
function closeLink(params) {
  const where = backView(params) === "map" ? "the map" : "the list";
  return el(
    "a",
    {
      class: "close",
      href: href(backView(params), params),
      "aria-label": `Close: back to ${where} (Esc)`,
    },
    `✕ back to ${where}`,
  );
}

/** Render the detail of the URL's file into `container`: at the page's top, its heading
 * focused. */
export async function render(container, live = drawing()) {
  const { id, params } = current();
  remember(id);
  container.dataset.state = "loading";
  const [file, near, names, who] = await Promise.all([
    api.file(id),
    neighbours(id, params).catch(() => NOWHERE),
    api.classes().catch(() => []),
    api.me().catch(() => null),
  ]);
  const track = await trackOf(file);
  if (!live()) return;
  const shown = viewer(file);
  const player = shown?.player ?? null;
  const heading = el("h2", { title: file.path, tabindex: "-1" }, file.path);
  const context = el("span", { class: "detail-context" }, ...contextLine(file));
  const head = el(
    "header",
    { class: "detail-head" },
    closeLink(params),
    heading,
    context,
    viewPill(file.view, file.view_confidence),
    walker(id, near),
  );
  const changed = (fresh) => {
    context.replaceChildren(...contextLine(fresh));
    shown?.describe(describe(fresh));
  };
  const side = el("aside", { class: "side" }, topK(file), correction(file, names, changed));
  const place =
    track || (file.latitude !== null && file.longitude !== null)
      ? el("div", { id: "minimap", class: track ? "minimap tracked" : "minimap" })
      : null;
  const stage = el(
    "div",
    { class: "stage" },
    shown?.node ?? note(file),
    player ? timeline(file.segments, file.duration_s, player) : null,
    place,
  );
  swipeOn(stage);
  show(
    container,
    el(
      "article",
      { class: "detail", "aria-label": file.path },
      head,
      el("div", { class: "detail-body" }, stage, side),
      metadata(file, { campaign: campaignChoice(file, who) }),
    ),
  );
  window.scrollTo(0, 0); // the grid it came from may have been scrolled far down
  heading.focus({ preventScroll: true });
  if (track) trackMap(place, track, player);
  else if (place) pointMap(place, [file]);
  shown?.watch();
  container.dataset.state = "ready";
}
