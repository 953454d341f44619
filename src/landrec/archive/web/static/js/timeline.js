// A video's context timeline: its segments as a coloured bar under the player, each as wide
// as it lasts; clicking one (or Enter on it) seeks the player to its start.

import { colour, el, percent, seconds } from "./util.js";

/** The bar for `segments` of a `duration`-second video, seeking `video` when clicked. */
export function timeline(segments, duration, video) {
  const timed = segments.filter((s) => s.start_s !== null && s.end_s !== null);
  if (!timed.length) return null;
  const total = duration || Math.max(...timed.map((s) => s.end_s)) || 1;
  const bar = el("div", { class: "timeline", role: "group", "aria-label": "Context timeline" });
  for (const segment of timed) {
    const width = Math.max(0.5, (100 * (segment.end_s - segment.start_s)) / total);
    const span = `${seconds(segment.start_s)}–${seconds(segment.end_s)}`;
    const label = `${segment.context ?? "–"} ${span} (${percent(segment.confidence)})`;
    bar.append(
      el(
        "button",
        {
          type: "button",
          class: "segment",
          title: label,
          "aria-label": `Seek to ${label}`,
          style: [
            `left:${(100 * segment.start_s) / total}%`,
            `width:${width}%`,
            `background:${colour(segment.context)}`,
          ].join(";"),
          dataset: { start: segment.start_s, context: segment.context ?? "" },
          onclick: () => seek(video, segment.start_s),
        },
        width > 8 ? segment.context : "",
      ),
    );
  }
  const cursor = el("div", { class: "cursor", "aria-hidden": "true" });
  bar.append(cursor);
  video?.addEventListener("timeupdate", () => {
    cursor.style.left = `${Math.min(100, (100 * video.currentTime) / total)}%`;
  });
  const legend = el(
    "ol",
    { class: "segments" },
    ...timed.map((s) =>
      el(
        "li",
        {},
        el("span", { class: "swatch", style: `background:${colour(s.context)}` }),
        `${seconds(s.start_s)}–${seconds(s.end_s)} ${s.context ?? "–"} ${percent(s.confidence)}`,
      ),
    ),
  );
  return el("section", { class: "timeline-box" }, el("h3", {}, "Context timeline"), bar, legend);
}

function seek(video, start) {
  if (!video) return;
  // A segment's start may be at or past the last frame: stay inside the video.
  const end = Number.isFinite(video.duration) ? Math.max(0, video.duration - 0.05) : start;
  video.currentTime = Math.min(start, end);
  video.focus();
}
