// Counts per context as a bar chart (plain HTML bars, each a link to its filtered grid); the
// ingest view is ingest.js.

import * as api from "./api.js";
import { drawing, href } from "./route.js";
import { colour, el, show } from "./util.js";

function bars(title, counts, link) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const most = Math.max(1, ...entries.map(([, n]) => n));
  return el(
    "section",
    { class: "chart" },
    el("h3", {}, title),
    el(
      "ul",
      { class: "bars" },
      ...entries.map(([name, n]) =>
        el(
          "li",
          { dataset: { name } },
          link
            ? el("a", { class: "label", href: link(name) }, name)
            : el("span", { class: "label" }, name),
          el(
            "span",
            { class: "bar" },
            el("span", {
              style: `width:${(100 * n) / most}%;background:${colour(link ? name : null)}`,
            }),
          ),
          el("span", { class: "value" }, n.toLocaleString("en")),
        ),
      ),
    ),
  );
}

/** The stats view. */
export async function render(container, live = drawing()) {
  container.dataset.state = "loading";
  const stats = await api.stats();
  if (!live()) return;
  const byContext = (name) =>
    href(
      "files",
      new URLSearchParams(name === "unknown" ? { unknown: "true" } : { context: name }),
    );
  show(
    container,
    el(
      "div",
      { class: "stats" },
      el("h2", {}, `${stats.total.toLocaleString("en")} files`),
      bars("Files per context", stats.context, byContext),
      Object.keys(stats.view ?? {}).length
        ? bars("View", stats.view, (name) => href("files", new URLSearchParams({ view: name })))
        : null,
      bars("Kind", stats.kind),
      bars("Status", stats.status),
      bars("Format", stats.format),
    ),
  );
  container.dataset.state = "ready";
}
