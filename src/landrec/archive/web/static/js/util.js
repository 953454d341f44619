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
