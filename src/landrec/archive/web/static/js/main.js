// The page's entry point: one view at a time, chosen by the URL's hash; the filter bar and
// the health line around it; Esc closes the detail.

import * as api from "./api.js";
import * as detail from "./detail.js";
import * as filters from "./filters.js";
import * as grid from "./grid.js";
import * as ingest from "./ingest.js";
import * as map from "./map.js";
import { backView, current, drawing, go } from "./route.js";
import * as stats from "./stats.js";
import { el, show } from "./util.js";

const VIEWS = {
  files: grid.render,
  file: detail.render,
  map: map.render,
  stats: stats.render,
  ingest: ingest.renderIngest,
};
const FILTERED = new Set(["files", "map"]);
const view = () => document.getElementById("view");
let busy = 0; // renders not yet returned, the older ones that draw nothing included


async function route() {
  const { view: name } = current();
  const render = VIEWS[name] ?? grid.render;
  ingest.stop();
  filters.visible(FILTERED.has(name));
  filters.syncFromUrl();
  for (const link of document.querySelectorAll("nav [data-view]")) {
    link.toggleAttribute(
      "aria-current",
      link.dataset.view === name || (name === "file" && link.dataset.view === "files"),
    );
  }
  const live = drawing();
  view().dataset.busy = ++busy;
  try {
    await render(view(), live);
    if (live()) view().dataset.route = location.hash; // what is drawn: tests wait for it
  } catch (error) {
    if (live()) {
      show(view(), el("p", { class: "error", role: "alert" }, `Could not load: ${error.message}`));
      view().dataset.state = "error";
    }
  } finally {
    view().dataset.busy = --busy;
  }
}

async function healthLine() {
  try {
    const h = await api.health();
    document.getElementById("health").textContent =
      `${h.files.toLocaleString("en")} files${h.pending ? `, ${h.pending.toLocaleString("en")} pending` : ""}`;
  } catch {
    /* the next poll tries again */
  }
}

/** Who is logged in, and a button to log out (nothing in an open archive or with a token). */
async function userLine() {
  const who = await api.me().catch(() => null);
  if (who?.via !== "session") return;
  const logout = el("button", { type: "button", id: "logout" }, "Log out");
  logout.addEventListener("click", async () => {
    await api.post("/api/logout").catch(() => {});
    api.toLogin();
  });
  show(document.getElementById("user"), el("span", {}, `${who.name} (${who.role}) `), logout);
}

function keys(event) {
  if (event.key !== "Escape") return;
  const { view: name, params } = current();
  if (name === "file" && !event.defaultPrevented) {
    event.preventDefault();
    go(backView(params), params);
  }
}

// The skip link focuses the view (its href would change the route).
document.getElementById("skip").addEventListener("click", (event) => {
  event.preventDefault();
  view().focus();
});
window.addEventListener("hashchange", route);
document.addEventListener("keydown", keys);
filters.bind();
filters.loadChoices().catch(() => {});
healthLine();
userLine();
setInterval(() => {
  if (!document.hidden) healthLine();
}, 5000);
route();
