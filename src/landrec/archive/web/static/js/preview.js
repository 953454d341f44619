// A file's browser-ready rendition on the detail page (GET /api/files/{id}/preview): a video
// plays its H.264/AAC proxy (or the original, when the browser plays that), a still shows its
// display-size copy and opens the original in a full-resolution view. While the copy is being
// made the viewer says how far it is and asks again when the server's Retry-After says; a copy
// that cannot be made says why. "Download original" (GET …/content) is always offered.
// The viewer's node says its state in `data-preview`: pending, running, ready, failed, original.

import * as api from "./api.js";
import { el, fileName, percent } from "./util.js";

const WAITING = new Set(["pending", "running"]);
const FIRST_WAIT_S = 1; // between polls when the server sends no Retry-After (doubling)
const LONGEST_WAIT_S = 30;
const SHORTEST_WAIT_S = 0.25;
// What a browser shows itself when no preview was made (an archive from before previews).
const SHOWN = new Set([
  "JPEG image",
  "MPO image",
  "PNG image",
  "GIF image",
  "WEBP image",
  "BMP image",
]);
// HTMLMediaElement's MediaError codes, as a reader would say them.
const MEDIA_ERRORS = {
  1: "loading was aborted",
  2: "a network error interrupted it",
  3: "its video could not be decoded",
  4: "its format is not one this browser plays",
};

const sleep = (seconds) => new Promise((done) => setTimeout(done, seconds * 1000));

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); null if none. */
function retryAfter(header) {
  if (!header) return null;
  const delay = /^\d+(\.\d+)?$/.test(header.trim())
    ? Number(header)
    : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(delay)) return null;
  return Math.min(LONGEST_WAIT_S, Math.max(SHORTEST_WAIT_S, delay));
}

/** Where the preview stands, by asking for its first byte: {status, progress, wait} while it is
 * made (202), {status: "failed", error} when it cannot be (422), {status: "ready"} when it is. */
async function ask(id) {
  const response = await fetch(api.previewUrl(id), {
    headers: { Accept: "application/json", Range: "bytes=0-0" },
    cache: "no-store",
  });
  if (response.status === 202) {
    const body = await response.json().catch(() => ({}));
    const wait = retryAfter(response.headers.get("Retry-After"));
    return { status: body.status ?? "pending", progress: body.progress ?? null, wait };
  }
  if (response.status === 401) api.toLogin();
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    // the 422's detail says "no preview: <reason>"; the viewer says the "no preview" itself
    const reason = body.detail?.replace?.(/^no preview: /, "");
    return { status: "failed", error: reason ?? `${response.status} ${response.statusText}` };
  }
  await response.body?.cancel();
  return { status: "ready" };
}

/** The link to the original, named as the file is. */
function download(file) {
  return el(
    "a",
    { class: "download", href: api.contentUrl(file.id), download: fileName(file.path) },
    "Download original",
  );
}

/** The line that says how the preview stands: progress while it is made, else a reason. */
function stateLine() {
  const text = el("span", { class: "preview-text" });
  const bar = el("progress", { max: "1", hidden: true });
  return { node: el("p", { class: "preview-state note", role: "status" }, text, bar), text, bar };
}

/** A viewer whose `show(state)` swaps what it shows for the preview's state (ready, original,
 * failed, waiting), and `watch()` asks the server until the preview is there. */
class Viewer {
  constructor(file, shown, what) {
    this.file = file;
    this.shown = shown; // the <video> or <img>
    this.what = what; // "playable" or "display"
    this.line = stateLine();
    this.node = el(
      "figure",
      { id: "viewer", class: `viewer ${file.kind}` },
      shown,
      this.line.node,
      el("figcaption", { class: "viewer-links" }, download(file)),
    );
    this.state = null; // set by show()
  }

  /** Say `message` (an error when `failed`) under the media; hide the line when empty. */
  say(message, failed = false) {
    this.line.text.textContent = message ?? "";
    this.line.node.hidden = !message;
    this.line.node.classList.toggle("error", failed);
    this.line.bar.hidden = true;
  }

  waiting(progress) {
    const done = progress === null || progress === undefined ? "" : ` ${percent(progress)}`;
    this.say(`Preparing a ${this.what} copy…${done}`);
    if (progress !== null && progress !== undefined) {
      this.line.bar.hidden = false;
      this.line.bar.value = progress;
    }
  }

  failed(reason) {
    const what = this.what === "playable" ? "A playable copy" : "A display copy";
    const why = reason ?? "no reason given";
    this.say(`${what} could not be made: ${why}. Download the original.`, true);
  }

  /** Show `state` ({status, progress, error}); the media's source changes only when the
   * preview becomes ready. */
  show({ status, progress = null, error = null }) {
    this.state = status;
    this.node.dataset.preview = status;
    if (WAITING.has(status)) this.waiting(progress);
    else if (status === "failed") this.failed(error);
    else {
      this.say(null);
      if (status === "ready" || status === "original") this.load(status);
    }
  }

  load(status) {
    const src = status === "original" ? api.contentUrl(this.file.id) : api.previewUrl(this.file.id);
    if (this.shown.getAttribute("src") === src) return;
    this.shown.src = src;
    this.shown.classList.remove("stand-in");
  }

  /** True when what it shows is the preview (or the original), not a stand-in. */
  get loaded() {
    return this.state === "ready" || this.state === "original";
  }

  /** Ask the server, as often as it says, until the preview is ready or failed, or the viewer
   * has left the page. */
  async watch() {
    let wait = FIRST_WAIT_S;
    while (WAITING.has(this.state) && this.node.isConnected) {
      let answer;
      try {
        answer = await ask(this.file.id);
      } catch (error) {
        answer = { status: this.state, progress: null, wait: null }; // offline a moment
      }
      if (!this.node.isConnected) return;
      this.show(answer);
      if (!WAITING.has(answer.status)) return;
      await sleep(answer.wait ?? wait);
      wait = Math.min(LONGEST_WAIT_S, wait * 2);
    }
  }
}

/** The server's word on a preview that would not load: true when it is (again) being made or
 * failed, which the viewer then shows (and follows). */
async function recheck(viewer) {
  if (viewer.state !== "ready") return false;
  const answer = await ask(viewer.file.id).catch(() => null);
  if (!answer || answer.status === "ready") return false;
  viewer.show(answer);
  viewer.watch();
  return true;
}

/** When the player cannot play what it was given, say why: the server's reason when the copy
 * is being made again or failed, else the media error. */
function explainErrors(viewer, video) {
  video.addEventListener("error", async () => {
    const { code, message } = video.error ?? {};
    const what = viewer.state === "original" ? "This video" : "The playable copy";
    if (await recheck(viewer)) return;
    const why = MEDIA_ERRORS[code] ?? "an unknown error";
    const detail = message ? ` (${message})` : "";
    viewer.say(`${what} could not be played: ${why}${detail}. Download the original.`, true);
    viewer.node.dataset.preview = "error";
  });
}

/** What the media show, for those who cannot see them: the file's name and its context. */
export const describe = (file) => `${fileName(file.path)}: ${file.context ?? "no context"}`;

/** The <video>, its poster the thumbnail until the copy is ready. */
function videoViewer(file) {
  const video = el("video", {
    id: "player",
    controls: true,
    preload: "metadata",
    poster: file.thumbnail_url,
    tabindex: "0",
    "aria-label": `Video ${describe(file)}`,
  });
  const viewer = new Viewer(file, video, "playable");
  explainErrors(viewer, video);
  return viewer;
}

/** The full-resolution view of a still: the original over the page, fitted to it; a click (or
 * Enter) toggles between fitted and actual pixels; Esc or ✕ closes it. */
function fullView(file, opener) {
  const image = el("img", { id: "full", src: api.contentUrl(file.id), alt: file.path });
  const close = el("button", { type: "button", class: "zoom-close" }, "✕ close");
  const frame = el("div", { class: "zoom-frame", tabindex: "0" }, image);
  const hint = el("span", { class: "zoom-hint" }, "click: fit or 100%");
  const dialog = el(
    "div",
    { class: "zoom fitted", role: "dialog", "aria-modal": "true", "aria-label": "Full resolution" },
    el("div", { class: "zoom-bar" }, hint, close),
    frame,
  );
  const toggle = () => dialog.classList.toggle("fitted");
  const shut = () => {
    document.removeEventListener("keydown", keys, true);
    dialog.remove();
    opener.focus();
  };
  function keys(event) {
    if (event.key === "Escape") {
      event.preventDefault(); // the detail's own Esc (back to the list) waits for the next one
      event.stopPropagation();
      shut();
    } else if (event.key === "Enter" && event.target === frame) toggle();
  }
  image.addEventListener("click", toggle);
  close.addEventListener("click", shut);
  document.addEventListener("keydown", keys, true);
  document.body.append(dialog);
  frame.focus();
  return dialog;
}

/** The display-size copy of a still (its thumbnail until it is there), a "Full resolution"
 * control opening the original when the browser can show it. */
function stillViewer(file) {
  const picture = el("img", { id: "picture", alt: describe(file) });
  if (file.thumbnail_url) {
    picture.src = file.thumbnail_url; // at its own size, not stretched, until the copy is there
    picture.classList.add("stand-in");
  }
  const viewer = new Viewer(file, picture, "display");
  picture.addEventListener("error", async () => {
    if (!viewer.loaded || (await recheck(viewer))) return;
    viewer.say("This picture could not be shown. Download the original.", true);
    viewer.node.dataset.preview = "error";
  });
  if (SHOWN.has(file.format)) {
    const full = el("button", { type: "button", class: "full-resolution" }, "Full resolution");
    const open = () => fullView(file, full);
    full.addEventListener("click", open);
    picture.addEventListener("click", open);
    picture.classList.add("zoomable");
    viewer.node.querySelector(".viewer-links").prepend(full);
  }
  return viewer;
}

/** The file's media on the detail page: {node, player (the <video>, or null), watch(),
 * describe(text): its accessible name}; null for a file that is not an indexed picture or video.
 * Call `watch()` once `node` is on the page. */
export function viewer(file) {
  if (file.status !== "indexed" || (file.kind !== "video" && file.kind !== "image")) return null;
  const made = file.kind === "video" ? videoViewer(file) : stillViewer(file);
  made.show(initial(file));
  return {
    node: made.node,
    player: file.kind === "video" ? made.shown : null,
    watch: () => made.watch(),
    describe: (text) => {
      if (file.kind === "video") made.shown.setAttribute("aria-label", `Video ${text}`);
      else made.shown.alt = text;
    },
  };
}

/** The preview's state as the detail gives it: `null` (not queued yet) is asked for like a
 * pending one; an archive from before previews (no `preview_status`) shows the original where
 * the browser can, else the thumbnail. */
function initial(file) {
  if (file.preview_status === null) return { status: "pending" };
  if (file.preview_status !== undefined)
    return {
      status: file.preview_status,
      progress: file.preview_progress ?? null,
      error: file.preview_error ?? null,
    };
  if (file.kind === "video" || SHOWN.has(file.format)) return { status: "original" };
  return { status: "thumbnail" };
}
