// Counts per context as a bar chart (plain HTML bars, each a link to its filtered grid), and
// the ingest view: pending / indexed / failed counts and the failures with their reasons,
// refreshed while the view is open.

import * as api from "./api.js";
import { href } from "./route.js";
import { colour, el, show, when } from "./util.js";

const REFRESH_MS = 3000;
let timer = null;

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
export async function render(container) {
  container.dataset.state = "loading";
  const stats = await api.stats();
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
      bars("Kind", stats.kind),
      bars("Status", stats.status),
      bars("Format", stats.format),
    ),
  );
  container.dataset.state = "ready";
}

function counter(label, n, cls) {
  return el(
    "div",
    { class: `counter ${cls}` },
    el("span", { class: "n" }, n.toLocaleString("en")),
    el("span", {}, label),
  );
}

async function ingest(container) {
  const [stats, failed] = await Promise.all([api.stats(), api.failures()]);
  const s = stats.status;
  const list = failed.length
    ? el(
        "table",
        { id: "failures", class: "failures" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", {}, "File"),
            el("th", {}, "Reason"),
            el("th", {}, "Format"),
            el("th", {}, "Attempts"),
            el("th", {}, "Last tried"),
          ),
        ),
        el(
          "tbody",
          {},
          ...failed.map((f) =>
            el(
              "tr",
              { dataset: { id: f.id } },
              el("td", {}, el("a", { href: href("file", new URLSearchParams(), f.id) }, f.path)),
              el("td", { class: "reason" }, f.error ?? "–"),
              el("td", {}, f.format ?? "–"),
              el("td", {}, f.attempts),
              el("td", {}, when(f.last_processed)),
            ),
          ),
        ),
      )
    : el("p", { class: "empty" }, "No failures.");
  show(
    container,
    el(
      "div",
      { class: "ingest" },
      el("h2", {}, "Ingest"),
      el(
        "div",
        { class: "counters" },
        counter("pending", stats.pending, "pending"),
        counter("indexed", s.indexed ?? 0, "indexed"),
        counter("failed", s.failed ?? 0, "failed"),
        counter("unsupported", s.unsupported ?? 0, "unsupported"),
        counter("missing", s.missing ?? 0, "missing"),
      ),
      el("h3", {}, "Failures"),
      list,
    ),
  );
  container.dataset.state = "ready";
}

/** The ingest view, refreshed every few seconds until another view is shown. */
export async function renderIngest(container) {
  stop();
  await ingest(container);
  timer = setInterval(() => {
    if (!document.hidden) ingest(container).catch(() => {});
  }, REFRESH_MS);
}

export function stop() {
  clearInterval(timer);
  timer = null;
}
