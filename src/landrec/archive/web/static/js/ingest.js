// The ingest view: pending / indexed / failed / unsupported / missing counts, the files that
// could not be indexed (failed or unsupported) with their reasons, a Retry per file and "Retry
// all failed" (editors), the upload panel (editors), and in the distributed mode the broker's
// queues and each worker's progress. Every few seconds the counters and
// the table are refreshed in place: the focus and the uploads in progress stay.

import * as api from "./api.js";
import { drawing, href } from "./route.js";
import { uploadPanel } from "./upload.js";
import { el, show, when } from "./util.js";

const REFRESH_MS = 3000;
const LIMIT = 500; // failures listed
const COUNTERS = ["pending", "indexed", "failed", "unsupported", "missing"];
let timer = null;

/** A counter's value from /api/stats (pending is its own figure, the others by status). */
const countOf = (stats, name) => (name === "pending" ? stats.pending : stats.status[name]) ?? 0;

function counter(name) {
  return el(
    "div",
    { class: `counter ${name}` },
    el("span", { class: "n" }, "–"),
    el("span", {}, name),
  );
}

/** The table's cells of one failure, in column order (the Retry button added by the row). */
function cells(f) {
  return [
    el("a", { href: href("file", new URLSearchParams(), f.id) }, f.path),
    f.status,
    f.error ?? "–",
    f.format ?? "–",
    String(f.attempts),
    when(f.last_processed),
  ];
}
const CLASSES = ["path", "status", "reason", "format", "attempts", "tried"];
const WORKER_HEADS = ["Worker", "Doing", "Indexed", "Failed", "Previews", "Last seen"];

/** The distributed mode's panel: queue depths and a row per worker; hidden in the embedded
 * mode. Rebuilt whole on each refresh (nothing in it takes the focus). */
class WorkersPanel {
  constructor() {
    this.queues = el("p", { id: "queues" });
    this.body = el("tbody");
    this.root = el(
      "section",
      { class: "workers-panel", id: "workers", "aria-labelledby": "workers-title", hidden: "" },
      el("h3", { id: "workers-title" }, "Workers"),
      this.queues,
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "failures" },
          el("thead", {}, el("tr", {}, ...WORKER_HEADS.map((h) => el("th", { scope: "col" }, h)))),
          this.body,
        ),
      ),
    );
  }

  update(progress) {
    this.root.hidden = !progress;
    if (!progress) return;
    const depths = progress.queues
      ? Object.entries(progress.queues).map(([q, n]) => `${q}: ${n.toLocaleString("en")}`)
      : ["the broker did not answer"];
    this.queues.textContent =
      `${progress.queued.toLocaleString("en")} files sent to the workers; waiting in the queues: ` +
      depths.join(", ");
    this.body.replaceChildren(
      ...progress.workers.map((w) =>
        el(
          "tr",
          { dataset: { name: w.name } },
          ...[
            w.name,
            w.doing ?? "idle",
            w.indexed.toLocaleString("en"),
            w.failed.toLocaleString("en"),
            w.previews.toLocaleString("en"),
            `${Math.round(w.seen_s_ago)} s ago`,
          ].map((text) => el("td", {}, text)),
        ),
      ),
    );
  }
}

/** The ingest view's state: its nodes, built once, and what refreshes them. */
class Ingest {
  constructor(editor) {
    this.editor = editor;
    this.rows = new Map(); // file id -> <tr>
    this.retrying = false;
    this.counters = Object.fromEntries(COUNTERS.map((name) => [name, counter(name)]));
    this.announce = el("p", { class: "retry-status", id: "retry-status", role: "status" });
    this.retryAll = editor
      ? el("button", { type: "button", id: "retry-all", class: "retry" }, "Retry all failed")
      : null;
    this.retryAll?.addEventListener("click", () =>
      this.retry({ action: "reindex", filter: { status: "failed" } }, "all failed files"),
    );
    this.body = el("tbody");
    const heads = ["File", "Status", "Reason", "Format", "Attempts", "Last tried"];
    this.table = el(
      "table",
      { id: "failures", class: "failures" },
      el("caption", { class: "visually-hidden" }, "Files that could not be indexed"),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...heads.map((h) => el("th", { scope: "col" }, h)),
          editor ? el("th", { scope: "col" }, "Action") : null,
        ),
      ),
      this.body,
    );
    this.empty = el("p", { class: "empty" }, "No failures.");
    this.title = el("h3", { id: "failures-title", tabindex: "-1" }, "Failures");
    this.workers = new WorkersPanel();
    this.root = el(
      "div",
      { class: "ingest" },
      el("h2", {}, "Ingest"),
      el("div", { class: "counters" }, ...Object.values(this.counters)),
      this.workers.root,
      editor ? uploadPanel(() => this.refresh().catch(() => {})) : null,
      el(
        "section",
        { class: "failures-panel", "aria-labelledby": "failures-title" },
        el("div", { class: "failures-head" }, this.title, this.retryAll),
        this.announce,
        this.empty,
        el("div", { class: "table-wrap" }, this.table),
      ),
    );
  }

  /** Ask the service again; update the counters and the table in place. */
  async refresh() {
    const [stats, failed] = await Promise.all([api.stats(), api.failures(LIMIT)]);
    for (const name of COUNTERS) {
      const n = this.counters[name].querySelector(".n");
      const text = countOf(stats, name).toLocaleString("en");
      if (n.textContent !== text) n.textContent = text;
    }
    this.workers.update(stats.distributed);
    this.rowsOf(failed);
    this.empty.hidden = failed.length > 0;
    this.table.hidden = failed.length === 0;
  }

  /** The table's rows to match `failed`: rows kept (their text updated), added, removed, and
   * moved only when out of order, so that a focused button keeps its focus. */
  rowsOf(failed) {
    const ids = new Set(failed.map((f) => f.id));
    for (const [id, tr] of this.rows) {
      if (ids.has(id)) continue;
      if (tr.contains(document.activeElement)) this.title.focus();
      tr.remove();
      this.rows.delete(id);
    }
    failed.forEach((f, index) => {
      let tr = this.rows.get(f.id);
      if (tr === undefined) {
        tr = this.row(f);
        this.rows.set(f.id, tr);
      } else {
        this.update(tr, f);
      }
      const here = this.body.children[index];
      if (here !== tr) this.body.insertBefore(tr, here ?? null);
    });
  }

  row(f) {
    const tr = el("tr", { dataset: { id: f.id, status: f.status } });
    cells(f).forEach((cell, i) => tr.append(el("td", { class: CLASSES[i] }, cell)));
    if (this.editor) {
      const name = f.path.split("/").pop();
      const button = el(
        "button",
        { type: "button", class: "retry", "aria-label": `Retry ${f.path}` },
        "Retry",
      );
      button.addEventListener("click", () =>
        this.retry({ action: "reindex", ids: [f.id] }, name),
      );
      tr.append(el("td", { class: "action" }, button));
    }
    return tr;
  }

  update(tr, f) {
    tr.dataset.status = f.status;
    const fresh = cells(f);
    CLASSES.forEach((cls, i) => {
      if (cls === "path") return; // the link (its path never changes for an id)
      const td = tr.querySelector(`td.${cls}`);
      if (td.textContent !== fresh[i]) td.textContent = fresh[i];
    });
  }

  /** Queue files for indexing again (POST /api/files/bulk, reindex); say how it went. */
  async retry(body, what) {
    if (this.retrying) return; // one retry at a time: a double click sends one
    this.retrying = true;
    this.announce.textContent = `Retrying ${what}…`;
    this.announce.dataset.state = "busy";
    try {
      const { matched, changed } = await api.bulk(body);
      this.announce.textContent =
        `Retried ${what}: ${changed} of ${matched} queued for indexing again.`;
      this.announce.dataset.state = "done";
    } catch (error) {
      this.announce.textContent = `Could not retry ${what}: ${error.message}`;
      this.announce.dataset.state = "error";
    }
    this.retrying = false;
    await this.refresh().catch(() => {});
  }
}

/** A file dropped beside the drop zone is ignored: the browser would leave the archive to
 * open it. */
function stray(event) {
  if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
}

/** The ingest view, its counters and table refreshed every few seconds until another view is
 * shown. */
export async function renderIngest(container, live = drawing()) {
  stop();
  const who = await api.me().catch(() => null);
  const view = new Ingest(api.canEdit(who));
  await view.refresh();
  if (!live()) return;
  show(container, view.root);
  container.dataset.state = "ready";
  if (view.editor) for (const type of ["dragover", "drop"]) document.addEventListener(type, stray);
  timer = setInterval(() => {
    if (!view.root.isConnected) stop();
    else if (!document.hidden) view.refresh().catch(() => {});
  }, REFRESH_MS);
}

export function stop() {
  clearInterval(timer);
  timer = null;
  for (const type of ["dragover", "drop"]) document.removeEventListener(type, stray);
}
