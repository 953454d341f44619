// Small helpers every view shares: building DOM nodes (text is never parsed as HTML),
// formatting numbers and times, and a colour per context.

/** An element: `el("a", {href: "#"}, "text", child)`; `on*` attributes become listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const percent = (p) => (p === null || p === undefined ? "–" : `${Math.round(p * 100)}%`);

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function seconds(s) {
  if (s === null || s === undefined) return "–";
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

export const when = (iso) =>
  iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : "–";

export const fileName = (path) => path.split("/").pop();

// Dark enough for white text at >= 4.5:1 contrast (WCAG AA), distinct from each other.
const PALETTE = [
  "#1f5f8b",
  "#8a4b08",
  "#2d6a2f",
  "#6d3f98",
  "#9b2c4a",
  "#0f6b6b",
  "#5b5b1a",
  "#7a3b2e",
  "#35508c",
  "#8a2f8a",
];
const FIXED = {
  coast: "#1f5f8b",
  desert: "#8a4b08",
  forest: "#2d6a2f",
  glacier: "#0f6b6b",
  mountain: "#6d3f98",
  unknown: "#595959",
};

/** The colour of a context: fixed for the usual ones, else stable by its name. */
export function colour(context) {
  if (!context) return "#595959";
  if (FIXED[context]) return FIXED[context];
  let h = 0;
  for (const c of context) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/** A duration in seconds as m:ss (5:00), or h:mm:ss from an hour. */
export function clock(s) {
  if (s === null || s === undefined) return "–";
  const whole = Math.round(s);
  const [h, m, sec] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const mm = h ? `${h}:${String(m).padStart(2, "0")}` : String(m);
  return `${mm}:${String(sec).padStart(2, "0")}`;
}

/** The context badge of a file or list item. A video's (not corrected) says its label's share
 * of the video's time, "coast · 68% of 5:00": the first of its top-k and what its timeline adds
 * up to; the model's confidence is in its title. Anything else: the label and the confidence. */
export function fileBadge(item) {
  if (item.share === null || item.share === undefined || item.corrected)
    return badge(item.context, item.confidence);
  const node = badge(item.context, null);
  node.classList.add("share");
  node.title = `model confidence ${percent(item.confidence)}`;
  const share = ` · ${percent(item.share)} of ${clock(item.duration_s)}`;
  node.append(el("span", { class: "conf" }, share));
  return node;
}

/** The view the model saw a file from, as a small pill ("overhead"), its confidence in the
 * title; null where the model tells no views apart. */
export function viewPill(view, confidence) {
  if (!view) return null;
  const title = `view: ${view} (${percent(confidence)} confidence)`;
  return el("span", { class: `view-pill ${view}`, title, dataset: { view } }, view);
}

export function badge(context, confidence) {
  return el(
    "span",
    { class: "badge", style: `background:${colour(context)}` },
    context ?? "–",
    confidence === null || confidence === undefined
      ? null
      : el("span", { class: "conf" }, ` ${percent(confidence)}`),
  );
}

/** Replace a container's content with these nodes. */
export function show(container, ...nodes) {
  container.replaceChildren(...nodes.flat().filter(Boolean));
}
