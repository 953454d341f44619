// Upload from the GUI (editors): a drop zone and a file picker, several files at once (at most
// PARALLEL sent together), a row per file with its size, the progress of its upload and its
// outcome: stored (a link to its detail once indexed), refused and why, or retried after the
// server's Retry-After while it is busy.

import * as api from "./api.js";
import { href } from "./route.js";
import { bytes, el } from "./util.js";

const PARALLEL = 2; // uploads sent at once
const BUSY_RETRIES = 3; // a busy service (503) is asked again this many times per file
const BUSY_WAIT_S = 5; // when a 503 says no Retry-After
const MAX_WAIT_S = 60; // a longer Retry-After is cut to this

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server's reason: its `detail` text, or the messages of a 422's list. */
function reason(status, body) {
  if (body?.detail) return api.reason(body.detail);
  return status ? `HTTP ${status}` : "the connection closed before an answer";
}

/** POST one file (multipart field `file`, and `folder` when given) with progress; resolves
 * with the answer, never rejects (a broken connection is status 0). */
async function post(file, folder, progress) {
  const { csrf } = await api.me().catch(() => ({}));
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.setRequestHeader("Accept", "application/json");
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      progress.max = event.total || 1;
      progress.value = event.loaded;
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* no JSON: the status says enough */
      }
      const wait = Number.parseInt(xhr.getResponseHeader("Retry-After") ?? "", 10);
      resolve({ status: xhr.status, body, wait: Number.isFinite(wait) ? wait : null });
    };
    xhr.onerror = () => resolve({ status: 0, body: null, wait: null });
    const form = new FormData();
    if (folder) form.append("folder", folder);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

/** A file's row: name, size, progress, outcome; `data-state` says where it stands. `folder`:
 * where in the storage it goes ("" for the top). */
function row(file, folder) {
  const label = `Upload of ${file.name}`;
  const progress = el("progress", { max: file.size || 1, value: 0, "aria-label": label });
  const outcome = el("span", { class: "outcome" }, "waiting");
  const node = el(
    "li",
    { class: "upload", dataset: { state: "queued", name: file.name } },
    el("span", { class: "name" }, file.name),
    el("span", { class: "size" }, bytes(file.size)),
    progress,
    outcome,
  );
  const set = (state, ...text) => {
    node.dataset.state = state;
    outcome.replaceChildren(...text);
  };
  return { file, folder, node, progress, set };
}

/** Send one job, asking again after Retry-After while the service is busy (bounded). */
async function send(job) {
  for (let tries = 0; ; tries += 1) {
    job.set("uploading", "uploading…");
    job.progress.value = 0;
    const { status, body, wait } = await post(job.file, job.folder, job.progress);
    if (status === 503 && tries < BUSY_RETRIES) {
      const seconds = Math.min(wait ?? BUSY_WAIT_S, MAX_WAIT_S);
      job.set("busy", `server busy: trying again in ${seconds} s (${tries + 1}/${BUSY_RETRIES})`);
      await delay(seconds * 1000);
      continue;
    }
    if (status === 401) api.toLogin();
    return outcome(job, status, body);
  }
}

function outcome(job, status, body) {
  if (status === 201 || status === 202) {
    job.progress.value = job.progress.max;
    if (status === 201 && body?.id !== undefined) {
      const link = el("a", { href: href("file", new URLSearchParams(), body.id) }, body.path);
      job.set("stored", "stored as ", link);
    } else {
      job.set("stored", `stored as ${body?.path ?? job.file.name}, indexing…`);
    }
    return "stored";
  }
  job.set("refused", `refused: ${reason(status, body)}`);
  return "refused";
}

/** The upload panel; `onStored()` is called after each stored file (the counters refresh). */
export function uploadPanel(onStored) {
  const input = el("input", { type: "file", id: "upload-input", multiple: true, hidden: true });
  const pick = el("button", { type: "button", id: "upload-pick" }, "Choose files…");
  const zone = el(
    "div",
    { class: "dropzone", id: "dropzone" },
    el("p", {}, "Drop photos or videos here, or ", pick),
    input,
  );
  const folder = el("input", {
    type: "text",
    id: "upload-folder",
    placeholder: "e.g. campaigns/2024-06",
    autocomplete: "off",
  });
  const where = el(
    "p",
    { class: "upload-folder" },
    el("label", { for: "upload-folder" }, "Into the folder (optional) "),
    folder,
  );
  const list = el("ul", { class: "uploads", id: "uploads", "aria-label": "Uploads" });
  const status = el("p", { class: "upload-status", id: "upload-status", role: "status" });
  const jobs = [];
  const queue = [];
  let active = 0;

  const summary = () => {
    const count = (state) => jobs.filter((j) => j.node.dataset.state === state).length;
    const stored = count("stored");
    const refused = count("refused");
    const left = jobs.length - stored - refused;
    status.textContent =
      `${stored} stored, ${refused} refused` + (left ? `, ${left} to go` : "") + ".";
  };
  const pump = () => {
    while (active < PARALLEL && queue.length) {
      const job = queue.shift();
      active += 1;
      send(job).then((result) => {
        active -= 1;
        summary();
        if (result === "stored") onStored?.();
        pump();
      });
    }
  };
  const add = (files) => {
    for (const file of files) {
      const job = row(file, folder.value.trim());
      jobs.push(job);
      queue.push(job);
      list.append(job.node);
    }
    summary();
    pump();
  };

  pick.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    add([...input.files]);
    input.value = "";
  });
  const over = (on) => (event) => {
    event.preventDefault();
    zone.classList.toggle("over", on);
  };
  zone.addEventListener("dragenter", over(true));
  zone.addEventListener("dragover", over(true));
  zone.addEventListener("dragleave", over(false));
  zone.addEventListener("drop", (event) => {
    over(false)(event);
    add([...(event.dataTransfer?.files ?? [])]);
  });

  return el(
    "section",
    { class: "upload-panel", "aria-labelledby": "upload-title" },
    el("h3", { id: "upload-title" }, "Upload"),
    where,
    zone,
    status,
    list,
  );
}
