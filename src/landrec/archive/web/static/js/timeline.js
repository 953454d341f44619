// A video's context timeline: its segments as a coloured bar under the player, each as wide as
// it lasts (never thinner than the eye sees), and a legend of the segments as buttons (targets a
// finger can hit); clicking a segment or its button (or Enter on it) seeks the player to its
// start.

import { colour, el, percent, seconds } from "./util.js";

/** The bar and legend for `segments` of a `duration`-second video, seeking `video`. */
export function timeline(segments, duration, video) {
  const timed = segments.filter((s) => s.start_s !== null && s.end_s !== null);
  if (!timed.length) return null;
  const total = duration || Math.max(...timed.map((s) => s.end_s)) || 1;
  const describe = (s) =>
    `${seconds(s.start_s)}–${seconds(s.end_s)} ${s.context ?? "–"} ${percent(s.confidence)}` +
    (s.view ? `, ${s.view} view ${percent(s.view_confidence)}` : "");
  // The bar is for the eye and the mouse; the legend's buttons say the same to everyone.
  const bar = el("div", { class: "timeline", "aria-hidden": "true" });
  for (const segment of timed) {
    const width = (100 * (segment.end_s - segment.start_s)) / total;
    bar.append(
      el(
        "div",
        {
          class: "segment",
          title: describe(segment),
          style: [
            `left:${(100 * segment.start_s) / total}%`,
            `width:${width}%`,
            `background:${colour(segment.context)}`,
          ].join(";"),
          dataset: {
            start: segment.start_s,
            end: segment.end_s,
            context: segment.context ?? "",
            view: segment.view ?? "",
          },
          onclick: () => seek(video, segment.start_s),
        },
        width > 8 ? segment.context : "",
      ),
    );
  }
  const cursor = el("div", { class: "cursor" });
  bar.append(cursor);
  video?.addEventListener("timeupdate", () => {
    cursor.style.left = `${Math.min(100, (100 * video.currentTime) / total)}%`;
  });
  const legend = el(
    "ol",
    { class: "segments", "aria-label": "Segments: seek to one" },
    ...timed.map((s) =>
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "seek",
            "aria-label": `Seek to ${describe(s)}`,
            dataset: { start: s.start_s, context: s.context ?? "" },
            onclick: () => seek(video, s.start_s),
          },
          el("span", { class: "swatch", style: `background:${colour(s.context)}` }),
          describe(s),
        ),
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
