// Selecting many files in the grid and acting on all of them at once (editors only): a
// checkbox per card, a click toggles (once something is selected, a click on a card too),
// shift-click selects the range from the last one clicked, Space on a focused card toggles it,
// "Select all N matching" takes every file of the filter (every page: the API gets the filter,
// not ids). The bar's actions are one POST /api/files/bulk each; acting on more than the page
// asks for a confirmation first; the result is announced and the grid reloaded.

import * as api from "./api.js";
import { filtersOf } from "./route.js";
import { el, fileName } from "./util.js";

const DONE = {
  correct: "corrected",
  clear: "back to the model's label",
  reindex: "queued for re-indexing",
};

// The selection outlives a page turn (same filters), not a change of the filters.
const state = { filters: null, ids: new Set(), all: false, last: null, message: "" };

const count = (n) => `${n.toLocaleString("en")} ${n === 1 ? "file" : "files"}`;

function clear() {
  state.ids.clear();
  state.all = false;
  state.last = null;
}

/** Add the selection to a rendered page of the grid: `grid` holds its `.card`s, `data` is the
 * page (`items`, `total`), `params` the URL's, `reload` renders the grid again. A viewer gets
 * nothing. */
export async function attach(grid, data, params, reload) {
  const who = await api.me().catch(() => null);
  if (!api.canEdit(who)) return;
  const filters = filtersOf(params);
  if (filters.toString() !== state.filters) {
    state.filters = filters.toString();
    clear();
  }
  const cards = [...grid.querySelectorAll(".card")];
  const onPage = new Set(data.items.map((item) => item.id));
  const status = el("p", { class: "select-status", role: "status" });
  const actions = el("div", { class: "select-actions" });
  const bar = el(
    "div",
    { class: "selectbar", role: "region", "aria-label": "Selection" },
    actions,
    status,
  );
  const page = { cards, onPage, total: data.total, filters, actions, status, reload };
  for (const node of cards) node.append(checkbox(node, page));
  grid.addEventListener("click", (event) => cardClick(event, page));
  grid.addEventListener("keydown", (event) => spaceKey(event, page));
  grid.before(bar);
  await draw(page);
  if (state.message) {
    const message = state.message;
    state.message = "";
    requestAnimationFrame(() => (status.textContent = message)); // once the region is live
  }
}

function checkbox(node, page) {
  const name = fileName(node.querySelector(".open")?.title ?? "");
  const box = el("input", {
    type: "checkbox",
    class: "pick",
    "aria-label": `Select ${name}`,
    checked: state.all || state.ids.has(Number(node.dataset.id)),
  });
  box.addEventListener("click", (event) => {
    pick(node, box.checked, event.shiftKey, page);
  });
  return box;
}

/** A card's id (un)selected, or the range from the last one clicked when `range`. */
function pick(node, on, range, page) {
  const id = Number(node.dataset.id);
  const ids = page.cards.map((c) => Number(c.dataset.id));
  if (state.all && !on) {
    // Leaving "all matching": what stays selected is this page's cards, less this one.
    state.all = false;
    state.ids = new Set(ids);
  }
  const from = ids.indexOf(state.last);
  const to = ids.indexOf(id);
  const span = range && from >= 0 ? ids.slice(Math.min(from, to), Math.max(from, to) + 1) : [id];
  for (const one of span) {
    if (on) state.ids.add(one);
    else state.ids.delete(one);
  }
  state.last = id;
  sync(page);
  draw(page);
}

const selecting = () => state.all || state.ids.size > 0;

/** A click on a card's link while selecting (or a shift-click) toggles it instead of
 * opening it; Enter (a click without a pointer) still opens it. */
function cardClick(event, page) {
  const link = event.target.closest(".card .open");
  if (!link || event.detail === 0 || !(selecting() || event.shiftKey)) return;
  event.preventDefault();
  const node = link.closest(".card");
  pick(node, !node.querySelector(".pick").checked, event.shiftKey, page);
}

function spaceKey(event, page) {
  const link = event.target.closest?.(".card .open");
  if (!link || event.key !== " ") return;
  event.preventDefault();
  const node = link.closest(".card");
  pick(node, !node.querySelector(".pick").checked, event.shiftKey, page);
}

/** The checkboxes and the cards' look as the selection says. */
function sync(page) {
  for (const node of page.cards) {
    const on = state.all || state.ids.has(Number(node.dataset.id));
    node.querySelector(".pick").checked = on;
    node.classList.toggle("selected", on);
  }
}

/** The bar: how many are selected and the actions (or the confirmation of one). */
async function draw(page, confirming = null) {
  sync(page);
  const n = state.all ? page.total : state.ids.size;
  const all =
    page.total > 0 && !state.all && n < page.total
      ? el(
          "button",
          { type: "button", class: "select-all", onclick: () => selectAll(page) },
          `Select all ${count(page.total)} matching`,
        )
      : null;
  if (!n) {
    page.actions.replaceChildren(...[all].filter(Boolean));
    return;
  }
  if (confirming) {
    page.actions.replaceChildren(...confirmStep(page, n, confirming));
    page.actions.querySelector(".confirm")?.focus();
    return;
  }
  const classes = await api.classes().catch(() => []);
  const context = el(
    "select",
    { id: "bulk-context" },
    ...classes.map((name) => el("option", { value: name }, name)),
  );
  page.actions.replaceChildren(
    el("span", { class: "select-count" }, `${count(n)} selected`),
    all,
    el(
      "span",
      { class: "select-correct" },
      el("label", { for: "bulk-context" }, "Correct to "),
      context,
      el(
        "button",
        { type: "button", id: "bulk-apply", onclick: () => ask(page, "correct", context.value) },
        "Apply",
      ),
    ),
    el(
      "button",
      { type: "button", id: "bulk-clear", onclick: () => ask(page, "clear", null) },
      "Back to the model's label",
    ),
    el(
      "button",
      { type: "button", id: "bulk-reindex", onclick: () => ask(page, "reindex", null) },
      "Re-index",
    ),
    el(
      "button",
      {
        type: "button",
        id: "bulk-none",
        onclick: async () => {
          clear();
          await draw(page);
          page.actions.querySelector(".select-all")?.focus(); // not lost with the button
        },
      },
      "Clear selection",
    ),
  );
}

function selectAll(page) {
  state.all = true;
  state.ids.clear();
  draw(page);
}

const beyondPage = (page) =>
  state.all ? page.total > page.onPage.size : [...state.ids].some((id) => !page.onPage.has(id));

/** Act at once on the page's files; beyond the page, after a confirmation. */
function ask(page, action, context) {
  if (beyondPage(page)) draw(page, { action, context });
  else act(page, action, context);
}

function confirmStep(page, n, { action, context }) {
  const what = {
    correct: `Correct ${count(n)} to ${context}?`,
    clear: `Put ${count(n)} back to the model's label?`,
    reindex: `Re-index ${count(n)}?`,
  }[action];
  return [
    el("span", { class: "select-question" }, `${what} (beyond this page)`),
    el(
      "button",
      { type: "button", class: "confirm", onclick: () => act(page, action, context) },
      "Confirm",
    ),
    el("button", { type: "button", class: "cancel", onclick: () => cancel(page) }, "Cancel"),
  ];
}

async function cancel(page) {
  await draw(page);
  page.actions.querySelector("#bulk-apply")?.focus();
}

async function act(page, action, context) {
  const body = { action };
  if (context) body.context = context;
  if (state.all) body.filter = Object.fromEntries(page.filters);
  else body.ids = [...state.ids];
  for (const button of page.actions.querySelectorAll("button")) button.disabled = true;
  try {
    const { matched, changed } = await api.bulk(body);
    const done = DONE[action] + (context ? ` to ${context}` : "");
    const same = matched - changed;
    const already = same ? ` (${same.toLocaleString("en")} already were)` : "";
    state.message = `${count(changed)} ${done}${already}`;
    clear();
    await page.reload();
  } catch (error) {
    page.status.textContent = `Could not apply: ${error.message}`;
    draw(page);
  }
}
